-- Visitors the same way as 社零: counters stand on some gates only, so an area's published 客流 is estimated as
-- the official count of the same period a year earlier × the comparable growth of the gates that counted on the
-- same day a year earlier (v_footfall_comparable), bridged by the latest release like v_nowcast. A period not yet
-- published is extrapolated along the seasonal visits curve; with no comparable gate the latest release's growth
-- is carried (method carry). v_visits_nowcast(as_of, scope): this quarter's cumulative period and the year.
CREATE VIEW IF NOT EXISTS v_footfall_comparable AS
SELECT day, district, gate, toFloat64(sumIf(n, shift = 0)) AS entries,
       toFloat64(sumIf(n, shift = 1)) AS entries_last_year
FROM
(
    SELECT arrayJoin([0, 1]) AS shift, addYears(toDate(f.event_time, 'Asia/Shanghai'), shift) AS day,
           f.district AS district, f.gate AS gate, f.entries AS n
    FROM footfall_raw AS f FINAL
    WHERE NOT (shift = 1 AND toMonth(f.event_time, 'Asia/Shanghai') = 2 AND toDayOfMonth(f.event_time, 'Asia/Shanghai') = 29)
)
GROUP BY day, district, gate
HAVING countIf(shift = 0) > 0 AND countIf(shift = 1) > 0;

CREATE VIEW IF NOT EXISTS v_visits_nowcast AS
WITH
    {as_of:Date} AS a,
    toYear(a, 'Asia/Shanghai') AS y,
    toMonth(a, 'Asia/Shanghai') AS mo,
    intDiv(mo + 2, 3) * 3 AS qe,
    (SELECT groupArray(district) FROM dim_district FINAL WHERE area = {scope:String} OR district = {scope:String}) AS in_scope,
    (SELECT argMax(basis, (has_base, last_published)) FROM
        (SELECT basis, countIf(year = y - 1 AND level IS NOT NULL) > 0 AS has_base, max(published) AS last_published
         FROM v_official WHERE metric = 'visits' AND scope = {scope:String} AND published <= a GROUP BY basis))
        AS use_basis,
    rel AS
    (
        SELECT year, end_month, toFloat64(level) AS level, toFloat64(growth_pct) / 100 AS growth, published
        FROM v_official
        WHERE metric = 'visits' AND scope = {scope:String} AND sector = '' AND basis = use_basis AND published <= a
    ),
    (SELECT max((year, end_month)) FROM rel) AS last_p,
    (SELECT (any(level), any(growth), any(published)) FROM rel WHERE (year, end_month) = last_p) AS last_r,
    pairs AS
    (
        SELECT day AS d, entries AS cur, entries_last_year AS prev, gate FROM v_footfall_comparable
        WHERE has(in_scope, district) AND day <= a AND toYear(day, 'Asia/Shanghai') IN (y, last_p.1)
    ),
    (SELECT (sumIf(cur, toYear(d, 'Asia/Shanghai') = y) / nullIf(sumIf(prev, toYear(d, 'Asia/Shanghai') = y), 0) - 1,
             sumIf(cur, toYear(d, 'Asia/Shanghai') = last_p.1 AND toMonth(d, 'Asia/Shanghai') <= last_p.2)
                 / nullIf(sumIf(prev, toYear(d, 'Asia/Shanghai') = last_p.1 AND toMonth(d, 'Asia/Shanghai') <= last_p.2), 0) - 1,
             uniqExactIf(gate, toYear(d, 'Asia/Shanghai') = y))
     FROM pairs) AS g,
    isFinite(ifNull(g.1, nan)) AND g.3 > 0 AS sampled,
    multiIf(sampled, g.1 + if(isFinite(ifNull(g.2, nan)) AND last_r.2 IS NOT NULL, last_r.2 - g.2, 0),
            ifNull(last_r.2, 0)) AS growth,
    shares AS
    (
        SELECT toMonth(day, 'Asia/Shanghai') AS month, sum(visits_share) AS s FROM v_expected_daily WHERE year = y - 1
        GROUP BY month
    ),
    cum AS (SELECT month, sum(s) OVER (ORDER BY month) AS share FROM shares),
    base AS
    (
        SELECT k.1 AS kind, k.2 AS e, argMax(r.level * ce.share / cr.share, r.end_month) AS level
        FROM (SELECT arrayJoin([('quarter', qe), ('year', 12)]) AS k) AS p
        CROSS JOIN (SELECT end_month, level FROM rel WHERE year = y - 1 AND level IS NOT NULL) AS r
        LEFT JOIN cum AS ce ON ce.month = p.k.2
        LEFT JOIN cum AS cr ON cr.month = r.end_month
        WHERE r.end_month <= p.k.2
        GROUP BY kind, e
    )
SELECT a AS as_of, kind AS period, y AS year, e AS end_month, round(level * (1 + growth)) AS estimate,
       round(level * (1 + growth) * (1 - 0.05)) AS low, round(level * (1 + growth) * (1 + 0.05)) AS high,
       round(100 * growth, 2) AS growth_pct, if(sampled, round(100 * g.1, 2), NULL) AS sample_growth_pct,
       if(sampled, 'sample', 'carry') AS method, g.3 AS gates, use_basis AS basis,
       last_p.1 AS release_year, last_p.2 AS release_end_month, last_r.1 AS release_level, last_r.3 AS release_published
FROM base
ORDER BY e;
