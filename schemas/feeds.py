"""The three feeds: their topic names, dead-letter topics, contract files, raw columns, dimensions,
measures and rollup levels.

Producers, the stream worker, the simulator and the SQL all name a feed through this module. A feed's
shape is written here once: the worker's raw-row parsing, the rollup statements, the benchmark's
expectations and the tests' helpers are derived from it. Adding a measure is one change here plus
a migration that adds the column to the raw table and each rollup level.
"""

from __future__ import annotations

from dataclasses import dataclass

# The kinds of raw column an event field lands in.
TEXT = "text"  # a JSON string, stored as String / LowCardinality(String)
INTEGER = "integer"  # a JSON integer, stored as UInt32
DECIMAL = "decimal"  # money as a JSON decimal string, stored as Decimal(18, 2) exactly
TIME = "time"  # an RFC 3339 string with a zone offset, stored as DateTime64(3, 'Asia/Shanghai')


@dataclass(frozen=True)
class Column:
    """One raw-table column filled from the event field of the same name."""

    name: str
    kind: str  # TEXT | INTEGER | DECIMAL | TIME
    default: str | None = None  # the value when the (optional) field is absent; None: the field is required


# Rollup levels, finest first: the level's time column, its table suffix, and the ClickHouse function that
# puts a finer time into its bucket.
# Occupancy re-zeroes at the quietest hour, 06:00 Asia/Shanghai: people inside at midnight stay inside,
# and night hours belong to the business day (06:00 to 06:00) of the evening they follow.
BUSINESS_DAY_START_HOUR = 6

LEVEL_TIME = {"minute": "minute", "hour": "hour", "day": "day", "month": "month"}
LEVEL_TABLE = {"minute": "agg_1m", "hour": "hourly", "day": "daily", "month": "monthly"}
LEVEL_BUCKET = {"minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toDate", "month": "toStartOfMonth"}


@dataclass(frozen=True)
class Feed:
    name: str  # sales | footfall | tourists
    topic: str
    schema_file: str
    raw_table: str
    agg_table: str
    dims: tuple[str, ...]  # aggregate key columns besides the time bucket and district
    measures: tuple[str, ...]  # columns of the raw table summed at every rollup level
    columns: tuple[Column, ...] = ()  # the raw table's event columns, in table order
    levels: tuple[str, ...] = ("minute", "hour", "day", "month")  # rollup levels kept, finest first
    # Running count within the business day (from BUSINESS_DAY_START_HOUR local time): (in, out) measures
    # whose running difference the minute level keeps as ``occupancy`` and coarser levels as its maximum,
    # ``peak_occupancy``.
    occupancy: tuple[str, str] | None = None
    # Freshness. ``cadence_s``: a source of the feed reports at least this often (a footfall counter every
    # minute, zeros included); ``stale_after_s``: older than this, a screen shows the last value as 数据中断,
    # never as current; ``silence_window_s``: silence this long raises the silence alerts (three periods for
    # tourists, fifteen minutes for the minute feeds). The dashboards' and alert rules' SQL repeat these numbers
    # (tests/test_freshness.py checks that they agree).
    cadence_s: int = 60
    stale_after_s: int = 300
    silence_window_s: int = 900

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def level_table(self, level: str) -> str:
        return f"{self.name}_{LEVEL_TABLE[level]}"


def _columns(*specific: Column) -> tuple[Column, ...]:
    """Every feed's raw columns: id, time and 商圈 first, its own fields, the source last."""
    return (
        Column("event_id", TEXT),
        Column("event_time", TIME),
        Column("district", TEXT),
        *specific,
        Column("source", TEXT, ""),
    )


SALES = Feed(
    "sales",
    "retail.sales.v1",
    "retail.sales.v1.schema.json",
    "sales_raw",
    "sales_agg_1m",
    ("sector",),
    ("amount", "txn_count"),
    _columns(
        Column("sector", TEXT),
        Column("merchant_group", TEXT),
        Column("channel", TEXT, "in_store"),
        Column("amount", DECIMAL),
        Column("txn_count", INTEGER),
    ),
)
FOOTFALL = Feed(
    "footfall",
    "footfall.counts.v1",
    "footfall.counts.v1.schema.json",
    "footfall_raw",
    "footfall_agg_1m",
    (),
    ("entries", "exits"),
    _columns(Column("gate", TEXT), Column("entries", INTEGER), Column("exits", INTEGER)),
    occupancy=("entries", "exits"),
)
TOURISTS = Feed(
    "tourists",
    "tourism.arrivals.v1",
    "tourism.arrivals.v1.schema.json",
    "tourists_raw",
    "tourists_agg_1m",
    ("origin",),
    ("arrivals", "spend"),
    _columns(Column("origin", TEXT), Column("arrivals", INTEGER), Column("spend", DECIMAL, "0")),
    levels=("minute", "day", "month"),
    cadence_s=900,
    stale_after_s=1800,
    silence_window_s=2700,
)

GROUP_ID = "yzmon"  # the Faust app id, which is the workers' consumer group

FEEDS: dict[str, Feed] = {f.name: f for f in (SALES, FOOTFALL, TOURISTS)}
BY_TOPIC: dict[str, Feed] = {f.topic: f for f in FEEDS.values()}
