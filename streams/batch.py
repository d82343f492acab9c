"""Pure batch preparation: decode a batch of Kafka records (single events or bundles) into the raw rows
to land, rejections, touched time ranges and per-partition ingest statistics (including late events).

The raw rows stay JSON: one JSONEachRow line per record, ``{"p": partition, "o": offset, "b": [events]}``,
re-serialised from the validated events, which ClickHouse parses into the raw table's columns (see
``streams.sink``). Python only decodes, validates and reads each event's time and 商圈: a bundle in one
compiled pass (``schemas.structs``) when all its events are valid, else event by event
(``schemas.contracts``), which gives each refused event its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import accumulate, islice
from operator import le
from typing import Any, NamedTuple

import orjson

from schemas.contracts import MAX_BUNDLE_BYTES, Rejection, decode_record, to_columns
from schemas.feeds import Feed
from schemas.structs import decode_bundle
from schemas.zone import ZONE


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker needs of one Kafka record."""

    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp: float | None = None  # the record's Kafka timestamp (the producer's create time), epoch seconds


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused event (or whole record, ``index`` -1) with the bytes that go to the dead-letter topic."""

    record: Record  # where it came from: its value is dropped (a refused event of a bundle keeps only its own bytes)
    index: int
    payload: bytes
    why: Rejection


class IngestRow(NamedTuple):
    """One row of ``ingest_batches``: what a batch took from one partition, and its path through the worker
    (times as epoch-second datetimes; 1970-01-01 when not recorded)."""

    topic: str
    kafka_partition: int
    first_offset: int
    last_offset: int
    records: int
    accepted: int
    rejected: int
    late: int
    min_event_time: datetime
    max_event_time: datetime
    min_record_time: datetime
    max_record_time: datetime
    first_arrived_at: datetime
    taken_at: datetime
    prepared_at: datetime
    write_queued_at: datetime
    write_started_at: datetime
    raw_landed_at: datetime
    lock_held_by: str


INGEST_COLUMNS = list(IngestRow._fields)


@dataclass
class PartitionStats:
    first_offset: int
    last_offset: int
    records: int = 0  # Kafka records
    accepted: int = 0  # events
    rejected: int = 0
    late: int = 0
    min_stamp: float | None = None  # event times, epoch seconds
    max_stamp: float | None = None
    min_record_stamp: float | None = None  # Kafka record timestamps, epoch seconds
    max_record_stamp: float | None = None

    def row(self, topic: str, partition: int, take: Prepared, write: WriteTimes) -> IngestRow:
        """The partition's row: its counts, the times of the batch ``take`` it belongs to, and of its ``write``."""
        lo = datetime.fromtimestamp(self.min_stamp or 0, ZONE)
        hi = datetime.fromtimestamp(self.max_stamp, ZONE) if self.max_stamp is not None else lo
        return IngestRow(
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
            _at(self.min_record_stamp),
            _at(self.max_record_stamp),
            _at(take.arrived_at),
            _at(take.taken_at),
            _at(take.prepared_at),
            _at(write.queued_at),
            _at(write.started_at),
            _at(write.raw_landed_at),
            write.lock_held_by,
        )


def _at(stamp: float | None) -> datetime:
    return datetime.fromtimestamp(stamp if stamp is not None and stamp > 0 else 0, ZONE)


@dataclass
class WriteTimes:
    """When the sink wrote a batch (epoch seconds, 0 when not written): the write began and waited for the
    writer's lock (``queued_at``), the raw rows' statement got it (``started_at``) and returned
    (``raw_landed_at``); ``lock_held_by``: the statements that held the lock from the batch's take until then
    (the table each wrote, milliseconds), longest first."""

    queued_at: float = 0.0
    started_at: float = 0.0
    raw_landed_at: float = 0.0
    lock_held_by: str = ""


@dataclass
class Prepared:
    """A batch ready to land: raw rows of one feed (JSON lines, or Python columns), refusals, touched windows."""

    feed: Feed
    lines: list[bytes] = field(default_factory=list)  # JSONEachRow: {"p": partition, "o": offset, "b": [events]}
    accepted: int = 0  # events in ``lines`` (or in ``columns``)
    size: int = 0  # bytes of ``lines``
    rejected: list[Refused] = field(default_factory=list)
    # (district, from, to): minute-aligned epoch-second ranges holding the accepted events; a bundle of one 商圈
    # gives one range (its first to its last event's minute), so a range may hold minutes without events
    touched: set[tuple[str, int, int]] = field(default_factory=set)
    partitions: dict[int, PartitionStats] = field(default_factory=dict)
    # Alternatively, raw rows as Python columns (the feed's columns, then kafka_partition, kafka_offset):
    # for tools that build rows without JSON.
    columns: list[list[Any]] | None = None
    # The path (epoch seconds, 0 when not recorded): the batch's first record reached the worker, the agent
    # took the records and prepared them; the sink fills ``write``. A merged batch keeps the batches it merged
    # (``takes``): one ingest row per batch taken and partition, so each row's take times hold for its offsets.
    arrived_at: float = 0.0
    taken_at: float = 0.0
    prepared_at: float = 0.0
    write: WriteTimes = field(default_factory=WriteTimes)
    takes: list[Prepared] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [*self.feed.column_names, "kafka_partition", "kafka_offset"]

    @property
    def late(self) -> int:
        return sum(p.late for p in self.partitions.values())

    def wrote(self, times: WriteTimes) -> None:
        """Record the times of the write that landed this batch's raw rows, on it and on each batch it merged."""
        for take in [self, *self.takes]:
            take.write = times

    def ingest_rows(self) -> list[IngestRow]:
        """One row per partition of each batch taken (one, or those merged into this one), with the times of
        the write that landed its raw rows."""
        return [
            s.row(self.feed.topic, p, take, take.write)
            for take in self.takes or [self]
            for p, s in sorted(take.partitions.items())
        ]

    def events(self) -> list[dict[str, Any]]:
        """The accepted events, decoded again from the lines (for checks and tools, not the hot path)."""
        return [event for line in self.lines for event in orjson.loads(line)["b"]]

    def raw_columns(self) -> list[list[Any]]:
        """The accepted events as the raw table's Python columns (the Kafka position columns last)."""
        if self.columns is not None:
            return self.columns
        wrapped = [orjson.loads(line) for line in self.lines]
        events = [e for w in wrapped for e in w["b"]]
        columns = to_columns(self.feed, events) if events else [[] for _ in self.feed.columns]
        columns.append([w["p"] for w in wrapped for _ in w["b"]])
        columns.append([w["o"] for w in wrapped for _ in w["b"]])
        return columns


def prepare(
    feed: Feed,
    records: list[Record],
    now: datetime,
    future_tolerance: timedelta,
    watermarks: dict[tuple[int, str], float] | None = None,
    lateness: timedelta = timedelta(minutes=10),
) -> Prepared:
    """Split a batch into accepted rows (JSON lines) and refused events with their reasons.

    ``watermarks`` (the latest event time seen per partition and 商圈, epoch seconds, updated in place)
    marks as late any event older than its 商圈's watermark in that partition minus ``lateness``. Per
    商圈, because a 商圈 is the record key: its events arrive in order, while bundles of different 商圈
    sharing a partition may interleave hours apart during a fast replay. Late events are still
    landed and aggregated; they are counted so that lateness is visible.
    """
    watermarks = {} if watermarks is None else watermarks
    out = Prepared(feed)
    behind = lateness.total_seconds()
    latest = (now + future_tolerance).timestamp()
    for record in records:
        partition = record.partition
        stats = out.partitions.get(partition)
        if stats is None:
            stats = out.partitions[partition] = PartitionStats(record.offset, record.offset)
        stats.first_offset = min(stats.first_offset, record.offset)
        stats.last_offset = max(stats.last_offset, record.offset)
        stats.records += 1
        if (stamp := record.timestamp) is not None:
            stats.min_record_stamp = _either(min, stats.min_record_stamp, stamp)
            stats.max_record_stamp = _either(max, stats.max_record_stamp, stamp)
        value = record.value
        fast = decode_bundle(feed, value, latest) if value[:1] == b"[" and len(value) <= MAX_BUNDLE_BYTES else None
        if fast is not None:
            body, districts, stamps = fast.json, fast.districts, fast.stamps
        else:
            decoded = decode_record(feed, value, now, future_tolerance)
            for index, payload, why in decoded.rejected:  # the record's position; its bytes only as payload
                out.rejected.append(Refused(replace(record, value=b""), index, payload, why))
            stats.rejected += len(decoded.rejected)
            if not decoded.events:
                continue
            body, stamps = orjson.dumps(decoded.events), decoded.stamps
            districts = [e["district"] for e in decoded.events]
        n = len(stamps)
        line = b'{"p":%d,"o":%d,"b":%b}\n' % (partition, record.offset, body)
        out.lines.append(line)
        out.size += len(line)
        out.accepted += n
        stats.accepted += n
        lo, hi = min(stamps), max(stamps)
        if districts.count(districts[0]) == n:  # a bundle of one 商圈 (the record key)
            district = districts[0]
            out.touched.add((district, int(lo) // 60 * 60, int(hi) // 60 * 60 + 60))
            stats.late += _late(watermarks, (partition, district), stamps, lo, hi, behind)
        else:  # a bundle of several 商圈: a minute per event
            for district, stamp in zip(districts, stamps, strict=True):
                minute = int(stamp) // 60 * 60
                out.touched.add((district, minute, minute + 60))
                stats.late += _late(watermarks, (partition, district), [stamp], stamp, stamp, behind)
        stats.min_stamp = lo if stats.min_stamp is None else min(stats.min_stamp, lo)
        stats.max_stamp = hi if stats.max_stamp is None else max(stats.max_stamp, hi)
    return out


def _late(
    watermarks: dict[tuple[int, str], float],
    key: tuple[int, str],
    stamps: list[float],
    lo: float,
    hi: float,
    behind: float,
) -> int:
    """Count the stamps older than the running watermark minus ``behind`` (``lo``, ``hi``: their minimum and
    maximum); move the watermark."""
    mark = watermarks.get(key)
    start = stamps[0] if mark is None else mark
    watermarks[key] = max(start, hi)
    if lo >= max(start, hi) - behind:  # none can be late: skip the running maximum
        return 0
    if lo >= start - behind and all(map(le, stamps, islice(stamps, 1, None))):
        return 0  # in order, so the running maximum before each stamp is the stamp before it
    running = accumulate(stamps, max, initial=start)
    return sum(1 for stamp, before in zip(stamps, running, strict=False) if stamp < before - behind)


def merge(batches: list[Prepared]) -> Prepared:
    """One batch holding several prepared batches of the same feed, in order (to land them in one write).

    Its partition counts sum theirs; its ingest rows stay theirs (``takes``), each with its own take times."""
    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    out = Prepared(first.feed, arrived_at=first.arrived_at, taken_at=first.taken_at, prepared_at=first.prepared_at)
    out.takes = [take for batch in batches for take in batch.takes or [batch]]
    for batch in batches:
        if batch.feed != out.feed or batch.columns is not None:
            raise ValueError("only JSON-line batches of one feed merge")
        out.lines.extend(batch.lines)
        out.size += batch.size
        out.accepted += batch.accepted
        out.rejected.extend(batch.rejected)
        out.touched |= batch.touched
        for partition, stats in batch.partitions.items():
            into = out.partitions.get(partition)
            if into is None:
                out.partitions[partition] = PartitionStats(**vars(stats))
                continue
            into.first_offset = min(into.first_offset, stats.first_offset)
            into.last_offset = max(into.last_offset, stats.last_offset)
            into.records += stats.records
            into.accepted += stats.accepted
            into.rejected += stats.rejected
            into.late += stats.late
            into.min_stamp = _either(min, into.min_stamp, stats.min_stamp)
            into.max_stamp = _either(max, into.max_stamp, stats.max_stamp)
            into.min_record_stamp = _either(min, into.min_record_stamp, stats.min_record_stamp)
            into.max_record_stamp = _either(max, into.max_record_stamp, stats.max_record_stamp)
    return out


def _either(pick, a: float | None, b: float | None) -> float | None:
    """``pick`` (min or max) of the stamps that are recorded; None when neither is."""
    return b if a is None else a if b is None else pick(a, b)
