-- name: footfall_freshness
-- description: Every 商圈 (from dim_district, whether or not it reported) at {now}: its counters known (the gates that reported in the 7 days before), those reporting (a report in the last 300 s, five cadences of a counter that reports every minute), its newest report and its age in seconds, the age of its oldest known counter's newest report (one dead counter), the last occupancy (people inside) and its minute, stale = 1 when no counter reported for 300 s (the number is then 数据中断, shown only as the last value with its time), and its capacity with the warning and critical bands (people inside) and the capacity's basis (published or operating_setting), from schemas/reference/capacity.json.
-- columns: district, name_zh, counters_known, counters_reporting, last_report, age_s, oldest_counter_age_s, occupancy, occupancy_at, stale, capacity, warning, critical, capacity_basis
SELECT d.district AS district, d.name_zh AS name_zh,
       g.known AS counters_known, g.reporting AS counters_reporting, g.last_report AS last_report,
       dateDiff('second', g.last_report, {now:DateTime}) AS age_s,
       dateDiff('second', g.oldest_report, {now:DateTime}) AS oldest_counter_age_s,
       o.occupancy AS occupancy, o.at AS occupancy_at,
       toUInt8(ifNull(dateDiff('second', g.last_report, {now:DateTime}) > 300, 1)) AS stale,
       d.capacity AS capacity, d.warning AS warning, d.critical AS critical, d.capacity_basis AS capacity_basis
FROM (SELECT district, name_zh, area, capacity, warning, critical, capacity_basis FROM dim_district FINAL) AS d
LEFT JOIN
(
    SELECT district, toUInt32(count()) AS known,
           toUInt32(countIf(last > {now:DateTime} - INTERVAL 300 SECOND)) AS reporting,
           toNullable(max(last)) AS last_report, toNullable(min(last)) AS oldest_report
    FROM
    (
        SELECT district, gate, toDateTime(max(event_time), 'Asia/Shanghai') AS last
        FROM footfall_raw FINAL
        WHERE event_time > {now:DateTime} - INTERVAL 7 DAY AND event_time <= {now:DateTime}
        GROUP BY district, gate
    )
    GROUP BY district
) AS g ON g.district = d.district
LEFT JOIN
(
    SELECT district, toNullable(argMax(occupancy, minute)) AS occupancy, toNullable(max(minute)) AS at
    FROM footfall_agg_1m FINAL
    WHERE minute > {now:DateTime} - INTERVAL 7 DAY AND minute <= {now:DateTime}
    GROUP BY district
) AS o ON o.district = d.district
ORDER BY d.area, d.district
