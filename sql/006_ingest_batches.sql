-- One row per landed batch and Kafka partition: what the worker took, accepted, refused and found
-- late, and when. Feeds the pipeline dashboard (events per second, freshness, late events).
-- A batch retried after a crash has the same (topic, partition, first offset) and collapses.
CREATE TABLE IF NOT EXISTS ingest_batches
(
    topic           LowCardinality(String) COMMENT '来源主题',
    kafka_partition UInt16 COMMENT 'Kafka分区',
    first_offset    UInt64 COMMENT '批次起始偏移量',
    last_offset     UInt64 COMMENT '批次结束偏移量',
    records         UInt32 COMMENT '消息数',
    accepted        UInt32 COMMENT '入库事件数',
    rejected        UInt32 COMMENT '拒收数',
    late            UInt32 COMMENT '迟到事件数(早于水位线减允许延迟)',
    min_event_time  DateTime64(3, 'Asia/Shanghai') COMMENT '最早事件时间',
    max_event_time  DateTime64(3, 'Asia/Shanghai') COMMENT '最晚事件时间',
    landed_at       DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '入库时间'
)
ENGINE = ReplacingMergeTree(landed_at)
ORDER BY (topic, kafka_partition, first_offset)
TTL toDateTime(landed_at) + INTERVAL 90 DAY;
