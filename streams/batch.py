"""Pure batch preparation: decode a batch of Kafka records into raw-table columns, rejections,
touched windows and per-partition ingest statistics (including late events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.contracts import RAW_COLUMNS, Rejection, decode, to_row
from yzmon.feeds import Feed


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker needs of one Kafka record."""

    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass
class PartitionStats:
    first_offset: int
    last_offset: int
    records: int = 0
    accepted: int = 0
    rejected: int = 0
    late: int = 0
    min_event_time: datetime | None = None
    max_event_time: datetime | None = None

    def row(self, topic: str, partition: int) -> tuple:
        lo = self.min_event_time or datetime.fromtimestamp(0).astimezone()
        hi = self.max_event_time or lo
        return (topic, partition, self.first_offset, self.last_offset, self.records, self.accepted, self.rejected,
                self.late, lo, hi)


INGEST_COLUMNS = ["topic", "kafka_partition", "first_offset", "last_offset", "records", "accepted", "rejected",
                  "late", "min_event_time", "max_event_time"]


@dataclass
class Prepared:
    feed: Feed
    columns: list[list[Any]]  # column-oriented raw rows, RAW_COLUMNS + kafka_partition, kafka_offset
    rejected: list[tuple[Record, Rejection]] = field(default_factory=list)
    touched: set[tuple[str, datetime]] = field(default_factory=set)
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


def prepare(feed: Feed, records: list[Record], now: datetime, future_tolerance: timedelta,
            watermarks: dict[int, datetime] | None = None, lateness: timedelta = timedelta(minutes=10)) -> Prepared:
    """Split a batch into accepted rows (column-oriented) and rejected records with their reasons.

    ``watermarks`` (the latest event time seen per partition, updated in place) marks as late any
    event older than its partition's watermark minus ``lateness``. Late events are still landed
    and aggregated; they are counted so that lateness is visible.
    """
    watermarks = {} if watermarks is None else watermarks
    width = len(RAW_COLUMNS[feed.name]) + 2
    columns: list[list[Any]] = [[] for _ in range(width)]
    out = Prepared(feed, columns)
    for record in records:
        stats = out.partitions.get(record.partition)
        if stats is None:
            stats = out.partitions[record.partition] = PartitionStats(record.offset, record.offset)
        stats.first_offset = min(stats.first_offset, record.offset)
        stats.last_offset = max(stats.last_offset, record.offset)
        stats.records += 1
        result = decode(feed, record.value, now, future_tolerance)
        if isinstance(result, Rejection):
            out.rejected.append((record, result))
            stats.rejected += 1
            continue
        row = (*to_row(feed, result), record.partition, record.offset)
        for column, value in zip(columns, row, strict=True):
            column.append(value)
        when: datetime = row[1]
        out.touched.add((row[2], when))  # (district, event_time)
        stats.accepted += 1
        mark = watermarks.get(record.partition)
        if mark is not None and when < mark - lateness:
            stats.late += 1
        if mark is None or when > mark:
            watermarks[record.partition] = when
        stats.min_event_time = when if stats.min_event_time is None else min(stats.min_event_time, when)
        stats.max_event_time = when if stats.max_event_time is None else max(stats.max_event_time, when)
    return out
