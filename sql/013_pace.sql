-- Pace against a target, defined once (sql/queries/pace_vs_target.sql, the dashboards' pace panels, the pace alert
-- rule, `yzmon status` and the live view select from these views; a test finds the formula nowhere else).
--
-- v_target(year, scope, metric): the year's target; after the last published one, carried forward at its last
-- growth rate (target_note 推算). v_expected_daily: each day's expected share of its year from the reference
-- seasonal curve (dim_calendar). v_pace(day, scope, metric): actual over the days up to `day` (inclusive) that
-- the store covers completely (every 商圈 of the scope reported) ÷ (target × the expected share of exactly those
-- days) − 1, with the expected shares from last year's actual curve when last year is complete, else the model.
CREATE VIEW IF NOT EXISTS v_target AS
SELECT if(has_exact, exact, if(empty(past), NULL, past[-1].2
           * pow(if(length(past) >= 2 AND past[-2].1 + 1 = past[-1].1, past[-1].2 / past[-2].2, 1), {year:UInt16} - past[-1].1)))
           AS target,
       toUInt8(NOT has_exact AND NOT empty(past)) AS projected,
       multiIf(has_exact, '已公布', empty(past), '无目标', '推算') AS target_note
FROM
(
    SELECT countIf(year = {year:UInt16}) > 0 AS has_exact, anyIf(toFloat64(value), year = {year:UInt16}) AS exact,
           arraySort(groupArrayIf((year, toFloat64(value)), year < {year:UInt16})) AS past
    FROM v_targets WHERE scope = {scope:String} AND metric = {metric:String}
);

CREATE VIEW IF NOT EXISTS v_expected_daily AS
SELECT day, year,
       model_sales_share - lagInFrame(model_sales_share, 1, 0) OVER w AS sales_share,
       model_visits_share - lagInFrame(model_visits_share, 1, 0) OVER w AS visits_share
FROM dim_calendar FINAL
WINDOW w AS (PARTITION BY year ORDER BY day ROWS BETWEEN 1 PRECEDING AND CURRENT ROW);

CREATE VIEW IF NOT EXISTS v_pace AS
WITH
    toYear({day:Date}) AS y,
    (SELECT groupArray(district) FROM dim_district FINAL WHERE {scope:String} = 'district' OR area = {scope:String}
        OR district = {scope:String}) AS in_scope,
    daily AS
    (
        SELECT day AS d, toFloat64(sum(amount)) AS v FROM sales_daily FINAL
        WHERE {metric:String} = 'retail_sales' AND has(in_scope, district) AND toYear(day) IN (y, y - 1) AND day <= {day:Date}
        GROUP BY day HAVING uniqExact(district) >= length(in_scope)
        UNION ALL
        SELECT day AS d, toFloat64(sum(entries)) AS v FROM footfall_daily FINAL
        WHERE {metric:String} = 'visits' AND has(in_scope, district) AND toYear(day) IN (y, y - 1) AND day <= {day:Date}
        GROUP BY day HAVING uniqExact(district) >= length(in_scope)
    ),
    (SELECT countIf(toYear(d) = y - 1) FROM daily) AS history_days,
    history_days >= 365 AS use_history,
    model AS
    (
        SELECT day, if({metric:String} = 'visits', visits_share, sales_share) AS share FROM v_expected_daily WHERE year = y
    ),
    history AS
    (
        SELECT toDayOfYear(d) AS doy, v / (SELECT sumIf(v, toYear(d) = y - 1) FROM daily) AS share
        FROM daily WHERE toYear(d) = y - 1
    ),
    judged AS
    (
        SELECT c.d AS d, c.v AS v, if(use_history, h.share, m.share) AS share
        FROM (SELECT d, v FROM daily WHERE toYear(d) = y) AS c
        LEFT JOIN model AS m ON m.day = c.d
        LEFT JOIN history AS h ON h.doy = toDayOfYear(c.d)
    ),
    (SELECT (count(), sum(v), sum(share), min(d), max(d)) FROM judged) AS j,
    (SELECT (target, projected, target_note) FROM v_target(year = toYear({day:Date}), scope = {scope:String},
                                                           metric = {metric:String})) AS t,
    j.1 AS t_days,
    if(t_days = 0, NULL, j.2) AS t_actual,
    if(t_days = 0, NULL, j.3) AS t_share,
    t.1 * t_share AS t_expected,
    if(t_expected > 0, 100 * (t_actual / t_expected - 1), NULL) AS t_gap_pct
SELECT t.1 AS target, t.2 AS projected, t.3 AS target_note, t_actual AS actual, t_share AS expected_share,
       t_expected AS expected, t_gap_pct AS gap_pct,
       multiIf(t.1 IS NULL, '无目标', t_gap_pct IS NULL, '暂不评估', t_gap_pct > 2, '领先', t_gap_pct < -2, '落后', '符合进度')
           AS status,
       if(use_history, 'last_year', 'model') AS curve,
       if(t_days = 0, NULL, j.4) AS first_day, if(t_days = 0, NULL, j.5) AS last_day, t_days AS days;
