-- The calendar (Asia/Shanghai days, holidays aligned by holiday day, the model's seasonal curve),
-- synced from the simulator model by `yzmon db migrate`, and the analyst views over the rollups.
CREATE TABLE IF NOT EXISTS dim_calendar
(
    day                Date COMMENT '日期',
    year               UInt16 COMMENT '年',
    month              UInt8 COMMENT '月',
    weekday            UInt8 COMMENT '星期(1=周一)',
    is_weekend         UInt8 COMMENT '是否周末',
    holiday            String COMMENT '节假日: spring_festival 春节 / labour_day 五一 / national_day 国庆 / new_years_eve 跨年夜',
    holiday_zh         String COMMENT '节假日名称',
    holiday_day        UInt8 COMMENT '节假日第几天(用于跨年对齐)',
    model_sales_share  Float64 COMMENT '模型: 截至当日社零占全年比例',
    model_visits_share Float64 COMMENT '模型: 截至当日客流占全年比例'
)
ENGINE = ReplacingMergeTree ORDER BY day;

CREATE VIEW IF NOT EXISTS v_targets AS
SELECT year, scope, metric, argMax(value, version) AS value, argMax(unit, version) AS unit,
       argMax(source, version) AS source, max(version) AS latest_version
FROM targets GROUP BY year, scope, metric;

CREATE VIEW IF NOT EXISTS v_sales_daily AS
SELECT s.day AS day, s.district AS district, d.name_zh AS district_zh, d.area AS area, d.area_zh AS area_zh,
       s.sector AS sector, k.name_zh AS sector_zh, s.amount AS amount, s.txn_count AS txn_count
FROM sales_daily AS s FINAL
LEFT JOIN dim_district AS d ON d.district = s.district
LEFT JOIN dim_sector AS k ON k.sector = s.sector;

CREATE VIEW IF NOT EXISTS v_footfall_daily AS
SELECT f.day AS day, f.district AS district, d.name_zh AS district_zh, d.area AS area, d.area_zh AS area_zh,
       f.entries AS entries, f.exits AS exits, f.peak_occupancy AS peak_occupancy
FROM footfall_daily AS f FINAL
LEFT JOIN dim_district AS d ON d.district = f.district;

CREATE VIEW IF NOT EXISTS v_tourists_daily AS
SELECT t.day AS day, t.district AS district, d.name_zh AS district_zh, t.origin AS origin, o.name_zh AS origin_zh,
       t.arrivals AS arrivals, t.spend AS spend
FROM tourists_daily AS t FINAL
LEFT JOIN dim_district AS d ON d.district = t.district
LEFT JOIN dim_origin AS o ON o.origin = t.origin;
