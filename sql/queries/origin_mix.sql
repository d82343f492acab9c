-- name: origin_mix
-- description: Tourist origin mix by month over [start, end): arrivals, share and spend per tourist by origin.
-- columns: month, origin, origin_zh, arrivals, share_pct, spend, yuan_per_tourist
SELECT month, origin, origin_zh, n AS arrivals, round(100 * n / sum(n) OVER (PARTITION BY month), 2) AS share_pct,
       yuan AS spend, if(n = 0, NULL, round(toFloat64(yuan) / n, 2)) AS yuan_per_tourist
FROM
(
    SELECT toStartOfMonth(t.day) AS month, t.origin AS origin, o.name_zh AS origin_zh, sum(t.arrivals) AS n,
           sum(t.spend) AS yuan
    FROM tourists_daily AS t FINAL
    LEFT JOIN dim_origin AS o ON o.origin = t.origin
    WHERE t.day >= {start:Date} AND t.day < {end:Date}
    GROUP BY month, origin, origin_zh
)
ORDER BY month, arrivals DESC
