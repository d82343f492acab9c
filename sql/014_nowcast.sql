-- The 社零 nowcast (推算) as a view, so that the library query nowcast, the 推算社零 panel, the pace alert rule and
-- the commands read one definition: v_nowcast(as_of) gives this quarter's cumulative period and the year, as
-- described in sql/queries/nowcast.sql (the query selects from this view).
CREATE VIEW IF NOT EXISTS v_nowcast AS
WITH
    {as_of:Date} AS a,
    toYear(a, 'Asia/Shanghai') AS y,
    toMonth(a, 'Asia/Shanghai') AS mo,
    intDiv(mo + 2, 3) * 3 AS qe,
    (SELECT target FROM v_target(year = toYear({as_of:Date}, 'Asia/Shanghai'), scope = 'district', metric = 'retail_sales')) AS t_level,
    (SELECT target FROM v_target(year = toYear({as_of:Date}, 'Asia/Shanghai') - 1, scope = 'district', metric = 'retail_sales'))
        AS t_before,
    if(t_level > 0 AND t_before > 0, t_level / t_before - 1, NULL) AS t_growth,
    (SELECT argMax(basis, (has_base, last_published)) FROM
        (SELECT basis, countIf(year = y - 1 AND level IS NOT NULL) > 0 AS has_base, max(published) AS last_published
         FROM v_official WHERE metric = 'retail_sales' AND scope = 'district' AND published <= a GROUP BY basis))
        AS use_basis,
    rel AS
    (
        SELECT year, end_month, sector, toFloat64(level) AS level, toFloat64(growth_pct) / 100 AS growth, published
        FROM v_official
        WHERE metric = 'retail_sales' AND scope = 'district' AND basis = use_basis AND published <= a
    ),
    (SELECT max((year, end_month)) FROM rel WHERE sector = '') AS last_p,
    (SELECT (any(level), any(growth), any(published)) FROM rel WHERE sector = '' AND (year, end_month) = last_p) AS last_r,
    (SELECT count() > 0 FROM rel WHERE year = y - 1 AND sector != '' AND level IS NOT NULL) AS by_sector,
    pairs AS
    (
        SELECT if(by_sector, sector, '') AS sector, day AS d, amount AS cur, amount_last_year AS prev, merchant_group AS m
        FROM v_sales_comparable WHERE day <= a AND toYear(day, 'Asia/Shanghai') IN (y, last_p.1)
    ),
    g AS
    (
        SELECT sector,
               sumIf(cur, toYear(d, 'Asia/Shanghai') = y) / nullIf(sumIf(prev, toYear(d, 'Asia/Shanghai') = y), 0) - 1 AS g_now,
               sumIf(cur, toYear(d, 'Asia/Shanghai') = last_p.1 AND toMonth(d, 'Asia/Shanghai') <= last_p.2)
                   / nullIf(sumIf(prev, toYear(d, 'Asia/Shanghai') = last_p.1 AND toMonth(d, 'Asia/Shanghai') <= last_p.2), 0) - 1 AS g_last,
               uniqExactIf(m, toYear(d, 'Asia/Shanghai') = y) AS merchants
        FROM pairs GROUP BY sector
    ),
    (SELECT (sumIf(cur, toYear(d, 'Asia/Shanghai') = y) / nullIf(sumIf(prev, toYear(d, 'Asia/Shanghai') = y), 0) - 1,
             sumIf(cur, toYear(d, 'Asia/Shanghai') = last_p.1 AND toMonth(d, 'Asia/Shanghai') <= last_p.2)
                 / nullIf(sumIf(prev, toYear(d, 'Asia/Shanghai') = last_p.1 AND toMonth(d, 'Asia/Shanghai') <= last_p.2), 0) - 1)
     FROM pairs) AS g_all,
    shares AS
    (
        SELECT toMonth(day, 'Asia/Shanghai') AS month, max(model_sales_share) AS share FROM dim_calendar FINAL
        WHERE year = y - 1 GROUP BY month
    ),
    lvl AS
    (
        SELECT r.sector AS sector, r.end_month AS em, r.level AS level, s.share AS share
        FROM rel AS r LEFT JOIN shares AS s ON s.month = r.end_month
        WHERE r.year = y - 1 AND r.level IS NOT NULL AND (r.sector != '') = by_sector
    ),
    periods AS
    (
        SELECT k.1 AS kind, k.2 AS e, s.share AS e_share
        FROM (SELECT arrayJoin([('quarter', qe), ('year', 12)]) AS k) AS p
        LEFT JOIN shares AS s ON s.month = p.k.2
    ),
    base AS
    (
        SELECT kind, e, sector, argMax(level * if(em = e, 1, e_share / share), em) AS level
        FROM periods CROSS JOIN lvl WHERE em <= e
        GROUP BY kind, e, sector
    ),
    est AS
    (
        SELECT b.kind AS kind, b.e AS e, b.sector AS sector, b.level AS base,
               ifNull(g.merchants, 0) > 0 AND isFinite(ifNull(g.g_now, nan)) AS sampled,
               isFinite(ifNull(g_all.1, nan)) AS any_sample,
               multiIf(sampled, g.g_now + if(isFinite(ifNull(g.g_last, nan)) AND lg.growth IS NOT NULL,
                                             lg.growth - g.g_last, 0),
                       lg.growth IS NOT NULL, lg.growth + if(any_sample AND isFinite(ifNull(g_all.2, nan)),
                                                             g_all.1 - g_all.2, 0),
                       any_sample, g_all.1,
                       ifNull(last_r.2, 0)) AS growth,
               g.g_now AS sample_growth, ifNull(g.merchants, 0) AS merchants
        FROM base AS b
        LEFT JOIN g ON g.sector = b.sector
        LEFT JOIN (SELECT sector, growth FROM rel WHERE (year, end_month) = last_p) AS lg ON lg.sector = b.sector
    ),
    total AS
    (
        SELECT kind, e, sum(base * (1 + growth)) AS estimate, sum(base * growth) / sum(base) AS growth_w,
               sumIf(base * sample_growth, sampled) / nullIf(sumIf(base, sampled), 0) AS sample_g,
               if(countIf(sampled) > 0, 'sample', 'carry') AS method, sum(merchants) AS n_merchants, sum(base) AS base_total
        FROM est GROUP BY kind, e
    )
SELECT a AS as_of, t.kind AS period, y AS year, t.e AS end_month, round(t.estimate, 2) AS estimate,
       round(t.estimate * (1 - ifNull(nullIf(err.rel_error, 0), 0.05)), 2) AS low,
       round(t.estimate * (1 + ifNull(nullIf(err.rel_error, 0), 0.05)), 2) AS high,
       round(100 * t.growth_w, 2) AS growth_pct, round(100 * t.sample_g, 2) AS sample_growth_pct,
       t.method AS method, t.n_merchants AS merchants, use_basis AS basis, round(t.base_total, 2) AS base_level,
       last_p.1 AS release_year, last_p.2 AS release_end_month, last_r.1 AS release_level,
       round(100 * last_r.2, 2) AS release_growth_pct, last_r.3 AS release_published,
       if(t.kind = 'year' AND t_level > 0, t_level, NULL) AS target, round(100 * t_growth, 2) AS target_growth_pct,
       if(t.kind = 'year' AND t_level > 0, round(100 * (t.estimate / t_level - 1), 2), NULL) AS target_gap_pct,
       round(100 * (t.growth_w - t_growth), 2) AS growth_gap_pct
FROM total AS t
LEFT JOIN (SELECT kind, method, horizon, rel_error FROM dim_nowcast_error FINAL) AS err
    ON err.kind = t.kind AND err.method = t.method AND err.horizon = if(t.kind = 'quarter', mo - qe + 3, mo)
ORDER BY t.e;
