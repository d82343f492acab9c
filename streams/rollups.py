"""Rollup maintenance: after a batch lands, recompute every window it touched, level by level.

Window rules: tumbling windows in Asia/Shanghai time, keyed by 商圈 (× sector or origin):
minute (from the deduplicated raw rows), then hour, day and month (each from the level below).
A window is recomputed whenever a batch lands an event in it, however late, so the latest version
(computed_at) of every window equals the raw table exactly, after duplicates and replays too.
Occupancy is the running sum of entries − exits since the latest 06:00 local time (the counters
re-zero at the quietest hour; people inside at midnight stay inside), so footfall refreshes whole
business days (06:00 to 06:00) of every 商圈 it touched, and the calendar days they overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from schemas.feeds import FOOTFALL, SALES, TOURISTS, Feed
from schemas.zone import ZONE

_RANGE = (
    "district IN {districts:Array(String)} AND COL >= fromUnixTimestamp64Milli({lo:Int64}) "
    "AND COL < fromUnixTimestamp64Milli({hi:Int64})"
)


def _where(col: str, key_expr: str, keys: str, key_type: str) -> str:
    rng = _RANGE.replace("COL", col)
    if keys.startswith("bday"):  # business days reach into the next calendar day
        rng = rng.replace("{lo:", "{bday_lo:").replace("{hi:", "{bday_hi:")
    return rng + f" AND (district, {key_expr}) IN {{{keys}:Array(Tuple(String, {key_type}))}}"


# The business day (06:00 to 06:00 local) a time belongs to: occupancy re-zeroes at its start.
BDAY_START_HOUR = 6
_BDAY = "toDate({} - INTERVAL 6 HOUR, 'Asia/Shanghai')"

_MONTH_RANGE = (
    "district IN {districts:Array(String)} AND day >= {month_lo:Date} AND day < {month_hi:Date} "
    "AND (district, toStartOfMonth(day)) IN {months:Array(Tuple(String, Date))}"
)

STATEMENTS: dict[str, list[str]] = {
    SALES.name: [
        "INSERT INTO sales_agg_1m (minute, district, sector, amount, txn_count, events, computed_at) "
        "SELECT toStartOfMinute(event_time) AS b, district, sector, sum(amount), sum(txn_count), count(), now64(6) "
        "FROM sales_raw FINAL WHERE "
        + _where("event_time", "toUnixTimestamp(toStartOfMinute(event_time))", "minutes", "UInt32")
        + " GROUP BY b, district, sector",
        "INSERT INTO sales_hourly (hour, district, sector, amount, txn_count, computed_at) "
        "SELECT toStartOfHour(minute) AS b, district, sector, sum(amount), sum(txn_count), now64(6) "
        "FROM sales_agg_1m FINAL WHERE "
        + _where("minute", "toUnixTimestamp(toStartOfHour(minute))", "hours", "UInt32")
        + " GROUP BY b, district, sector",
        "INSERT INTO sales_daily (day, district, sector, amount, txn_count, computed_at) "
        "SELECT toDate(hour) AS b, district, sector, sum(amount), sum(txn_count), now64(6) "
        "FROM sales_hourly FINAL WHERE "
        + _where("hour", "toDate(hour)", "days", "Date")
        + " GROUP BY b, district, sector",
        "INSERT INTO sales_monthly (month, district, sector, amount, txn_count, computed_at) "
        "SELECT toStartOfMonth(day) AS b, district, sector, sum(amount), sum(txn_count), now64(6) "
        "FROM sales_daily FINAL WHERE " + _MONTH_RANGE + " GROUP BY b, district, sector",
    ],
    FOOTFALL.name: [
        "INSERT INTO footfall_agg_1m (minute, district, entries, exits, occupancy, events, computed_at) "
        "SELECT b, district, e, x, sum(toInt64(e) - toInt64(x)) OVER (PARTITION BY district, "
        f"{_BDAY.format('b')} ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), n, now64(6) FROM ("
        "SELECT toStartOfMinute(event_time) AS b, district, sum(entries) AS e, sum(exits) AS x, count() AS n "
        "FROM footfall_raw FINAL WHERE "
        + _where("event_time", _BDAY.format("event_time"), "bdays", "Date")
        + " GROUP BY b, district)",
        "INSERT INTO footfall_hourly (hour, district, entries, exits, peak_occupancy, computed_at) "
        "SELECT toStartOfHour(minute) AS b, district, sum(entries), sum(exits), max(occupancy), now64(6) "
        "FROM footfall_agg_1m FINAL WHERE "
        + _where("minute", _BDAY.format("minute"), "bdays", "Date")
        + " GROUP BY b, district",
        "INSERT INTO footfall_daily (day, district, entries, exits, peak_occupancy, computed_at) "
        "SELECT toDate(hour) AS b, district, sum(entries), sum(exits), max(peak_occupancy), now64(6) "
        "FROM footfall_hourly FINAL WHERE "
        + _where("hour", "toDate(hour)", "bday_days", "Date")
        + " GROUP BY b, district",
        "INSERT INTO footfall_monthly (month, district, entries, exits, peak_occupancy, computed_at) "
        "SELECT toStartOfMonth(day) AS b, district, sum(entries), sum(exits), max(peak_occupancy), now64(6) "
        "FROM footfall_daily FINAL WHERE "
        + _MONTH_RANGE.replace("{months:", "{bday_months:")
        + " GROUP BY b, district",
    ],
    TOURISTS.name: [
        "INSERT INTO tourists_agg_1m (minute, district, origin, arrivals, spend, events, computed_at) "
        "SELECT toStartOfMinute(event_time) AS b, district, origin, sum(arrivals), sum(spend), count(), now64(6) "
        "FROM tourists_raw FINAL WHERE "
        + _where("event_time", "toUnixTimestamp(toStartOfMinute(event_time))", "minutes", "UInt32")
        + " GROUP BY b, district, origin",
        "INSERT INTO tourists_daily (day, district, origin, arrivals, spend, computed_at) "
        "SELECT toDate(minute) AS b, district, origin, sum(arrivals), sum(spend), now64(6) "
        "FROM tourists_agg_1m FINAL WHERE "
        + _where("minute", "toDate(minute)", "days", "Date")
        + " GROUP BY b, district, origin",
        "INSERT INTO tourists_monthly (month, district, origin, arrivals, spend, computed_at) "
        "SELECT toStartOfMonth(day) AS b, district, origin, sum(arrivals), sum(spend), now64(6) "
        "FROM tourists_daily FINAL WHERE " + _MONTH_RANGE + " GROUP BY b, district, origin",
    ],
}
_PARAM = re.compile(r"\{(\w+):")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZONE)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def touched_keys(touched: Iterable[tuple[str, int]]) -> dict | None:
    """Bind parameters naming every window that (district, minute start in epoch seconds) pairs fall into."""
    minutes = set(touched)
    if not minutes:
        return None
    local = {m: datetime.fromtimestamp(m, ZONE) for m in {m for _, m in minutes}}
    days = {(d, local[m].date()) for d, m in minutes}
    months = {(d, day.replace(day=1)) for d, day in days}
    shift = timedelta(hours=BDAY_START_HOUR)
    bdays = {(d, (local[m] - shift).date()) for d, m in minutes}
    bday_days = {(d, day + timedelta(days=k)) for d, day in bdays for k in (0, 1)}  # calendar days they overlap
    first, last = min(day for _, day in days), max(day for _, day in days)
    b_first, b_last = min(day for _, day in bdays), max(day for _, day in bday_days)
    return {
        "districts": sorted({d for d, _ in minutes}),
        "lo": int(_midnight(first).timestamp() * 1000),
        "hi": int(_midnight(last + timedelta(days=1)).timestamp() * 1000),
        "bday_lo": int(_midnight(b_first).timestamp() * 1000),
        "bday_hi": int(_midnight(b_last + timedelta(days=1)).timestamp() * 1000),
        "bdays": sorted(bdays),
        "bday_days": sorted(bday_days),
        "bday_months": sorted({(d, day.replace(day=1)) for d, day in bday_days}),
        "minutes": sorted(minutes),
        "hours": sorted({(d, m // 3600 * 3600) for d, m in minutes}),
        "days": sorted(days),
        "months": sorted(months),
        "month_lo": min(first, b_first).replace(day=1),
        "month_hi": _next_month(max(last, b_last)),
    }


def recompute_statements(feed: Feed, touched: Iterable[tuple[str, int]]) -> list[tuple[str, dict]]:
    """The INSERT … SELECT statements, finest level first, that refresh every touched window."""
    keys = touched_keys(touched)
    if keys is None:
        return []
    return [(sql, {name: keys[name] for name in _PARAM.findall(sql)}) for sql in STATEMENTS[feed.name]]
