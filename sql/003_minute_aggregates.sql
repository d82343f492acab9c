-- 1-minute tumbling aggregates written by the stream worker. After each batch lands in the raw
-- tables the worker recomputes every minute the batch touched from the deduplicated raw rows and
-- writes the result with a newer computed_at: the latest version of a minute always equals raw.
-- Read with FINAL.
CREATE TABLE IF NOT EXISTS sales_agg_1m
(
    minute      DateTime('Asia/Shanghai') COMMENT '分钟',
    district    LowCardinality(String) COMMENT '商圈ID',
    sector      LowCardinality(String) COMMENT '行业',
    amount      Decimal(18, 2) COMMENT '销售额(元)',
    txn_count   UInt64 COMMENT '交易笔数',
    events      UInt64 COMMENT '事件数',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(minute)
ORDER BY (district, sector, minute);

-- occupancy = entries minus exits since the latest 06:00 Asia/Shanghai (the business day, see 009), at the
-- end of the minute.
CREATE TABLE IF NOT EXISTS footfall_agg_1m
(
    minute      DateTime('Asia/Shanghai') COMMENT '分钟',
    district    LowCardinality(String) COMMENT '商圈ID',
    entries     UInt64 COMMENT '进入人次',
    exits       UInt64 COMMENT '离开人次',
    occupancy   Int64 COMMENT '在场人数(当日累计进入-离开)',
    events      UInt64 COMMENT '事件数',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(minute)
ORDER BY (district, minute);

CREATE TABLE IF NOT EXISTS tourists_agg_1m
(
    minute      DateTime('Asia/Shanghai') COMMENT '分钟',
    district    LowCardinality(String) COMMENT '商圈ID',
    origin      LowCardinality(String) COMMENT '客源地',
    arrivals    UInt64 COMMENT '到访游客人次',
    spend       Decimal(18, 2) COMMENT '游客消费(元)',
    events      UInt64 COMMENT '事件数',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(minute)
ORDER BY (district, origin, minute);
