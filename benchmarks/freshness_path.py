"""Where a live event's freshness goes: its path from event time to the raw row's ``ingested_at``, split into
segments from the worker's ingest ledger (``ingest_batches``, one row per batch taken and partition) and the
producer's acknowledgements (each record's Kafka timestamp):

- send: event_time → the record's timestamp (the producer's bundle linger; the client stamps it at send)
- fetch_fill: record timestamp → the agent took the batch (client linger, broker, fetch wait, the batch's fill;
  ``batch_fill``, taken − the batch's first record's arrival in the worker, bounds the fill)
- prepare: taken → decoded and validated
- queue: prepared → the write began (the feed's previous write; the write thread's start)
- lock: the write began → its raw statement got the writer's lock (other feeds' statements, rollup refreshes)
- statement: got the lock → the row's ``ingested_at`` (the raw INSERT up to the row's timestamp)

The segments add up to ``ingested_at − event_time`` exactly (milliseconds). ``commit`` (``ingested_at`` → the
raw statement returned) comes after the measure and is reported beside it.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SEGMENTS = ("send", "fetch_fill", "prepare", "queue", "lock", "statement")
TAIL_SHARE = 0.01  # the slowest 1 % of events


@dataclass(frozen=True)
class FreshEvent:
    """One live event as the raw table holds it (milliseconds since the epoch)."""

    topic: str
    partition: int
    offset: int
    event_ms: int
    ingested_ms: int

    @property
    def total_ms(self) -> int:
        return self.ingested_ms - self.event_ms


@dataclass(frozen=True)
class BatchRow:
    """The ledger row of one batch taken from one partition (milliseconds since the epoch)."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    records: int
    taken_ms: int
    prepared_ms: int
    queued_ms: int
    started_ms: int
    raw_landed_ms: int
    lock_held_by: str
    min_record_ms: int
    max_record_ms: int
    arrived_ms: int  # the batch's first record reached the worker's streams (0: not recorded)

    @property
    def fill_ms(self) -> int | None:
        """The batch's fill time (taken − its first record's arrival): an upper bound of each event's own fill."""
        return self.taken_ms - self.arrived_ms if self.arrived_ms else None


LEDGER_SQL = (
    "SELECT topic, kafka_partition, first_offset, last_offset, records, "
    "toUnixTimestamp64Milli(taken_at) AS taken, toUnixTimestamp64Milli(prepared_at) AS prepared, "
    "toUnixTimestamp64Milli(write_queued_at) AS queued, toUnixTimestamp64Milli(write_started_at) AS started, "
    "toUnixTimestamp64Milli(raw_landed_at) AS raw_landed, lock_held_by, "
    "toUnixTimestamp64Milli(min_record_time) AS min_record, toUnixTimestamp64Milli(max_record_time) AS max_record, "
    "toUnixTimestamp64Milli(first_arrived_at) AS arrived "
    "FROM ingest_batches FINAL WHERE toUnixTimestamp64Milli(landed_at) >= {since:Int64} ORDER BY ALL"
)


# The engine's counters over the freshness phase: inserts ClickHouse delayed because a table had too many parts
# (parts_to_delay_insert) and background merges (the read path serves system.events, not system.parts).
ENGINE_EVENTS = (
    "DelayedInserts",
    "DelayedInsertsMilliseconds",
    "RejectedInserts",
    "Merge",
    "MergedRows",
    "InsertQuery",
)
# The store's work over a drain or a year: its statements, the rows they read and wrote, its background merges (a
# merge runs on one of the engine's background threads, so its milliseconds are mostly CPU time of the worker's
# process) and the engine threads' CPU.
WORK_EVENTS = (
    "InsertQuery",
    "InsertedRows",
    "SelectQuery",
    "SelectedRows",
    "SelectedBytes",
    "Merge",
    "MergedRows",
    "MergeTotalMilliseconds",
    "UserTimeMicroseconds",
    "SystemTimeMicroseconds",
)
EVENTS_SQL = "SELECT event, value FROM system.events WHERE event IN {names:Array(String)}"


def engine_delta(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]], names: Iterable[str] = ENGINE_EVENTS
) -> dict[str, int]:
    """How far each of ``names`` moved between two readings of :data:`EVENTS_SQL` (``before`` and ``after``)."""
    was = {str(r["event"]): int(r["value"]) for r in before}
    wanted = set(names)
    return {name: int(r["value"]) - was.get(name, 0) for r in after if (name := str(r["event"])) in wanted}


def ledger_rows(result: Iterable[Mapping[str, Any]]) -> list[BatchRow]:
    """The rows of :data:`LEDGER_SQL` as :class:`BatchRow`."""
    return [
        BatchRow(
            str(r["topic"]),
            int(r["kafka_partition"]),
            int(r["first_offset"]),
            int(r["last_offset"]),
            int(r["records"]),
            *(int(r[k]) for k in ("taken", "prepared", "queued", "started", "raw_landed")),
            str(r["lock_held_by"]),
            int(r["min_record"]),
            int(r["max_record"]),
            int(r["arrived"]),
        )
        for r in result
    ]


def segments(event: FreshEvent, row: BatchRow, record_ms: int | None) -> dict[str, int]:
    """The event's path in milliseconds. Without its record's timestamp, the row's earliest record time stands
    in for it: send is then understated and fetch_fill overstated by at most the row's record time span."""
    record = record_ms if record_ms is not None else row.min_record_ms
    return {
        "send": record - event.event_ms,
        "fetch_fill": row.taken_ms - record,
        "prepare": row.prepared_ms - row.taken_ms,
        "queue": row.queued_ms - row.prepared_ms,
        "lock": row.started_ms - row.queued_ms,
        "statement": event.ingested_ms - row.started_ms,
    }


def _row_of(index: dict[tuple[str, int], tuple[list[int], list[BatchRow]]], e: FreshEvent) -> BatchRow | None:
    found = index.get((e.topic, e.partition))
    if found is None:
        return None
    starts, rows = found
    at = bisect_right(starts, e.offset) - 1
    return rows[at] if at >= 0 and rows[at].last_offset >= e.offset else None


def breakdown(
    events: list[FreshEvent],
    ledger: list[BatchRow],
    record_ms: Mapping[tuple[str, int, int], int],
    share: float = TAIL_SHARE,
) -> dict[str, Any]:
    """The path of the slowest ``share`` of ``events``: the median of each segment among them (and among all
    events, to compare), what held the writer's lock while they waited, and the slowest event's full path.
    ``record_ms``: each record's Kafka timestamp by (topic, partition, offset)."""
    index: dict[tuple[str, int], tuple[list[int], list[BatchRow]]] = {}
    for row in sorted(ledger, key=lambda r: (r.topic, r.partition, r.first_offset)):
        starts, rows = index.setdefault((row.topic, row.partition), ([], []))
        starts.append(row.first_offset)
        rows.append(row)
    paths = []
    for e in events:
        row = _row_of(index, e)
        if row is not None and row.started_ms > 0:
            paths.append((e, row, segments(e, row, record_ms.get((e.topic, e.partition, e.offset)))))
    out: dict[str, Any] = {"events": len(paths), "unmatched": len(events) - len(paths)}
    if not paths:
        return out
    paths.sort(key=lambda p: p[0].total_ms, reverse=True)
    tail = paths[: max(1, round(len(paths) * share))]
    out["median_ms"] = _medians(p[2] for p in paths)
    out["tail"] = {
        "events": len(tail),
        "from_ms": tail[-1][0].total_ms,
        "median_ms": _medians(p[2] for p in tail),
        "batches": len({id(p[1]) for p in tail}),
        "lock_held_by": _holders({id(p[1]): p[1] for p in tail}.values()),
        "commit_median_ms": statistics.median(p[1].raw_landed_ms - p[0].ingested_ms for p in tail),
        "batch_fill_median_ms": _median(p[1].fill_ms for p in tail),
    }
    e, row, path = paths[0]
    out["worst"] = {
        "total_ms": e.total_ms,
        **path,
        "commit": row.raw_landed_ms - e.ingested_ms,
        "batch_fill": row.fill_ms,
        "topic": e.topic,
        "partition": e.partition,
        "offset": e.offset,
        "batch_records": row.records,
        "lock_held_by": row.lock_held_by,
        "record_time_known": (e.topic, e.partition, e.offset) in record_ms,
    }
    return out


def _medians(paths: Iterable[dict[str, int]]) -> dict[str, float]:
    paths = list(paths)
    return {s: statistics.median(p[s] for p in paths) for s in SEGMENTS}


def _median(values: Iterable[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _holders(rows: Iterable[BatchRow]) -> dict[str, int]:
    """Milliseconds each table's statements held the lock between the take and the raw statement of the tail's
    batches, summed over the batches."""
    held: Counter[str] = Counter()
    for row in rows:
        for part in filter(None, row.lock_held_by.split(", ")):
            label, _, ms = part.rpartition(" ")
            if label and ms.isdigit():
                held["others" if label.startswith("others (") else label] += int(ms)
    return dict(held.most_common())


def describe(path: dict[str, Any]) -> str:
    """One line: the tail's medians and the worst event's path."""
    tail, worst = path.get("tail"), path.get("worst")
    if not tail or not worst:
        return f"freshness path: no event matched its batch ({path.get('unmatched', 0)} unmatched)"
    medians = " · ".join(f"{s} {tail['median_ms'][s]:g}" for s in SEGMENTS)
    steps = " · ".join(f"{s} {worst[s]}" for s in SEGMENTS)
    held = ", ".join(f"{k} {v}" for k, v in list(tail["lock_held_by"].items())[:6]) or "nothing"
    engine = path.get("engine") or {}
    moved = ", ".join(f"{k} {v:,}" for k, v in engine.items()) or "nothing"
    return (
        f"freshness path, engine during the phase: {moved}; "
        f"slowest {tail['events']} events (≥ {tail['from_ms']} ms), medians ms: {medians}; "
        f"lock held between take and raw statement by (ms, summed over {tail['batches']} batches): {held}; "
        f"batch fill median {tail['batch_fill_median_ms']}; "
        f"worst {worst['total_ms']} ms: {steps} (batch fill {worst['batch_fill']}, then commit {worst['commit']}; "
        f"{worst['topic']} "
        f"p{worst['partition']} @{worst['offset']}, batch of {worst['batch_records']} records, "
        f"lock held since its take by: {worst['lock_held_by'] or 'nothing'})"
    )
