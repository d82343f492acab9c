SELECT y.ytd / 1e+08 AS `年累计`, t.target / 1e+08 AS `年度目标`,
       if(t.projected = 1, '推算(按上年目标增速顺延)', if(t.target IS NULL, '无目标', '已公布')) AS `目标来源`,
       if(p.days = dateDiff('day', toStartOfYear($__toTime, 'Asia/Shanghai'), toDate($__toTime, 'Asia/Shanghai')) AND t.target > 0, 100 * y.ytd / t.target, NULL) AS `完成率`,
       if(p.days = 0 OR t.target IS NULL OR p.share = 0, NULL, t.target * p.share / 1e+08) AS `覆盖期应完成`,
       if(p.days = 0 OR t.target IS NULL OR p.share = 0, NULL, 100 * (p.actual / (t.target * p.share) - 1)) AS `进度偏差`,
       multiIf(t.target IS NULL, '无目标', p.days = 0 OR p.share = 0, '暂不评估(无完整覆盖的日)',
               `进度偏差` > 2, '领先', `进度偏差` < -2, '落后', '符合进度') AS `进度`,
       c.text AS `数据覆盖`
FROM
(
    SELECT if(count() = 0, NULL, toFloat64(sum(amount))) AS ytd
    FROM sales_daily FINAL WHERE day >= toStartOfYear($__toTime, 'Asia/Shanghai') AND day <= toDate($__toTime, 'Asia/Shanghai')
) AS y
CROSS JOIN (SELECT sum(s.v) AS actual, sum(m.share) AS share, count() AS days,
           if(days = 0, NULL, min(s.day)) AS first_day, if(days = 0, NULL, max(s.day)) AS last_day
    FROM (SELECT day, toFloat64(sum(amount)) AS v FROM sales_daily FINAL
            WHERE day >= toStartOfYear($__toTime, 'Asia/Shanghai') AND day < toDate($__toTime, 'Asia/Shanghai')
            GROUP BY day
            HAVING uniqExact(district) >= (SELECT count() FROM dim_district FINAL)) AS s
    INNER JOIN
    (
        SELECT day, model_sales_share - lagInFrame(model_sales_share, 1, 0) OVER (ORDER BY day ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS share
        FROM dim_calendar FINAL
        WHERE day >= toStartOfYear($__toTime, 'Asia/Shanghai') AND day < toDate($__toTime, 'Asia/Shanghai')
    ) AS m ON m.day = s.day) AS p
CROSS JOIN (SELECT if(has_exact, exact, if(empty(past), NULL,
                 past[-1].2 * pow(if(length(past) >= 2 AND past[-2].1 + 1 = past[-1].1, past[-1].2 / past[-2].2, 1),
                                  toYear($__toTime, 'Asia/Shanghai') - past[-1].1))) AS target,
           toUInt8(NOT has_exact AND NOT empty(past)) AS projected
    FROM
    (
        SELECT countIf(year = toYear($__toTime, 'Asia/Shanghai')) > 0 AS has_exact,
               anyIf(toFloat64(value), year = toYear($__toTime, 'Asia/Shanghai')) AS exact,
               arraySort(groupArrayIf((year, toFloat64(value)), year < toYear($__toTime, 'Asia/Shanghai'))) AS past
        FROM v_targets WHERE scope = 'district' AND metric = 'retail_sales'
    )) AS t
CROSS JOIN (SELECT if(count() = 0, '本年尚无完整覆盖的日',
               concat(formatDateTime(min(day), '%m-%d'), '—', formatDateTime(max(day), '%m-%d'), ' 共 ', toString(count()), ' 天',
                      if(min(day) = toStartOfYear($__toTime, 'Asia/Shanghai') AND count() = dateDiff('day', min(day), max(day)) + 1, '', '(未覆盖全年至今)'))) AS text
        FROM (SELECT day, toFloat64(sum(amount)) AS v FROM sales_daily FINAL
            WHERE day >= toStartOfYear($__toTime, 'Asia/Shanghai') AND day <= toDate($__toTime, 'Asia/Shanghai')
            GROUP BY day
            HAVING uniqExact(district) >= (SELECT count() FROM dim_district FINAL))) AS c
