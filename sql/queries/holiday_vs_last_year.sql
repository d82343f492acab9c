-- name: holiday_vs_last_year
-- description: A holiday day by day against the same holiday last year, aligned by holiday day (春节 follows the lunar calendar). holiday: spring_festival | labour_day | national_day | new_years_eve.
-- columns: holiday_day, day, last_year_day, amount, last_year_amount, amount_change_pct, visits, last_year_visits, visits_change_pct, tourists, last_year_tourists
WITH days AS
(
    SELECT day, year, holiday_day FROM dim_calendar
    WHERE holiday = {holiday:String} AND year IN ({year:UInt16}, {year:UInt16} - 1)
),
sales AS (SELECT day, sum(amount) AS a FROM sales_daily FINAL WHERE day IN (SELECT day FROM days) GROUP BY day),
visits AS (SELECT day, sum(entries) AS v FROM footfall_daily FINAL WHERE day IN (SELECT day FROM days) GROUP BY day),
tourists AS (SELECT day, sum(arrivals) AS n FROM tourists_daily FINAL WHERE day IN (SELECT day FROM days) GROUP BY day),
per_day AS
(
    SELECT c.year AS y, c.holiday_day AS h, c.day AS d, ifNull(s.a, 0) AS a, ifNull(v.v, 0) AS v, ifNull(t.n, 0) AS n
    FROM days AS c
    LEFT JOIN sales AS s ON s.day = c.day
    LEFT JOIN visits AS v ON v.day = c.day
    LEFT JOIN tourists AS t ON t.day = c.day
)
SELECT h AS holiday_day,
       anyIf(d, y = {year:UInt16}) AS day, anyIf(d, y = {year:UInt16} - 1) AS last_year_day,
       sumIf(a, y = {year:UInt16}) AS amount, sumIf(a, y = {year:UInt16} - 1) AS last_year_amount,
       if(last_year_amount = 0, NULL, round(100 * (toFloat64(amount) / toFloat64(last_year_amount) - 1), 2))
           AS amount_change_pct,
       sumIf(v, y = {year:UInt16}) AS visits, sumIf(v, y = {year:UInt16} - 1) AS last_year_visits,
       if(last_year_visits = 0, NULL, round(100 * (visits / last_year_visits - 1), 2)) AS visits_change_pct,
       sumIf(n, y = {year:UInt16}) AS tourists, sumIf(n, y = {year:UInt16} - 1) AS last_year_tourists
FROM per_day
GROUP BY h
ORDER BY holiday_day
