-- The sample per merchant and day (样本), the base of comparable growth (同口径): a merchant counts in a
-- growth only on the days it reported in both years (sql/queries/comparable_growth.sql, nowcast.sql).
CREATE VIEW IF NOT EXISTS v_sales_merchant_daily AS
SELECT toDate(event_time, 'Asia/Shanghai') AS day, district, sector, merchant_group, source, sum(amount) AS amount
FROM sales_raw FINAL
GROUP BY day, district, sector, merchant_group, source;

-- Comparable (同口径) pairs: a merchant's day and the same day a year earlier, when it reported on both (each
-- day's sales counted again on the same day a year later, then grouped: no join of two sharded reads). A
-- comparable growth over any days is sum(amount) / sum(amount_last_year) − 1 of the pairs on those days: merchants
-- that joined or left, and days a provider lost, never read as growth or decline.
CREATE VIEW IF NOT EXISTS v_sales_comparable AS
SELECT day, district, sector, merchant_group, toFloat64(sumIf(v, shift = 0)) AS amount,
       toFloat64(sumIf(v, shift = 1)) AS amount_last_year
FROM
(
    SELECT arrayJoin([0, 1]) AS shift, addYears(m.day, shift) AS day, m.district AS district, m.sector AS sector,
           m.merchant_group AS merchant_group, m.amount AS v
    FROM v_sales_merchant_daily AS m
    WHERE NOT (shift = 1 AND toMonth(m.day) = 2 AND toDayOfMonth(m.day) = 29)  -- 29 February has no day a year later
)
GROUP BY day, district, sector, merchant_group
HAVING countIf(shift = 0) > 0 AND countIf(shift = 1) > 0;

-- How far the nowcast (推算) was from the bureau's first release in the back-test (python -m benchmarks.nowcast),
-- per period kind, method and horizon (the month of the as-of day: 1–3 within a quarter, 1–12 within the
-- year): the interval is the estimate × (1 ± rel_error). Synced from schemas/reference/nowcast_errors.json.
CREATE TABLE IF NOT EXISTS dim_nowcast_error
(
    kind      String COMMENT '期别: quarter 本季累计 / year 全年',
    method    String COMMENT '方法: sample 同口径样本 / carry 官方增速顺延',
    horizon   UInt8 COMMENT '推算日所在月: 季内第几月(1–3)或年内月份(1–12)',
    rel_error Float64 COMMENT '回测误差的90%分位(相对值)',
    source    String COMMENT '出处(回测命令与结果)'
)
ENGINE = ReplacingMergeTree ORDER BY (kind, method, horizon);

-- Each first release reconciled with the nowcast that stood the day before it was published (written with
-- the release by yzcore.official.import_releases).
CREATE TABLE IF NOT EXISTS nowcast_reconciliation
(
    year        UInt16 COMMENT '年份',
    end_month   UInt8 COMMENT '累计期末月',
    basis       String COMMENT '口径ID',
    published   Date COMMENT '发布日期',
    official    Decimal(20, 2) COMMENT '官方累计值(元)',
    nowcast     Nullable(Float64) COMMENT '发布前一日的推算(元)',
    low         Nullable(Float64) COMMENT '推算区间下限(元)',
    high        Nullable(Float64) COMMENT '推算区间上限(元)',
    method      String COMMENT '推算方法',
    error_pct   Nullable(Float64) COMMENT '推算误差(%): 推算 ÷ 官方 − 1',
    recorded_at DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '记录时间'
)
ENGINE = ReplacingMergeTree(recorded_at) ORDER BY (basis, year, end_month);
