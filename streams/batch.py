"""Pure batch preparation: decode a batch of Kafka records (single events or bundles) into raw-table
columns, rejections, touched minutes and per-partition ingest statistics (including late events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.contracts import RAW_COLUMNS, Rejection, decode_record, to_columns
from schemas.feeds import Feed


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker needs of one Kafka record."""

    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused event (or whole record, ``index`` -1) with the bytes that go to the dead-letter topic."""

    record: Record
    index: int
    payload: bytes
    why: Rejection


@dataclass
class PartitionStats:
    first_offset: int
    last_offset: int
    records: int = 0  # Kafka records
    accepted: int = 0  # events
    rejected: int = 0
    late: int = 0
    min_event_time: datetime | None = None
    max_event_time: datetime | None = None

    def row(self, topic: str, partition: int) -> tuple:
        lo = self.min_event_time or datetime.fromtimestamp(0).astimezone()
        hi = self.max_event_time or lo
        return (
            topic,
            partition,
            self.first_offset,
            self.last_offset,
            self.records,
            self.accepted,
            self.rejected,
            self.late,
            lo,
            hi,
        )


INGEST_COLUMNS = [
    "topic",
    "kafka_partition",
    "first_offset",
    "last_offset",
    "records",
    "accepted",
    "rejected",
    "late",
    "min_event_time",
    "max_event_time",
]


@dataclass
class Prepared:
    feed: Feed
    columns: list[list[Any]]  # column-oriented raw rows, RAW_COLUMNS + kafka_partition, kafka_offset
    rejected: list[Refused] = field(default_factory=list)
    touched: set[tuple[str, int]] = field(default_factory=set)  # (district, start of the minute in epoch seconds)
    partitions: dict[int, PartitionStats] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [*RAW_COLUMNS[self.feed.name], "kafka_partition", "kafka_offset"]

    @property
    def accepted(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @property
    def late(self) -> int:
        return sum(p.late for p in self.partitions.values())

    def ingest_rows(self) -> list[tuple]:
        return [s.row(self.feed.topic, p) for p, s in sorted(self.partitions.items())]


def prepare(
    feed: Feed,
    records: list[Record],
    now: datetime,
    future_tolerance: timedelta,
    watermarks: dict[tuple[int, str], datetime] | None = None,
    lateness: timedelta = timedelta(minutes=10),
) -> Prepared:
    """Split a batch into accepted rows (column-oriented) and refused events with their reasons.

    ``watermarks`` (the latest event time seen per partition and 商圈, updated in place) marks as
    late any event older than its 商圈's watermark in that partition minus ``lateness``. Per 商圈,
    because a 商圈 is the record key: its events arrive in order, while bundles of different 商圈
    sharing a partition may interleave hours apart during a fast replay. Late events are still
    landed and aggregated; they are counted so that lateness is visible.
    """
    watermarks = {} if watermarks is None else watermarks
    width = len(RAW_COLUMNS[feed.name]) + 2
    columns: list[list[Any]] = [[] for _ in range(width)]
    out = Prepared(feed, columns)
    district_column = columns[2]
    marks: dict[tuple[int, str], float] = {}  # the watermarks in epoch seconds, as this batch moves them
    for record in records:
        stats = out.partitions.get(record.partition)
        if stats is None:
            stats = out.partitions[record.partition] = PartitionStats(record.offset, record.offset)
        stats.first_offset = min(stats.first_offset, record.offset)
        stats.last_offset = max(stats.last_offset, record.offset)
        stats.records += 1
        decoded = decode_record(feed, record.value, now, future_tolerance)
        for index, payload, why in decoded.rejected:
            out.rejected.append(Refused(record, index, payload, why))
        stats.rejected += len(decoded.rejected)
        if not decoded.events:
            continue
        start = len(district_column)
        for column, values in zip(columns, to_columns(feed, decoded.events, decoded.times), strict=False):
            column.extend(values)
        n = len(decoded.events)
        columns[-2].extend([record.partition] * n)
        columns[-1].extend([record.offset] * n)
        stats.accepted += n
        times, stamps = decoded.times, decoded.stamps
        out.touched.update(zip(district_column[start:], [int(t) // 60 * 60 for t in stamps], strict=True))
        behind = lateness.total_seconds()
        for i, (district, stamp) in enumerate(zip(district_column[start:], stamps, strict=True)):
            key = (record.partition, district)
            mark_s = marks.get(key)
            if mark_s is None and key in watermarks:
                mark_s = marks[key] = watermarks[key].timestamp()
            if mark_s is None or stamp > mark_s:
                marks[key], watermarks[key] = stamp, times[i]
            elif stamp < mark_s - behind:
                stats.late += 1
        lo, hi = times[stamps.index(min(stamps))], times[stamps.index(max(stamps))]
        stats.min_event_time = lo if stats.min_event_time is None else min(stats.min_event_time, lo)
        stats.max_event_time = hi if stats.max_event_time is None else max(stats.max_event_time, hi)
    return out
