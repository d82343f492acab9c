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
    few: bool = False  # TEXT with few distinct values (商圈, a dimension, a code): LowCardinality(String)

    @property
    def raw_type(self) -> str:
        """The column's ClickHouse type in the raw table."""
        if self.kind == TEXT:
            return "LowCardinality(String)" if self.few else "String"
        return RAW_TYPE[self.kind]


# ClickHouse types: raw columns by kind; summed measures, the level's time column and the bookkeeping columns
# of the rollup tables.
RAW_TYPE = {INTEGER: "UInt32", DECIMAL: "Decimal(18, 2)", TIME: "DateTime64(3, 'Asia/Shanghai')"}
SUM_TYPE = {INTEGER: "UInt64", DECIMAL: "Decimal(18, 2)"}
KAFKA_COLUMNS = (("kafka_partition", "UInt16"), ("kafka_offset", "UInt64"))
INGESTED_AT = ("ingested_at", "DateTime64(3, 'Asia/Shanghai')")
COMPUTED_AT = ("computed_at", "DateTime64(6, 'Asia/Shanghai')")


# Rollup levels, finest first: the level's time column, its table suffix, and the ClickHouse function that
# puts a finer time into its bucket.
# Occupancy re-zeroes at the quietest hour, 06:00 Asia/Shanghai: people inside at midnight stay inside,
# and night hours belong to the business day (06:00 to 06:00) of the evening they follow.
BUSINESS_DAY_START_HOUR = 6

LEVEL_TIME = {"minute": "minute", "hour": "hour", "day": "day", "month": "month"}
LEVEL_TABLE = {"minute": "agg_1m", "hour": "hourly", "day": "daily", "month": "monthly"}
LEVEL_BUCKET = {"minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toDate", "month": "toStartOfMonth"}
LEVEL_TIME_TYPE = {
    "minute": "DateTime('Asia/Shanghai')",
    "hour": "DateTime('Asia/Shanghai')",
    "day": "Date",
    "month": "Date",
}


@dataclass(frozen=True)
class Feed:
    name: str  # sales | footfall | tourists
    topic: str
    schema_file: str
    raw_table: str
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
        """The rollup table of a level: ``level_table("minute")`` is the 1-minute aggregates."""
        return f"{self.name}_{LEVEL_TABLE[level]}"

    def raw_table_columns(self) -> tuple[tuple[str, str], ...]:
        """(name, ClickHouse type) of every raw-table column, in table order: the event's, the Kafka position,
        the landing time."""
        return (*((c.name, c.raw_type) for c in self.columns), *KAFKA_COLUMNS, INGESTED_AT)

    def level_columns(self, level: str) -> tuple[tuple[str, str], ...]:
        """(name, ClickHouse type) of every column of a level's rollup table, in table order: the time bucket,
        商圈 and dimensions, the summed measures, occupancy (running at the minute level, its peak above),
        the minute's event count, the refresh time."""
        kinds = {c.name: c.kind for c in self.columns}
        out = [(LEVEL_TIME[level], LEVEL_TIME_TYPE[level])]
        out += [(key, "LowCardinality(String)") for key in ("district", *self.dims)]
        out += [(m, SUM_TYPE[kinds[m]]) for m in self.measures]
        if self.occupancy:
            out.append(("occupancy" if level == "minute" else "peak_occupancy", "Int64"))
        if level == "minute":
            out.append(("events", "UInt64"))
        return (*out, COMPUTED_AT)


def _columns(*specific: Column) -> tuple[Column, ...]:
    """Every feed's raw columns: id, time and 商圈 first, its own fields, the source last."""
    return (
        Column("event_id", TEXT),
        Column("event_time", TIME),
        Column("district", TEXT, few=True),
        *specific,
        Column("source", TEXT, "", few=True),
    )


SALES = Feed(
    "sales",
    "retail.sales.v1",
    "retail.sales.v1.schema.json",
    "sales_raw",
    ("sector",),
    ("amount", "txn_count"),
    _columns(
        Column("sector", TEXT, few=True),
        Column("merchant_group", TEXT),
        Column("channel", TEXT, "in_store", few=True),
        Column("amount", DECIMAL),
        Column("txn_count", INTEGER),
    ),
)
FOOTFALL = Feed(
    "footfall",
    "footfall.counts.v1",
    "footfall.counts.v1.schema.json",
    "footfall_raw",
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
    ("origin",),
    ("arrivals", "spend"),
    _columns(Column("origin", TEXT, few=True), Column("arrivals", INTEGER), Column("spend", DECIMAL, "0")),
    levels=("minute", "day", "month"),
    cadence_s=900,
    stale_after_s=1800,
    silence_window_s=2700,
)

GROUP_ID = "yzmon"  # the Faust app id, which is the workers' consumer group

FEEDS: dict[str, Feed] = {f.name: f for f in (SALES, FOOTFALL, TOURISTS)}
BY_TOPIC: dict[str, Feed] = {f.topic: f for f in FEEDS.values()}
