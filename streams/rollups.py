"""Minute-aggregate maintenance: recompute each minute a batch touched from the deduplicated raw rows.

Window rules: 1-minute tumbling windows in Asia/Shanghai time, keyed by 商圈 (× sector or origin).
A window is recomputed whenever a batch lands an event in it, however late, so the latest version
(computed_at) of every minute equals the raw table exactly, after duplicates and replays too.
Occupancy is the running sum of entries − exits within the Asia/Shanghai day, so a footfall batch
recomputes the whole day of every 商圈 it touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from yzmon.feeds import FOOTFALL, SALES, TOURISTS, Feed

_ZONE = ZoneInfo("Asia/Shanghai")

_MINUTE_WINDOWS = {
    SALES.name: """
INSERT INTO sales_agg_1m (minute, district, sector, amount, txn_count, events, computed_at)
SELECT toStartOfMinute(event_time) AS m, district, sector, sum(amount), sum(txn_count), count(), now64(6)
FROM sales_raw FINAL
WHERE district IN {districts:Array(String)}
  AND event_time >= fromUnixTimestamp64Milli({lo:Int64}) AND event_time < fromUnixTimestamp64Milli({hi:Int64})
  AND (district, toUnixTimestamp(toStartOfMinute(event_time))) IN {keys:Array(Tuple(String, UInt32))}
GROUP BY m, district, sector""",
    TOURISTS.name: """
INSERT INTO tourists_agg_1m (minute, district, origin, arrivals, spend, events, computed_at)
SELECT toStartOfMinute(event_time) AS m, district, origin, sum(arrivals), sum(spend), count(), now64(6)
FROM tourists_raw FINAL
WHERE district IN {districts:Array(String)}
  AND event_time >= fromUnixTimestamp64Milli({lo:Int64}) AND event_time < fromUnixTimestamp64Milli({hi:Int64})
  AND (district, toUnixTimestamp(toStartOfMinute(event_time))) IN {keys:Array(Tuple(String, UInt32))}
GROUP BY m, district, origin""",
}

_FOOTFALL_DAYS = """
INSERT INTO footfall_agg_1m (minute, district, entries, exits, occupancy, events, computed_at)
SELECT m, district, e, x,
       sum(toInt64(e) - toInt64(x)) OVER (PARTITION BY district, toDate(m, 'Asia/Shanghai') ORDER BY m
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
       n, now64(6)
FROM
(
    SELECT toStartOfMinute(event_time) AS m, district, sum(entries) AS e, sum(exits) AS x, count() AS n
    FROM footfall_raw FINAL
    WHERE district IN {districts:Array(String)}
      AND event_time >= fromUnixTimestamp64Milli({lo:Int64}) AND event_time < fromUnixTimestamp64Milli({hi:Int64})
      AND (district, toDate(event_time, 'Asia/Shanghai')) IN {keys:Array(Tuple(String, Date))}
    GROUP BY m, district
)"""


def recompute_statement(feed: Feed, touched: Iterable[tuple[str, datetime]]) -> tuple[str, dict] | None:
    """The INSERT … SELECT that refreshes every window touched by (district, aware event_time) pairs."""
    pairs = set(touched)
    if not pairs:
        return None
    if feed is FOOTFALL:
        days = {(d, ts.date()) for d, ts in ((d, ts.astimezone(_ZONE)) for d, ts in pairs)}
        lo = min(_midnight(day) for _, day in days)
        hi = max(_midnight(day) for _, day in days) + timedelta(days=1)
        return _FOOTFALL_DAYS, {"districts": sorted({d for d, _ in days}), "lo": _ms(lo), "hi": _ms(hi),
                                "keys": sorted(days)}
    minutes = {(d, int(ts.timestamp()) // 60 * 60) for d, ts in pairs}
    lo = min(m for _, m in minutes)
    hi = max(m for _, m in minutes) + 60
    return _MINUTE_WINDOWS[feed.name], {"districts": sorted({d for d, _ in minutes}), "lo": lo * 1000,
                                        "hi": hi * 1000, "keys": sorted(minutes)}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=_ZONE)


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)
