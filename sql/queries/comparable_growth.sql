-- name: comparable_growth
-- description: Comparable growth (同口径增速) of the sample per sector over days [from, to]: the merchants' sales on the days they reported in both years over the same days a year earlier (v_sales_comparable), so merchants that joined or left a provider, and days a provider lost, never read as growth; the total row '' sums the sectors. sample_amount is the raw sample sum over those days (样本, not 社零).
-- columns: sector, amount, amount_last_year, growth_pct, merchants, days, sample_amount
SELECT c.sec AS sector, round(c.cur, 2) AS amount, round(c.prev, 2) AS amount_last_year,
       round(100 * (c.cur / nullIf(c.prev, 0) - 1), 2) AS growth_pct, c.merchants AS merchants,
       c.days AS days, round(s.v, 2) AS sample_amount
FROM
(
    SELECT sector AS sec, sum(amount) AS cur, sum(amount_last_year) AS prev,
           uniqExact(merchant_group) AS merchants, uniqExact(day) AS days
    FROM v_sales_comparable WHERE day BETWEEN {from:Date} AND {to:Date}
    GROUP BY ROLLUP(sector)  -- the total row has sector ''
) AS c
LEFT JOIN
(
    SELECT sector AS sec, toFloat64(sum(amount)) AS v
    FROM v_sales_merchant_daily WHERE day BETWEEN {from:Date} AND {to:Date}
    GROUP BY ROLLUP(sector)  -- the total row has sector ''
) AS s ON s.sec = c.sec
ORDER BY c.sec
