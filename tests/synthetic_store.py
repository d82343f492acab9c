"""A store whose data lies exactly on the seasonal model, for a chosen stretch of days, written in SQL in a second.

Every 商圈 reports every day from ``first`` to the day of ``now``: days before it whole, that day up to ``now``
(the elapsed share of its minutes). Each day's 社零 across the district is ``factor`` × the year's target × the
model's share of that day (dim_calendar), and 解放碑—朝天门 area visits likewise against its visits target, so a
correct pace reads 0 % at any moment (× factor − 1 otherwise). Minute aggregates exist for the last day, hourly
and monthly rollups follow from them, and each feed has an ingest batch landed at ``now``. Nothing before
``first`` exists: no last year, no start of the year.
"""

from __future__ import annotations

from datetime import date, datetime

from clickhouse_connect.driver.client import Client

SHARE = (
    "SELECT day, year, model_sales_share - lagInFrame(model_sales_share, 1, 0) OVER w AS sales_share, "
    "model_visits_share - lagInFrame(model_visits_share, 1, 0) OVER w AS visits_share FROM dim_calendar FINAL "
    "WINDOW w AS (PARTITION BY year ORDER BY day ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
)


def _target(client: Client, year: int, scope: str, metric: str) -> float:
    rows = client.query(
        "SELECT toFloat64(value) FROM v_targets WHERE year = {y:UInt16} AND scope = {s:String} AND metric = {m:String}",
        parameters={"y": year, "s": scope, "m": metric},
    ).result_rows
    assert rows, f"no {metric} target for {scope} in {year}"
    return rows[0][0]


def load_on_model(client: Client, first: date, now: datetime, factor: float = 1.0) -> None:
    """Fill a migrated, empty store (see the module docstring). ``now`` is time-zone-aware."""
    last = now.date()
    elapsed = (now.hour * 60 + now.minute) / 1440  # share of the last day's minutes that have passed
    sales = _target(client, last.year, "district", "retail_sales") * factor
    visits = _target(client, last.year, "jiefangbei", "visits") * factor
    p = {"first": first, "last": last, "elapsed": elapsed, "sales": sales, "visits": visits}
    days = (
        f"SELECT day, sales_share * if(day = {{last:Date}}, {{elapsed:Float64}}, 1) AS s, "
        f"visits_share * if(day = {{last:Date}}, {{elapsed:Float64}}, 1) AS v FROM ({SHARE}) "
        "WHERE day >= {first:Date} AND day <= {last:Date}"
    )
    # 商圈 weights: 社零 split evenly over all 商圈 and the four sectors; visits over the three 解放碑 area 商圈
    # (the others get as many again, outside the target's scope); tourists and spend from the visits.
    client.command(
        "INSERT INTO sales_daily (day, district, sector, amount, txn_count, computed_at) "
        f"SELECT c.day, d.district, k.sector, toDecimal128({{sales:Float64}} * c.s / n / 4, 2), 1000, now64(6) "
        f"FROM ({days}) AS c CROSS JOIN (SELECT district, count() OVER () AS n FROM dim_district FINAL) AS d "
        "CROSS JOIN (SELECT sector FROM dim_sector FINAL) AS k",
        parameters=p,
    )
    footfall = (
        f"SELECT c.day AS day, d.district AS district, "
        f"toUInt64(round({{visits:Float64}} * c.v / 3)) AS entries FROM ({days}) AS c "
        "CROSS JOIN (SELECT district FROM dim_district FINAL) AS d"
    )
    client.command(
        "INSERT INTO footfall_daily (day, district, entries, exits, peak_occupancy, computed_at) "
        f"SELECT day, district, entries, entries, toInt64(entries / 10), now64(6) FROM ({footfall})",
        parameters=p,
    )
    client.command(
        "INSERT INTO tourists_daily (day, district, origin, arrivals, spend, computed_at) "
        "SELECT f.day, f.district, o.origin, toUInt64(f.entries / 50), "
        "toDecimal128(f.entries / 50 * 900, 2), now64(6) "
        f"FROM ({footfall}) AS f CROSS JOIN (SELECT origin FROM dim_origin FINAL) AS o",
        parameters=p,
    )
    # the last day's minutes up to now, from its daily rows (occupancy rises through the day, 6万 at most)
    minutes = (
        "SELECT toDateTime({last:Date}, 'Asia/Shanghai') + INTERVAL number MINUTE AS minute "
        "FROM numbers(toUInt64({elapsed:Float64} * 1440))"
    )
    count = "greatest(toUInt64({elapsed:Float64} * 1440), 1)"
    client.command(
        "INSERT INTO sales_agg_1m (minute, district, sector, amount, txn_count, events, computed_at) "
        f"SELECT m.minute, s.district, s.sector, toDecimal128(toFloat64(s.amount) / {count}, 2), 1, 1, now64(6) "
        f"FROM ({minutes}) AS m CROSS JOIN (SELECT * FROM sales_daily FINAL WHERE day = {{last:Date}}) AS s",
        parameters=p,
    )
    client.command(
        "INSERT INTO footfall_agg_1m (minute, district, entries, exits, occupancy, events, computed_at) "
        f"SELECT m.minute, f.district, toUInt64(f.entries / {count}), 0, "
        "toInt64(least(60000, (toUnixTimestamp(m.minute) - "
        "toUnixTimestamp(toDateTime({last:Date}, 'Asia/Shanghai'))) * 2)), 1, now64(6) "
        f"FROM ({minutes}) AS m CROSS JOIN (SELECT * FROM footfall_daily FINAL WHERE day = {{last:Date}}) AS f",
        parameters=p,
    )
    client.command(
        "INSERT INTO tourists_agg_1m (minute, district, origin, arrivals, spend, events, computed_at) "
        f"SELECT m.minute, t.district, t.origin, toUInt64(t.arrivals / {count}), "
        f"toDecimal128(toFloat64(t.spend) / {count}, 2), 1, now64(6) "
        f"FROM ({minutes}) AS m CROSS JOIN (SELECT * FROM tourists_daily FINAL WHERE day = {{last:Date}}) AS t",
        parameters=p,
    )
    client.command(
        "INSERT INTO sales_hourly SELECT toStartOfHour(minute), district, sector, sum(amount), sum(txn_count), "
        "now64(6) FROM sales_agg_1m FINAL GROUP BY 1, 2, 3"
    )
    client.command(
        "INSERT INTO footfall_hourly SELECT toStartOfHour(minute), district, sum(entries), sum(exits), max(occupancy), "
        "now64(6) FROM footfall_agg_1m FINAL GROUP BY 1, 2"
    )
    client.command(
        "INSERT INTO sales_monthly SELECT toStartOfMonth(day), district, sector, sum(amount), sum(txn_count), now64(6) "
        "FROM sales_daily FINAL GROUP BY 1, 2, 3"
    )
    client.command(
        "INSERT INTO footfall_monthly SELECT toStartOfMonth(day), district, sum(entries), sum(exits), "
        "max(peak_occupancy), now64(6) FROM footfall_daily FINAL GROUP BY 1, 2"
    )
    client.command(
        "INSERT INTO tourists_monthly SELECT toStartOfMonth(day), district, origin, sum(arrivals), sum(spend), "
        "now64(6) FROM tourists_daily FINAL GROUP BY 1, 2, 3"
    )
    client.command(
        "INSERT INTO ingest_batches (topic, kafka_partition, first_offset, last_offset, records, accepted, rejected, "
        "late, min_event_time, max_event_time, landed_at) "
        "SELECT topic, 0, 0, 99, 100, 100, 0, 0, {now:DateTime64(3)}, {now:DateTime64(3)}, {now:DateTime64(3)} "
        "FROM (SELECT arrayJoin(['retail.sales.v1', 'footfall.counts.v1', 'tourism.arrivals.v1']) AS topic)",
        parameters={"now": now},
    )
