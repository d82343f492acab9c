-- name: pace_vs_target
-- description: Pace against the annual target up to a day (inclusive; for today's pace pass yesterday, the last complete day), judged only on the days of that year the store covers completely (every 商圈 of the scope reported): actual over those days ÷ (target × the expected share of exactly those days) − 1. The expected daily shares come from last year's actual curve when last year is complete, else from the seasonal model (dim_calendar). No complete day → status 暂不评估 and no gap; no target → 无目标; a year after the last published target carries it forward at its last growth rate (target_note 推算). status: 领先 ahead / 符合进度 within ±2% / 落后 behind. metric: retail_sales | visits; scope: district (渝中区) or an area id such as jiefangbei.
-- columns: day, scope, metric, target, target_note, actual, expected_share, expected, gap, gap_pct, status, curve, first_day, last_day, days
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
        SELECT day, if({metric:String} = 'visits', model_visits_share, model_sales_share)
                    - lagInFrame(if({metric:String} = 'visits', model_visits_share, model_sales_share), 1, 0)
                      OVER (ORDER BY day ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS share
        FROM dim_calendar FINAL WHERE year = y
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
    t AS
    (
        SELECT countIf(year = y) > 0 AS has_exact, anyIf(toFloat64(value), year = y) AS exact,
               arraySort(groupArrayIf((year, toFloat64(value)), year < y)) AS past
        FROM v_targets WHERE scope = {scope:String} AND metric = {metric:String}
    ),
    (SELECT if(has_exact, exact, if(empty(past), NULL, past[-1].2
            * pow(if(length(past) >= 2 AND past[-2].1 + 1 = past[-1].1, past[-1].2 / past[-2].2, 1), y - past[-1].1))) FROM t) AS t_target,
    (SELECT multiIf(has_exact, '已公布', empty(past), '无目标', '推算') FROM t) AS t_note,
    j.1 AS t_days,
    if(t_days = 0, NULL, j.2) AS t_actual,
    if(t_days = 0, NULL, j.3) AS t_share,
    t_target * t_share AS t_expected,
    if(t_expected > 0, 100 * (t_actual / t_expected - 1), NULL) AS t_gap_pct
SELECT {day:Date} AS day, {scope:String} AS scope, {metric:String} AS metric, t_target AS target, t_note AS target_note,
       t_actual AS actual, round(t_share, 6) AS expected_share, round(t_expected, 2) AS expected,
       round(t_actual - t_expected, 2) AS gap, round(t_gap_pct, 2) AS gap_pct,
       multiIf(t_target IS NULL, '无目标', t_gap_pct IS NULL, '暂不评估', t_gap_pct > 2, '领先', t_gap_pct < -2, '落后', '符合进度')
           AS status,
       if(use_history, 'last_year', 'model') AS curve,
       if(t_days = 0, NULL, j.4) AS first_day, if(t_days = 0, NULL, j.5) AS last_day, t_days AS days
