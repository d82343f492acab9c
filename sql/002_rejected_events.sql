-- Events the worker refused, with the original payload and the reason. One row per Kafka record:
-- a record redelivered after a crash has the same (topic, partition, offset) and collapses.
CREATE TABLE IF NOT EXISTS rejected_events
(
    topic          LowCardinality(String) COMMENT '来源主题',
    kafka_partition UInt16 COMMENT 'Kafka分区',
    kafka_offset   UInt64 COMMENT 'Kafka偏移量',
    reason         LowCardinality(String) COMMENT '拒收原因代码',
    detail         String COMMENT '拒收详情',
    payload        String COMMENT '原始消息',
    received_at    DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '接收时间'
)
ENGINE = ReplacingMergeTree(received_at)
ORDER BY (topic, kafka_partition, kafka_offset);
