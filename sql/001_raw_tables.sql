-- Raw events of the three feeds, one row per accepted event.
-- ReplacingMergeTree on (district, event_time, event_id): a redelivered or replayed event collapses
-- into one row. Read with FINAL (the analyst views in 005 do) for exact totals.
CREATE TABLE IF NOT EXISTS sales_raw
(
    event_id       String COMMENT '事件ID',
    event_time     DateTime64(3, 'Asia/Shanghai') COMMENT '事件时间',
    district       LowCardinality(String) COMMENT '商圈ID',
    sector         LowCardinality(String) COMMENT '行业: wholesale 批发 / retail 零售 / catering 餐饮 / lodging 住宿',
    merchant_group String COMMENT '商户组',
    channel        LowCardinality(String) COMMENT '渠道: in_store 到店 / delivery 配送',
    amount         Decimal(18, 2) COMMENT '销售额(元)',
    txn_count      UInt32 COMMENT '交易笔数',
    source         LowCardinality(String) COMMENT '数据来源',
    kafka_partition UInt16 COMMENT 'Kafka分区',
    kafka_offset   UInt64 COMMENT 'Kafka偏移量',
    ingested_at    DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '入库时间'
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (district, event_time, event_id);

CREATE TABLE IF NOT EXISTS footfall_raw
(
    event_id       String COMMENT '事件ID',
    event_time     DateTime64(3, 'Asia/Shanghai') COMMENT '事件时间',
    district       LowCardinality(String) COMMENT '商圈ID',
    gate           String COMMENT '计数点',
    entries        UInt32 COMMENT '进入人次',
    exits          UInt32 COMMENT '离开人次',
    source         LowCardinality(String) COMMENT '数据来源',
    kafka_partition UInt16 COMMENT 'Kafka分区',
    kafka_offset   UInt64 COMMENT 'Kafka偏移量',
    ingested_at    DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '入库时间'
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (district, event_time, event_id);

CREATE TABLE IF NOT EXISTS tourists_raw
(
    event_id       String COMMENT '事件ID',
    event_time     DateTime64(3, 'Asia/Shanghai') COMMENT '事件时间',
    district       LowCardinality(String) COMMENT '商圈ID',
    origin         LowCardinality(String) COMMENT '客源地: chongqing 市内 / chengdu 成都 / sichuan_other 四川其他 / other_province 其他省份 / overseas 境外',
    arrivals       UInt32 COMMENT '到访游客人次',
    spend          Decimal(18, 2) COMMENT '游客消费(元)',
    source         LowCardinality(String) COMMENT '数据来源',
    kafka_partition UInt16 COMMENT 'Kafka分区',
    kafka_offset   UInt64 COMMENT 'Kafka偏移量',
    ingested_at    DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '入库时间'
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (district, event_time, event_id);
