-- name: night_share
-- description: Night-economy share of 社零 by 商圈: 18:00–06:00 local time, the published 夜间经济 window (市商务委), over the business days (06:00 to 06:00) of [start, end).
-- columns: district, district_zh, amount, night_amount, night_share_pct
SELECT s.district AS district, d.name_zh AS district_zh, sum(s.amount) AS amount,
       sumIf(s.amount, toHour(s.hour) >= 18 OR toHour(s.hour) < 6) AS night_amount,
       if(amount = 0, NULL, round(100 * toFloat64(night_amount) / toFloat64(amount), 2)) AS night_share_pct
FROM sales_hourly AS s FINAL
LEFT JOIN dim_district AS d ON d.district = s.district
WHERE s.hour >= toDateTime({start:Date}, 'Asia/Shanghai') + INTERVAL 6 HOUR
  AND s.hour < toDateTime({end:Date}, 'Asia/Shanghai') + INTERVAL 6 HOUR
GROUP BY district, district_zh
ORDER BY night_share_pct DESC
