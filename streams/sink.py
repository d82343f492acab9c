"""Land prepared batches in ClickHouse: raw rows, rejected events, ingest statistics, then the touched
windows of every rollup level. One attempt per call; the retry policy (``streams.retry``) and the
outage drill (``streams.drill``) stand beside the sink.

The raw rows arrive as JSON lines (see ``streams.batch``) and ClickHouse parses them: one
``INSERT … SELECT … ARRAY JOIN`` per batch reads each record's events into the raw table's columns,
with the defaults and types of the feed registry. With chDB the lines go through a temporary file
(``file()``); with a ClickHouse server, in the request body (``input()``).

At-least-once delivery plus deduplicating tables give exact results: the agent acknowledges a
batch (so Faust may commit its offsets) only after :meth:`ClickHouseSink.land` has returned.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from schemas.feeds import DECIMAL, INTEGER, TEXT, TIME, Feed
from streams.batch import INGEST_COLUMNS, Prepared, WriteTimes
from streams.rollups import refreshes
from yzcore.migrate import require_current
from yzcore.store import connect


@dataclass
class SinkStats:
    """Counters the worker reports on /status."""

    landed: Counter = field(default_factory=Counter)  # rows accepted, per feed
    late: Counter = field(default_factory=Counter)  # accepted events older than watermark − lateness, per feed
    rejected: Counter = field(default_factory=Counter)  # per (feed, reason)
    batches: int = 0
    write_errors: int = 0
    retrying: bool = False
    last_error: str = ""
    last_landed_at: float = 0.0


HELD_KEPT = 256  # statements the sink remembers having held the writer's lock
HELD_SHOWN = 12  # of those, most named in an ingest row's lock_held_by (the longest)


class StoreUnavailable(RuntimeError):
    """The store refused or could not take a write."""


class WriterLock:
    """The writer's lock, taken per statement: statements that land raw rows go before the rollup refreshes
    waiting for it, so a batch's events become queryable without waiting for other batches' rollups."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._urgent = 0  # urgent statements waiting

    @contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        with self._changed:
            self._urgent += urgent
            try:
                while self._busy or (not urgent and self._urgent):
                    self._changed.wait()
            finally:
                self._urgent -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


# -- raw rows: JSON lines parsed by ClickHouse -------------------------------------------------------

# How each kind of field is read from JSON (integers as Float64: JSON Schema's integer admits 3.0) and the
# insert casts to the raw table's column type.
_JSON_TYPE = {TEXT: "String", INTEGER: "Float64", DECIMAL: "String", TIME: "String"}


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def raw_structure(feed: Feed) -> str:
    """The JSON lines' structure: partition, offset and the array of events as named tuples."""
    fields = ", ".join(
        f"{c.name} {_JSON_TYPE[c.kind] if c.default is None else f'Nullable({_JSON_TYPE[c.kind]})'}"
        for c in feed.columns
    )
    return f"p UInt16, o UInt64, b Array(Tuple({fields}))"


def insert_without_pandas() -> None:
    """Make clickhouse-connect treat pandas as absent in this process, as where pandas is not installed.

    Its ``insert`` imports pandas only to ask whether the rows are a DataFrame, and pandas then holds about
    40 MB of resident memory (a process that opened the embedded store and inserted two rows: 376 MB with
    it, 336 MB without). For the worker, which never passes nor asks for a DataFrame.
    """
    from clickhouse_connect.driver import options

    options.pd = None  # the state clickhouse-connect records when ``import pandas`` fails
    options.pd_time_test = None


def raw_insert(feed: Feed, source: str) -> str:
    """INSERT … SELECT of the raw rows in ``source`` (a table function yielding :func:`raw_structure`)."""
    values = []
    for c in feed.columns:
        value = f"e.{c.name}"
        if c.default is not None:
            value = f"ifNull({value}, {_sql_string(c.default)})"
        if c.kind == TIME:
            value = f"parseDateTime64BestEffort({value}, 3, 'Asia/Shanghai')"
        values.append(value)
    columns = ", ".join([*feed.column_names, "kafka_partition", "kafka_offset"])
    return f"INSERT INTO {feed.raw_table} ({columns}) SELECT {', '.join(values)}, p, o FROM {source} ARRAY JOIN b AS e"


# The embedded store shares the worker's cores with its Python thread: parsing a write's lines in parallel
# threads bought no wall time there (one thread parsed 10 days as fast) and cost a tenth more CPU.
_EMBEDDED_PARSING = " SETTINGS input_format_parallel_parsing = 0"


class ClickHouseSink:
    """Owns the worker's ClickHouse writer; its calls are serialised by a lock (reads never take it:
    they run on their own chDB sessions, `readpath.readengine`)."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.stats = SinkStats()
        self._client: Client | None = None
        self._lock = WriterLock()
        self._embedded = dsn.startswith("chdb:")
        # the latest statements that held the lock: (what they wrote, got it, released it), epoch seconds
        self._held: deque[tuple[str, float, float]] = deque(maxlen=HELD_KEPT)

    # -- store access ---------------------------------------------------------------------------
    def _ensure(self) -> Client:
        if self._client is None:
            client = connect(self.dsn)
            require_current(client)
            self._client = client
        return self._client

    def call(self, fn: Callable[[Client], object], urgent: bool = False, label: str = "") -> object:
        """Run ``fn`` on the writer's client under the writer's lock (``urgent``: ahead of waiting non-urgent calls);
        ``label`` (the table it writes) names it to the statements that waited meanwhile."""
        with self._lock.hold(urgent):
            started = time.time()
            try:
                return fn(self._ensure())
            finally:
                self._held.append((label, started, time.time()))

    def _held_since(self, since: float) -> str:
        """The statements that released the lock after ``since`` (call it holding the lock): the table each wrote
        and the milliseconds it held the lock, longest first; past :data:`HELD_SHOWN`, the rest summed."""
        held = sorted(((end - start, label) for label, start, end in self._held if end > since), reverse=True)
        named = [f"{label or 'other'} {round(s * 1000)}" for s, label in held[:HELD_SHOWN]]
        if len(held) > HELD_SHOWN:
            named.append(f"others ({len(held) - HELD_SHOWN}) {round(sum(s for s, _ in held[HELD_SHOWN:]) * 1000)}")
        return ", ".join(named)

    async def run(self, fn: Callable[[Client], object]) -> object:
        return await asyncio.get_running_loop().run_in_executor(None, self.call, fn)

    async def ready(self) -> bool:
        await self.run(lambda c: None)
        return True

    # -- landing --------------------------------------------------------------------------------
    def write(self, batch: Prepared) -> None:
        """Write the batch once: raw rows, refusals, ingest rows, then every touched rollup window."""
        self.write_raw(batch)
        self.write_rest(batch)

    def write_raw(self, batch: Prepared) -> None:
        """The first part of a write: the raw rows (after it the batch's events are queryable).

        Each statement takes the writer's lock on its own, and statements landing raw rows go first: the
        agents of the feeds land their raw rows in between other batches' rollup refreshes instead of
        waiting for all of them (freshness). The write's times go in ``batch.write`` (so in its ingest rows):
        a few clock readings per write, none per event."""
        times = WriteTimes(queued_at=time.time())
        batch.wrote(times)
        for label, statement in self._raw_statements(batch):
            self.call(self._timed(statement, times, batch), urgent=True, label=label)

    def write_rest(self, batch: Prepared) -> None:
        """The rest of a write, after :meth:`write_raw`: refusals, ingest rows, then every touched rollup window."""
        for label, statement in self._rest_statements(batch):
            self.call(statement, urgent=False, label=label)

    def _timed(
        self, statement: Callable[[Client], object], times: WriteTimes, batch: Prepared
    ) -> Callable[[Client], object]:
        """``statement`` (landing raw rows, run under the lock) recording in ``times`` when it started and returned,
        and what held the lock since the batch was taken (the feed's previous write, other feeds' statements)."""

        def run(client: Client) -> object:
            times.started_at = time.time()
            times.lock_held_by = self._held_since(batch.taken_at or times.queued_at)
            out = statement(client)
            times.raw_landed_at = time.time()
            return out

        return run

    async def land(self, batch: Prepared) -> None:
        """Write the batch once, off the event loop, and count it. Raises whatever the store raised."""
        await asyncio.get_running_loop().run_in_executor(None, self.write, batch)
        self._count(batch)

    async def land_raw(self, batch: Prepared) -> None:
        """The first part of :meth:`land`, off the event loop: the raw rows."""
        await asyncio.get_running_loop().run_in_executor(None, self.write_raw, batch)

    async def land_rest(self, batch: Prepared) -> None:
        """The rest of :meth:`land` after :meth:`land_raw`, off the event loop; counts the batch."""
        await asyncio.get_running_loop().run_in_executor(None, self.write_rest, batch)
        self._count(batch)

    def _count(self, batch: Prepared) -> None:
        self.stats.batches += 1
        self.stats.landed[batch.feed.name] += batch.accepted
        self.stats.late[batch.feed.name] += batch.late
        for r in batch.rejected:
            self.stats.rejected[(batch.feed.name, r.why.reason)] += 1
        self.stats.last_landed_at = time.time()

    def _raw_statements(self, batch: Prepared) -> Iterator[tuple[str, Callable[[Client], object]]]:
        """The statements landing the batch's raw rows, each a call on the writer's client with the table it writes."""
        feed = batch.feed
        if batch.lines:
            yield feed.raw_table, lambda client: self._insert_lines(client, feed, batch.lines)
        if batch.columns is not None and batch.accepted:
            yield (
                feed.raw_table,
                lambda client: client.insert(
                    feed.raw_table, batch.columns, column_names=batch.column_names, column_oriented=True
                ),
            )

    def _rest_statements(self, batch: Prepared) -> Iterator[tuple[str, Callable[[Client], object]]]:
        """The rest of the batch's statements, in order: refusals, ingest rows, the touched rollup windows."""
        if batch.rejected:
            rejected = [
                (
                    r.record.topic,
                    r.record.partition,
                    r.record.offset,
                    r.why.reason,
                    r.why.detail,
                    r.payload.decode("utf-8", "replace"),
                )
                for r in batch.rejected
            ]
            yield (
                "rejected_events",
                lambda client: client.insert(
                    "rejected_events",
                    rejected,
                    column_names=["topic", "kafka_partition", "kafka_offset", "reason", "detail", "payload"],
                ),
            )
        if batch.partitions:
            yield (
                "ingest_batches",
                lambda client: client.insert("ingest_batches", batch.ingest_rows(), column_names=INGEST_COLUMNS),
            )
        for table, sql, params in refreshes(batch.feed, batch.touched):
            yield table, lambda client, sql=sql, params=params: client.command(sql, parameters=params)

    def _insert_lines(self, client: Client, feed: Feed, lines: list[bytes]) -> None:
        structure = _sql_string(raw_structure(feed))
        if not self._embedded:
            client.command(f"{raw_insert(feed, f'input({structure})')} FORMAT JSONEachRow", data=b"".join(lines))
            return
        fd, path = tempfile.mkstemp(prefix=f"yzmon-{feed.name}-", suffix=".jsonl")
        try:
            with os.fdopen(fd, "wb") as out:
                out.writelines(lines)
            client.command(
                raw_insert(feed, f"file({_sql_string(path)}, 'JSONEachRow', {structure})") + _EMBEDDED_PARSING
            )
        finally:
            os.unlink(path)
