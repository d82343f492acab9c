-- name: holiday_vs_last_year
-- description: A holiday in its official window (国务院办公厅 notice, dim_calendar) day by day against the same holiday last year, aligned by day of holiday (1 = the first day off; 春节 by its window, which follows the lunar calendar). Windows of different lengths (2023's eight-day 中秋国庆 against 2024's seven-day 国庆) also compare by their per-day averages (days, avg_*: the same on every row); a day with no counterpart compares with nothing (NULL). holiday: new_years_day | spring_festival | qingming | labour_day | dragon_boat | mid_autumn | national_day; year: the holiday's year (元旦 2024 starts on 2023-12-30).
-- columns: holiday_day, day, last_year_day, amount, last_year_amount, amount_change_pct, visits, last_year_visits, visits_change_pct, tourists, last_year_tourists, days, last_year_days, avg_amount_change_pct, avg_visits_change_pct
WITH days AS
(
    SELECT day, holiday_year AS year, holiday_day FROM dim_calendar FINAL
    WHERE holiday = {holiday:String} AND holiday_year IN ({year:UInt16}, {year:UInt16} - 1)
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
),
windows AS
(
    SELECT countIf(y = {year:UInt16}) AS n_cur, countIf(y = {year:UInt16} - 1) AS n_prev,
           sumIf(a, y = {year:UInt16}) / nullIf(n_cur, 0) AS a_cur, sumIf(a, y = {year:UInt16} - 1) / nullIf(n_prev, 0) AS a_prev,
           sumIf(v, y = {year:UInt16}) / nullIf(n_cur, 0) AS v_cur, sumIf(v, y = {year:UInt16} - 1) / nullIf(n_prev, 0) AS v_prev
    FROM per_day
),
aligned AS
(
    SELECT h AS holiday_day,
           if(countIf(y = {year:UInt16}) = 0, NULL, anyIf(d, y = {year:UInt16})) AS day,
           if(countIf(y = {year:UInt16} - 1) = 0, NULL, anyIf(d, y = {year:UInt16} - 1)) AS last_year_day,
           sumIf(a, y = {year:UInt16}) AS amount, sumIf(a, y = {year:UInt16} - 1) AS last_year_amount,
           if(last_year_amount = 0 OR day IS NULL, NULL,
              round(100 * (toFloat64(amount) / toFloat64(last_year_amount) - 1), 2)) AS amount_change_pct,
           sumIf(v, y = {year:UInt16}) AS visits, sumIf(v, y = {year:UInt16} - 1) AS last_year_visits,
           if(last_year_visits = 0 OR day IS NULL, NULL, round(100 * (visits / last_year_visits - 1), 2)) AS visits_change_pct,
           sumIf(n, y = {year:UInt16}) AS tourists, sumIf(n, y = {year:UInt16} - 1) AS last_year_tourists
    FROM per_day
    GROUP BY h
)
SELECT holiday_day, day, last_year_day, amount, last_year_amount, amount_change_pct, visits, last_year_visits,
       visits_change_pct, tourists, last_year_tourists, w.n_cur AS days, w.n_prev AS last_year_days,
       if(ifNull(w.a_prev, 0) = 0, NULL, round(100 * (toFloat64(w.a_cur) / toFloat64(w.a_prev) - 1), 2)) AS avg_amount_change_pct,
       if(ifNull(w.v_prev, 0) = 0, NULL, round(100 * (w.v_cur / w.v_prev - 1), 2)) AS avg_visits_change_pct
FROM aligned CROSS JOIN windows AS w
ORDER BY holiday_day
