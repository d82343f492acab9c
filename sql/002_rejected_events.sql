-- Events the worker refused, with the original payload and the reason. Identical bytes on the
-- same topic are one rejected record: a redelivery after a crash, or a replay of the same range,
-- collapses into the first row (dedup key: topic, payload hash).
CREATE TABLE IF NOT EXISTS rejected_events
(
    topic          LowCardinality(String) COMMENT '来源主题',
    kafka_partition UInt16 COMMENT 'Kafka分区',
    kafka_offset   UInt64 COMMENT 'Kafka偏移量',
    reason         LowCardinality(String) COMMENT '拒收原因代码',
    detail         String COMMENT '拒收详情',
    payload        String COMMENT '原始消息',
    payload_hash   UInt64 MATERIALIZED cityHash64(payload) COMMENT '原始消息哈希',
    received_at    DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '接收时间'
)
ENGINE = ReplacingMergeTree(received_at)
ORDER BY (topic, payload_hash);
