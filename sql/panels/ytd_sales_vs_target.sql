SELECT y.ytd / 1e+08 AS `年累计`, p.target / 1e+08 AS `年度目标`,
       if(p.projected = 1, '推算(按上年目标增速顺延)', if(p.target IS NULL, '无目标', '已公布')) AS `目标来源`,
       if(p.days = dateDiff('day', toStartOfYear($__toTime, 'Asia/Shanghai'), toDate($__toTime, 'Asia/Shanghai')) AND p.target > 0, 100 * y.ytd / p.target, NULL) AS `完成率`,
       if(p.gap_pct IS NULL, NULL, p.expected / 1e+08) AS `覆盖期应完成`,
       p.gap_pct AS `进度偏差`,
       if(p.status = '暂不评估', '暂不评估(无完整覆盖的日)', p.status) AS `进度`,
       c.text AS `数据覆盖`
FROM
(
    SELECT if(count() = 0, NULL, toFloat64(sum(amount))) AS ytd
    FROM sales_daily FINAL WHERE day >= toStartOfYear($__toTime, 'Asia/Shanghai') AND day <= toDate($__toTime, 'Asia/Shanghai')
) AS y
CROSS JOIN v_pace(day = toDate($__toTime, 'Asia/Shanghai') - 1, scope = 'district', metric = 'retail_sales') AS p
CROSS JOIN (SELECT if(count() = 0, '本年尚无完整覆盖的日',
               concat(formatDateTime(min(day), '%m-%d'), '—', formatDateTime(max(day), '%m-%d'), ' 共 ', toString(count()), ' 天',
                      if(min(day) = toStartOfYear($__toTime, 'Asia/Shanghai') AND count() = dateDiff('day', min(day), max(day)) + 1, '', '(未覆盖全年至今)'))) AS text
        FROM (SELECT day, toFloat64(sum(amount)) AS v FROM sales_daily FINAL
            WHERE day >= toStartOfYear($__toTime, 'Asia/Shanghai') AND day <= toDate($__toTime, 'Asia/Shanghai')
            GROUP BY day
            HAVING uniqExact(district) >= (SELECT count() FROM dim_district FINAL))) AS c
