-- name: pace_vs_target
-- description: Pace against the annual target up to a day (inclusive; for today's pace pass yesterday, the last complete day), judged only on the days of that year the store covers completely (every 商圈 of the scope reported): actual over those days ÷ (target × the expected share of exactly those days) − 1. The expected daily shares come from last year's actual curve when last year is complete, else from the seasonal model (dim_calendar). No complete day → status 暂不评估 and no gap; no target → 无目标; a year after the last published target carries it forward at its last growth rate (target_note 推算). status: 领先 ahead / 符合进度 within ±2% / 落后 behind. metric: retail_sales | visits; scope: district (渝中区) or an area id such as jiefangbei. Pace is defined once, in the view v_pace (sql/013_pace.sql).
-- columns: day, scope, metric, target, target_note, actual, expected_share, expected, gap, gap_pct, status, curve, first_day, last_day, days
SELECT {day:Date} AS day, {scope:String} AS scope, {metric:String} AS metric, target, target_note, actual,
       round(expected_share, 6) AS expected_share, round(expected, 2) AS expected, round(actual - expected, 2) AS gap,
       round(gap_pct, 2) AS gap_pct, status, curve, first_day, last_day, days
FROM v_pace(day = {day:Date}, scope = {scope:String}, metric = {metric:String})
