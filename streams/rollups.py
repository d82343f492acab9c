"""Rollup maintenance: after a batch lands, recompute every window it touched, level by level.

Window rules: tumbling windows in Asia/Shanghai time, keyed by 商圈 (× the feed's dimensions):
minute (from the deduplicated raw rows), then each coarser level of the feed (hour, day, month) from
the level below. A window is recomputed whenever a batch lands an event in it, however late, so the
latest version (computed_at) of every window equals the raw table exactly, after duplicates and
replays too. Recomputing a window nobody touched is harmless (it equals the raw table as well), so a
batch keeps one touched range per bundle (its first to its last event's minute), and the ranges are passed
as a few merged time ranges per 商圈 rather than one key per minute.
Occupancy is a feed's running in − out since the latest 06:00 local time (the counters re-zero at the
quietest hour; people inside at midnight stay inside), so its feed refreshes whole business days (06:00 to
06:00) of every 商圈 it touched, and at the day and month levels the calendar days they overlap.

The statements are built once per feed from the feed registry (schemas/feeds.py): its dimensions,
measures and levels; a statement names each touched window (its 商圈 and time range) in its WHERE, so the tables'
primary keys read only those windows (see :class:`Windows`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.feeds import BUSINESS_DAY_START_HOUR, FEEDS, LEVEL_BUCKET, LEVEL_TIME, Feed
from schemas.zone import ZONE

MERGE_GAP_S = 6 * 3600  # two touched ranges of a 商圈 closer than this are refreshed as one
# Most windows a refresh names (each is a condition of its statement; ClickHouse parses at most 256 KiB of query):
# past it, each 商圈's windows become one, from its first to its last (refreshing the minutes between is harmless)
MAX_WINDOWS = 256
BDAY_SHIFT_S = BUSINESS_DAY_START_HOUR * 3600  # a business day is the calendar day shifted by this

# A source time column's type for an epoch-seconds parameter.
_AS_TYPE = {
    "event_time": "toDateTime64({{{0}:Int64}}, 3, 'Asia/Shanghai')",
    "minute": "toDateTime({{{0}:Int64}}, 'Asia/Shanghai')",
    "hour": "toDateTime({{{0}:Int64}}, 'Asia/Shanghai')",
    "day": "toDate(toDateTime({{{0}:Int64}}, 'Asia/Shanghai'))",
}
WINDOWS = "{touched windows}"  # where a refresh's statement names its windows (see Refresh.statement)


def _where(time: str, windows: int) -> str:
    """Rows of ``windows`` touched windows: each its 商圈 and time range, so that the primary key (商圈, time)
    reads only the windows' rows (one range for all the 商圈 read every 商圈 over the earliest to the latest)."""
    return " OR ".join(
        f"(district = {{d{i}:String}} AND {time} >= {_AS_TYPE[time].format(f'lo{i}')} "
        f"AND {time} < {_AS_TYPE[time].format(f'hi{i}')})"
        for i in range(windows)
    )


@dataclass(frozen=True)
class Refresh:
    """One level's refresh: INSERT … SELECT of every touched window of that level."""

    level: str
    table: str
    sql: str  # the statement, with WINDOWS where the windows' condition goes
    time: str  # the source's time column

    def statement(self, windows: int) -> str:
        """The statement for ``windows`` touched windows (parameters ``d0``, ``lo0``, ``hi0``, ``d1``, …)."""
        return self.sql.replace(WINDOWS, f"({_where(self.time, windows)})")


def build(feed: Feed) -> list[Refresh]:
    """The feed's refresh statements, finest level first."""
    out: list[Refresh] = []
    source_table, source_time = feed.raw_table, "event_time"
    keys = ", ".join(["district", *feed.dims])
    for level in feed.levels:
        table, time = feed.level_table(level), LEVEL_TIME[level]
        target = [name for name, _ in feed.level_columns(level)]  # the SELECTs below give them in this order
        bucket = f"{LEVEL_BUCKET[level]}({source_time}) AS b"
        sums = [f"sum({m}) AS {m}" for m in feed.measures]
        measures = list(feed.measures)
        where = WINDOWS
        if level == "minute" and feed.occupancy:
            came, left = feed.occupancy
            inner = (
                f"SELECT {bucket}, {keys}, {', '.join(sums)}, count() AS events FROM {source_table} FINAL "
                f"WHERE {where} GROUP BY b, {keys}"
            )
            running = (
                f"sum(toInt64({came}) - toInt64({left})) OVER (PARTITION BY district, "
                f"toDate(b - INTERVAL {BUSINESS_DAY_START_HOUR} HOUR, 'Asia/Shanghai') ORDER BY b "
                "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
            )
            select = f"SELECT b, {keys}, {', '.join(measures)}, {running}, events, now64(6) FROM ({inner})"
        else:
            extra = []
            if level == "minute":
                extra = [("events", "count()")]
            elif feed.occupancy:
                extra = [("peak_occupancy", "max(occupancy)" if source_time == "minute" else "max(peak_occupancy)")]
            columns = ", ".join([*sums, *(f"{expr} AS {name}" for name, expr in extra)])
            select = (
                f"SELECT {bucket}, {keys}, {columns}, now64(6) FROM {source_table} FINAL "
                f"WHERE {where} GROUP BY b, {keys}"
            )
        out.append(Refresh(level, table, f"INSERT INTO {table} ({', '.join(target)}) {select}", source_time))
        source_table, source_time = table, time
    return out


STATEMENTS: dict[str, list[Refresh]] = {name: build(feed) for name, feed in FEEDS.items()}


# -- the touched windows -----------------------------------------------------------------------------


def _floor(t: int, level: str) -> int:
    """Start of the level's bucket holding epoch second ``t`` (Asia/Shanghai has whole-hour offsets, no DST)."""
    if level == "minute":
        return t // 60 * 60
    if level == "hour":
        return t // 3600 * 3600
    if level == "business_day":
        return _floor(t - BDAY_SHIFT_S, "day") + BDAY_SHIFT_S
    local = datetime.fromtimestamp(t, ZONE)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if level == "month":
        start = start.replace(day=1)
    return int(start.timestamp())


def _ceil(t: int, level: str) -> int:
    """End (exclusive) of the level's bucket holding epoch second ``t - 1``."""
    if level == "business_day":
        return _ceil(t - BDAY_SHIFT_S, "day") + BDAY_SHIFT_S
    start = _floor(t - 1, level)
    if level == "minute":
        return start + 60
    if level == "hour":
        return start + 3600
    local = datetime.fromtimestamp(start, ZONE)
    if level == "day":
        return int(datetime(local.year, local.month, local.day, tzinfo=ZONE).timestamp()) + 86400
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return int(datetime(year, month, 1, tzinfo=ZONE).timestamp())


def _merge(windows: Iterable[tuple[int, int]], gap: int = 0) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


@dataclass(frozen=True)
class Windows:
    """The touched windows of one level: per 商圈, [from, to) epoch-second ranges aligned to the level."""

    ranges: dict[str, list[tuple[int, int]]]

    def parameters(self) -> dict:
        """The statement's parameters: per window ``i`` (in 商圈 then time order), ``d<i>``, ``lo<i>``, ``hi<i>``."""
        flat = [(d, lo, hi) for d, spans in sorted(self.ranges.items()) for lo, hi in spans]
        out: dict[str, str | int] = {}
        for i, (district, lo, hi) in enumerate(flat):
            out |= {f"d{i}": district, f"lo{i}": lo, f"hi{i}": hi}
        return out

    @property
    def count(self) -> int:
        return sum(len(spans) for spans in self.ranges.values())


def touched_windows(touched: Iterable[tuple[str, int, int]], whole_days: bool = False) -> Windows | None:
    """The touched (商圈, from, to) minute ranges (epoch seconds) per 商圈, merged when close; with
    ``whole_days``, widened to whole business days (06:00 to 06:00)."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for district, lo, hi in touched:
        spans[district].append((lo, hi))
    if not spans:
        return None
    ranges = {d: _merge(ds, MERGE_GAP_S) for d, ds in spans.items()}
    if sum(map(len, ranges.values())) > MAX_WINDOWS:
        ranges = {d: [(ds[0][0], ds[-1][1])] for d, ds in ranges.items()}
    return at_level(Windows(ranges), "business_day") if whole_days else Windows(ranges)


def at_level(windows: Windows, level: str) -> Windows:
    """The same windows widened to whole buckets of ``level``."""
    return Windows(
        {d: _merge((_floor(lo, level), _ceil(hi, level)) for lo, hi in spans) for d, spans in windows.ranges.items()}
    )


def refreshes(feed: Feed, touched: Iterable[tuple[str, int, int]]) -> list[tuple[str, str, dict]]:
    """The feed's refreshes, finest level first: (the table, the statement, its parameters) refreshing every
    touched window."""
    base = touched_windows(touched, whole_days=feed.occupancy is not None)
    if base is None:
        return []
    out = []
    for r in STATEMENTS[feed.name]:
        windows = at_level(base, r.level)
        out.append((r.table, r.statement(windows.count), windows.parameters()))
    return out


def recompute_statements(feed: Feed, touched: Iterable[tuple[str, int, int]]) -> list[tuple[str, dict]]:
    """The INSERT … SELECT statements of :func:`refreshes` with their parameters."""
    return [(sql, params) for _, sql, params in refreshes(feed, touched)]
