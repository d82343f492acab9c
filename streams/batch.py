"""Pure batch preparation: decode a batch of Kafka records into raw-table columns and rejections."""

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
class Prepared:
    feed: Feed
    columns: list[list[Any]]  # column-oriented raw rows, RAW_COLUMNS + kafka_partition, kafka_offset
    rejected: list[tuple[Record, Rejection]] = field(default_factory=list)
    touched: set[tuple[str, datetime]] = field(default_factory=set)

    @property
    def column_names(self) -> list[str]:
        return [*RAW_COLUMNS[self.feed.name], "kafka_partition", "kafka_offset"]

    @property
    def accepted(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def prepare(feed: Feed, records: list[Record], now: datetime, future_tolerance: timedelta) -> Prepared:
    """Split a batch into accepted rows (column-oriented) and rejected records with their reasons."""
    width = len(RAW_COLUMNS[feed.name]) + 2
    columns: list[list[Any]] = [[] for _ in range(width)]
    out = Prepared(feed, columns)
    for record in records:
        result = decode(feed, record.value, now, future_tolerance)
        if isinstance(result, Rejection):
            out.rejected.append((record, result))
            continue
        row = (*to_row(feed, result), record.partition, record.offset)
        for column, value in zip(columns, row, strict=True):
            column.append(value)
        out.touched.add((row[2], row[1]))  # (district, event_time)
    return out
