"""The retry policy around the sink: a failed write is tried again with capped exponential backoff,
holding only the batch at hand; nothing is acknowledged meanwhile (the agent waits on :meth:`land`)."""

from __future__ import annotations

import asyncio
import logging

from streams.batch import Prepared
from streams.drill import OutageDrill
from streams.sink import ClickHouseSink

log = logging.getLogger(__name__)


class Retrying:
    """Lands a batch through ``sink``, retrying until the store accepts it; failures are counted in
    the sink's stats (``write_errors``, ``retrying``, ``last_error``). An active ``drill`` fails the attempt
    before it reaches the store."""

    def __init__(self, sink: ClickHouseSink, drill: OutageDrill | None = None, max_backoff_s: float = 10.0):
        self.sink = sink
        self.drill = drill
        self.max_backoff_s = max_backoff_s

    async def land(self, batch: Prepared) -> None:
        stats = self.sink.stats
        backoff = 0.2
        while True:
            try:
                if self.drill is not None:
                    self.drill.check()
                await self.sink.land(batch)
                break
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the batch, back off, retry
                stats.write_errors += 1
                stats.retrying = True
                stats.last_error = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                log.warning("ClickHouse write failed (%s); retrying in %.1fs", stats.last_error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
        stats.retrying = False
