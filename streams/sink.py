"""Land prepared batches in ClickHouse: raw rows, rejected events, then the touched minute windows.

At-least-once delivery plus deduplicating tables give exact results: the agent acknowledges a
batch (so Faust may commit its offsets) only after every write here has succeeded. A failed write
is retried with backoff, holding only the batch at hand; nothing is acknowledged meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from streams.batch import INGEST_COLUMNS, Prepared
from streams.rollups import recompute_statements
from yzcore.migrate import require_current
from yzcore.store import connect

log = logging.getLogger(__name__)


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


class StoreUnavailable(RuntimeError):
    """The store refused or could not take a write."""


class ClickHouseSink:
    """Owns the worker's ClickHouse writer; its calls are serialised by a lock (reads never take it:
    they run on their own chDB sessions, `streams.readengine`)."""

    def __init__(self, dsn: str, max_backoff_s: float = 10.0):
        self.dsn = dsn
        self.max_backoff_s = max_backoff_s
        self.stats = SinkStats()
        self._client: Client | None = None
        self._lock = threading.Lock()
        self.unavailable_until = 0.0  # a drill: writes fail until then (POST /admin/store-outage)

    # -- store access ---------------------------------------------------------------------------
    def _ensure(self) -> Client:
        if self._client is None:
            client = connect(self.dsn)
            require_current(client)
            self._client = client
        return self._client

    def call(self, fn: Callable[[Client], object]) -> object:
        with self._lock:
            return fn(self._ensure())

    async def run(self, fn: Callable[[Client], object]) -> object:
        return await asyncio.get_running_loop().run_in_executor(None, self.call, fn)

    async def ready(self) -> bool:
        await self.run(lambda c: None)
        return True

    # -- landing --------------------------------------------------------------------------------
    def _write(self, client: Client, batch: Prepared) -> None:
        if time.time() < self.unavailable_until:
            raise StoreUnavailable("store unavailable (outage drill)")
        feed = batch.feed
        if batch.accepted:
            client.insert(feed.raw_table, batch.columns, column_names=batch.column_names, column_oriented=True)
        if batch.rejected:
            client.insert(
                "rejected_events",
                [
                    (
                        r.record.topic,
                        r.record.partition,
                        r.record.offset,
                        r.why.reason,
                        r.why.detail,
                        r.payload.decode("utf-8", "replace"),
                    )
                    for r in batch.rejected
                ],
                column_names=["topic", "kafka_partition", "kafka_offset", "reason", "detail", "payload"],
            )
        if batch.partitions:
            client.insert("ingest_batches", batch.ingest_rows(), column_names=INGEST_COLUMNS)
        for sql, params in recompute_statements(feed, batch.touched):
            client.command(sql, parameters=params)

    async def land(self, batch: Prepared) -> None:
        """Write the batch, retrying with capped exponential backoff until ClickHouse accepts it."""
        backoff = 0.2
        while True:
            try:
                await self.run(lambda c: self._write(c, batch))
                break
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the batch, back off, retry
                self.stats.write_errors += 1
                self.stats.retrying = True
                self.stats.last_error = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                log.warning("ClickHouse write failed (%s); retrying in %.1fs", self.stats.last_error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
        self.stats.retrying = False
        self.stats.batches += 1
        self.stats.landed[batch.feed.name] += batch.accepted
        self.stats.late[batch.feed.name] += batch.late
        for r in batch.rejected:
            self.stats.rejected[(batch.feed.name, r.why.reason)] += 1
        self.stats.last_landed_at = time.time()
