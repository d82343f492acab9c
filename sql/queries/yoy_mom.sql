-- name: yoy_mom
-- description: 同比 / 环比: 社零 of a month by 商圈 and sector, against the previous month and the same month last year.
-- columns: district, district_zh, sector, sector_zh, amount, prev_month_amount, last_year_amount, mom_pct, yoy_pct
SELECT
    s.district AS district, d.name_zh AS district_zh, s.sector AS sector, k.name_zh AS sector_zh,
    sumIf(s.amount, s.month = toStartOfMonth({month:Date})) AS amount,
    sumIf(s.amount, s.month = toStartOfMonth({month:Date}) - INTERVAL 1 MONTH) AS prev_month_amount,
    sumIf(s.amount, s.month = toStartOfMonth({month:Date}) - INTERVAL 1 YEAR) AS last_year_amount,
    if(prev_month_amount = 0, NULL, round(100 * (toFloat64(amount) / toFloat64(prev_month_amount) - 1), 2)) AS mom_pct,
    if(last_year_amount = 0, NULL, round(100 * (toFloat64(amount) / toFloat64(last_year_amount) - 1), 2)) AS yoy_pct
FROM sales_monthly AS s FINAL
LEFT JOIN dim_district AS d ON d.district = s.district
LEFT JOIN dim_sector AS k ON k.sector = s.sector
WHERE s.month IN (toStartOfMonth({month:Date}), toStartOfMonth({month:Date}) - INTERVAL 1 MONTH,
                  toStartOfMonth({month:Date}) - INTERVAL 1 YEAR)
GROUP BY district, district_zh, sector, sector_zh
ORDER BY amount DESC
