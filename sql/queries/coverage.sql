-- name: coverage
-- description: What the store covers, per feed and year: first and last day with data, days with data, the days in that span, and complete days (every 商圈 reported). A figure over a period the store does not cover reads as missing, not as zero.
-- columns: feed, year, first_day, last_day, days_covered, span_days, complete_days
SELECT feed, year, min(day) AS first_day, max(day) AS last_day, count() AS days_covered,
       toUInt32(dateDiff('day', first_day, last_day) + 1) AS span_days,
       countIf(reporting >= (SELECT count() FROM dim_district FINAL)) AS complete_days
FROM
(
    SELECT 'sales' AS feed, day, toYear(day) AS year, uniqExact(district) AS reporting FROM sales_daily FINAL GROUP BY day
    UNION ALL
    SELECT 'footfall' AS feed, day, toYear(day) AS year, uniqExact(district) AS reporting FROM footfall_daily FINAL GROUP BY day
    UNION ALL
    SELECT 'tourists' AS feed, day, toYear(day) AS year, uniqExact(district) AS reporting FROM tourists_daily FINAL GROUP BY day
)
GROUP BY feed, year
ORDER BY feed, year
