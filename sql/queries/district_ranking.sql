-- name: district_ranking
-- description: 商圈 ranked by 社零 over [start, end), with visits, tourists and share of the district.
-- columns: rank, district, district_zh, area_zh, amount, share_pct, visits, tourists
SELECT row_number() OVER (ORDER BY amount DESC) AS rank, d.district AS district, d.name_zh AS district_zh,
       d.area_zh AS area_zh, ifNull(s.amount, 0) AS amount,
       round(100 * toFloat64(amount) / sum(toFloat64(amount)) OVER (), 2) AS share_pct,
       ifNull(f.visits, 0) AS visits, ifNull(t.tourists, 0) AS tourists
FROM dim_district AS d
LEFT JOIN (SELECT district, sum(amount) AS amount FROM sales_daily FINAL
           WHERE day >= {start:Date} AND day < {end:Date} GROUP BY district) AS s ON s.district = d.district
LEFT JOIN (SELECT district, sum(entries) AS visits FROM footfall_daily FINAL
           WHERE day >= {start:Date} AND day < {end:Date} GROUP BY district) AS f ON f.district = d.district
LEFT JOIN (SELECT district, sum(arrivals) AS tourists FROM tourists_daily FINAL
           WHERE day >= {start:Date} AND day < {end:Date} GROUP BY district) AS t ON t.district = d.district
ORDER BY rank
