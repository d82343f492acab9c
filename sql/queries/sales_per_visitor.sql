-- name: sales_per_visitor
-- description: 社零 per visit (元/人次) by 商圈 over [start, end).
-- columns: district, district_zh, amount, visits, yuan_per_visit
SELECT d.district AS district, d.name_zh AS district_zh,
       ifNull(s.amount, 0) AS amount, ifNull(f.visits, 0) AS visits,
       if(visits = 0, NULL, round(toFloat64(amount) / visits, 2)) AS yuan_per_visit
FROM dim_district AS d
LEFT JOIN (SELECT district, sum(amount) AS amount FROM sales_daily FINAL
           WHERE day >= {start:Date} AND day < {end:Date} GROUP BY district) AS s ON s.district = d.district
LEFT JOIN (SELECT district, sum(entries) AS visits FROM footfall_daily FINAL
           WHERE day >= {start:Date} AND day < {end:Date} GROUP BY district) AS f ON f.district = d.district
ORDER BY yuan_per_visit DESC NULLS LAST
