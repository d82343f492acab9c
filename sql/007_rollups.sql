-- Hour, day and month rollups, refreshed by the worker after the minute aggregates: each level is
-- recomputed for the buckets a batch touched from the level below (read with FINAL), so every
-- level equals the raw data. ReplacingMergeTree versioned by computed_at; read with FINAL.
CREATE TABLE IF NOT EXISTS sales_hourly
(
    hour        DateTime('Asia/Shanghai') COMMENT '小时',
    district    LowCardinality(String) COMMENT '商圈ID',
    sector      LowCardinality(String) COMMENT '行业',
    amount      Decimal(18, 2) COMMENT '销售额(元)',
    txn_count   UInt64 COMMENT '交易笔数',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(hour) ORDER BY (district, sector, hour);

CREATE TABLE IF NOT EXISTS sales_daily
(
    day         Date COMMENT '日期(北京时间)',
    district    LowCardinality(String) COMMENT '商圈ID',
    sector      LowCardinality(String) COMMENT '行业',
    amount      Decimal(18, 2) COMMENT '销售额(元)',
    txn_count   UInt64 COMMENT '交易笔数',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYear(day) ORDER BY (district, sector, day);

CREATE TABLE IF NOT EXISTS sales_monthly
(
    month       Date COMMENT '月份(当月1日)',
    district    LowCardinality(String) COMMENT '商圈ID',
    sector      LowCardinality(String) COMMENT '行业',
    amount      Decimal(18, 2) COMMENT '销售额(元)',
    txn_count   UInt64 COMMENT '交易笔数',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) ORDER BY (district, sector, month);

CREATE TABLE IF NOT EXISTS footfall_hourly
(
    hour           DateTime('Asia/Shanghai') COMMENT '小时',
    district       LowCardinality(String) COMMENT '商圈ID',
    entries        UInt64 COMMENT '进入人次',
    exits          UInt64 COMMENT '离开人次',
    peak_occupancy Int64 COMMENT '小时内最高在场人数',
    computed_at    DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(hour) ORDER BY (district, hour);

CREATE TABLE IF NOT EXISTS footfall_daily
(
    day            Date COMMENT '日期(北京时间)',
    district       LowCardinality(String) COMMENT '商圈ID',
    entries        UInt64 COMMENT '进入人次',
    exits          UInt64 COMMENT '离开人次',
    peak_occupancy Int64 COMMENT '当日最高在场人数',
    computed_at    DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYear(day) ORDER BY (district, day);

CREATE TABLE IF NOT EXISTS footfall_monthly
(
    month          Date COMMENT '月份(当月1日)',
    district       LowCardinality(String) COMMENT '商圈ID',
    entries        UInt64 COMMENT '进入人次',
    exits          UInt64 COMMENT '离开人次',
    peak_occupancy Int64 COMMENT '当月最高在场人数',
    computed_at    DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) ORDER BY (district, month);

CREATE TABLE IF NOT EXISTS tourists_daily
(
    day         Date COMMENT '日期(北京时间)',
    district    LowCardinality(String) COMMENT '商圈ID',
    origin      LowCardinality(String) COMMENT '客源地',
    arrivals    UInt64 COMMENT '到访游客人次',
    spend       Decimal(18, 2) COMMENT '游客消费(元)',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYear(day) ORDER BY (district, origin, day);

CREATE TABLE IF NOT EXISTS tourists_monthly
(
    month       Date COMMENT '月份(当月1日)',
    district    LowCardinality(String) COMMENT '商圈ID',
    origin      LowCardinality(String) COMMENT '客源地',
    arrivals    UInt64 COMMENT '到访游客人次',
    spend       Decimal(18, 2) COMMENT '游客消费(元)',
    computed_at DateTime64(6, 'Asia/Shanghai') COMMENT '计算时间'
)
ENGINE = ReplacingMergeTree(computed_at) ORDER BY (district, origin, month);
