"""What a producer sent, kept until the worker's ledger shows it landed.

The embedded broker keeps records in memory only: a broker killed (kill -9, the out-of-memory
killer) loses every record it acknowledged that the worker had not landed yet. yzmon's producers
therefore keep each acknowledged record, with its topic, partition and offset, until the store's
ingest ledger (``ingest_batches``: one row per landed batch and partition, ``streams.sink``)
holds a batch of that partition ending at or after its offset. When the broker comes back (a new
generation of the broker gate, ``producers.gate``), a producer sends again exactly the records
the ledger does not show, on a fresh connection.

Offsets start again at 0 in a new broker generation, so the ledger is read from the moment the
producer's current generation began (``landed_at``). Within a partition the worker lands batches
in offset order, so the highest landed offset covers everything before it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from yzcore.settings import Settings
from yzcore.store import connect, interface_dsn

LEDGER_SQL = (
    "SELECT topic, kafka_partition AS p, max(last_offset) AS o FROM ingest_batches "
    "WHERE landed_at >= fromUnixTimestamp64Milli({since:Int64}) "
    "AND landed_at < fromUnixTimestamp64Milli({until:Int64}) "
    "GROUP BY topic, p"
)
FOREVER = 2**62  # no upper bound on landed_at (milliseconds)

log = logging.getLogger("yzmon.producer")


@dataclass
class SentRecord:
    """One record the broker acknowledged: where it is, and its bytes to send again."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    events: int


class Ledger(Protocol):
    def landed(self, since: float, until: float | None = None) -> dict[tuple[str, int], int] | None:
        """The highest landed offset per (topic, partition) of batches landed from ``since`` to ``until``
        (epoch seconds; the broker generation's span); None when the ledger cannot be read now."""


class StoreLedger:
    """The store's ingest ledger, read through the worker's HTTP interface (never the embedded store
    itself: the worker owns it) or the ClickHouse server."""

    def __init__(self, settings: Settings):
        self.settings = settings
        if settings.embedded_store:
            self.dsn = interface_dsn(settings)
        else:
            self.dsn = settings.reader_dsn or settings.store_dsn
        self._client = None

    def landed(self, since: float, until: float | None = None) -> dict[tuple[str, int], int] | None:
        bounds = {"since": int(since * 1000), "until": FOREVER if until is None else int(until * 1000)}
        try:
            if self._client is None:
                self._client = connect(self.dsn, readonly=True, settings=self.settings)
            result = self._client.query(LEDGER_SQL, parameters=bounds)
        except Exception:  # noqa: BLE001 - unreachable now (worker restarting): the caller asks again later
            self._client = None
            return None
        return {(topic, int(p)): int(o) for topic, p, o in result.result_rows}


class Unlanded:
    """Acknowledged records not yet shown landed, per partition in offset order."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.since = time.time()  # when this producer's current broker generation began
        self.events = 0
        self._held: dict[tuple[str, int], deque[SentRecord]] = {}

    def __len__(self) -> int:
        return sum(len(q) for q in self._held.values())

    def add(self, record: SentRecord) -> None:
        self._held.setdefault((record.topic, record.partition), deque()).append(record)
        self.events += record.events

    def settle(self, until: float | None = None) -> bool:
        """Forget what the ledger shows landed (by ``until``, when the broker generation ended); False when
        the ledger could not be read."""
        if not self._held:
            return True
        landed = self.ledger.landed(self.since, until)
        if landed is None:
            return False
        for tp, queue in self._held.items():
            top = landed.get(tp)
            if top is None:
                continue
            while queue and queue[0].offset <= top:
                self.events -= queue.popleft().events
        self._held = {tp: q for tp, q in self._held.items() if q}
        return True

    def take(self, since: float) -> list[SentRecord]:
        """Everything still held (a new broker generation begins at ``since``): to be sent again."""
        out = [r for q in self._held.values() for r in q]
        self._held, self.events, self.since = {}, 0, since
        return out

    def ranges(self) -> Iterator[tuple[str, int, int, int]]:
        """(topic, partition, first offset, last offset) of what is held."""
        for (topic, partition), q in sorted(self._held.items()):
            yield topic, partition, q[0].offset, q[-1].offset
