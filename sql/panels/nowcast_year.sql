SELECT estimate / 1e8 AS `推算社零`, low / 1e8 AS `区间下限`, high / 1e8 AS `区间上限`, growth_pct AS `推算同比`,
       target_growth_pct AS `增速目标`, sample_growth_pct AS `同口径样本同比`, release_level / 1e8 AS `最近官方发布`,
       release_growth_pct AS `官方同比`
FROM v_nowcast(as_of = toDate($__toTime, 'Asia/Shanghai') - 1)
WHERE period = 'year'
