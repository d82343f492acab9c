-- name: pace_vs_target
-- description: Year to date against the annual target on a day: the expected cumulative share comes from last year's actual daily curve when last year has data for at least 300 days, else from the simulator's seasonal model (dim_calendar). status: 领先 ahead / 符合进度 on track (within ±2%) / 落后 behind. metric: retail_sales | visits; scope: district (渝中区) or an area id such as jiefangbei.
-- columns: day, scope, metric, target, actual, expected_share, expected, gap, gap_pct, status, curve
WITH
    toYear({day:Date}) AS y,
    (SELECT any(value) FROM v_targets WHERE year = y AND scope = {scope:String} AND metric = {metric:String}) AS t_target,
    (SELECT groupArray(district) FROM dim_district WHERE {scope:String} = 'district' OR area = {scope:String}
        OR district = {scope:String}) AS in_scope,
    daily AS
    (
        SELECT day AS d, toFloat64(sum(amount)) AS v FROM sales_daily FINAL
        WHERE {metric:String} = 'retail_sales' AND has(in_scope, district) AND toYear(day) IN (y, y - 1)
        GROUP BY day
        UNION ALL
        SELECT day AS d, toFloat64(sum(entries)) AS v FROM footfall_daily FINAL
        WHERE {metric:String} = 'visits' AND has(in_scope, district) AND toYear(day) IN (y, y - 1)
        GROUP BY day
    ),
    (SELECT sumIf(v, toYear(d) = y AND d <= {day:Date}) FROM daily) AS t_actual,
    (SELECT countIf(toYear(d) = y - 1) FROM daily) AS history_days,
    (SELECT sumIf(v, toYear(d) = y - 1 AND toDayOfYear(d) <= toDayOfYear({day:Date}))
            / nullIf(sumIf(v, toYear(d) = y - 1), 0) FROM daily) AS history_share,
    (SELECT any(if({metric:String} = 'visits', model_visits_share, model_sales_share)) FROM dim_calendar
        WHERE day = {day:Date}) AS model_share,
    if(history_days >= 300, history_share, model_share) AS t_share,
    toFloat64(t_target) * t_share AS t_expected,
    100 * (t_actual / t_expected - 1) AS t_gap_pct
SELECT {day:Date} AS day, {scope:String} AS scope, {metric:String} AS metric, toFloat64(t_target) AS target,
       t_actual AS actual, round(t_share, 6) AS expected_share, round(t_expected, 2) AS expected,
       round(t_actual - t_expected, 2) AS gap, round(t_gap_pct, 2) AS gap_pct,
       multiIf(t_gap_pct > 2, '领先', t_gap_pct < -2, '落后', '符合进度') AS status,
       if(history_days >= 300, 'last_year', 'model') AS curve
