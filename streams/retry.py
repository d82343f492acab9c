"""The retry policy around the sink, which knows a passing failure from a lasting one.

A write that failed for a reason that passes (the network, a timeout, too many parts, memory, the
store-outage drill, anything not known to be lasting) is tried again with capped exponential backoff,
holding only the batch at hand; nothing is acknowledged meanwhile (the agent waits on :meth:`land`).
A write the store refuses for a reason no retry can change (an unknown column or table, a syntax
error, a type mismatch: the ClickHouse error codes of :data:`LASTING`) stops the worker with that
reason: retrying would leave the feed "retrying" with nothing landing, forever.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streams.batch import Prepared
from streams.drill import OutageDrill
from streams.sink import ClickHouseSink

log = logging.getLogger(__name__)

# ClickHouse error codes (src/Common/ErrorCodes.cpp) of a statement that fails the same way every time it
# runs against the same schema: the schema or the statement is wrong, and the fix is a migration or a release.
LASTING: dict[int, str] = {
    6: "CANNOT_PARSE_TEXT",
    8: "THERE_IS_NO_COLUMN",
    10: "NOT_FOUND_COLUMN_IN_BLOCK",
    16: "NO_SUCH_COLUMN_IN_TABLE",
    20: "NUMBER_OF_COLUMNS_DOESNT_MATCH",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    36: "BAD_ARGUMENTS",
    41: "CANNOT_PARSE_DATETIME",
    42: "NUMBER_OF_ARGUMENTS_DOESNT_MATCH",
    43: "ILLEGAL_TYPE_OF_ARGUMENT",
    44: "ILLEGAL_COLUMN",
    46: "UNKNOWN_FUNCTION",
    47: "UNKNOWN_IDENTIFIER",
    50: "UNKNOWN_TYPE",
    53: "TYPE_MISMATCH",
    60: "UNKNOWN_TABLE",
    62: "SYNTAX_ERROR",
    70: "CANNOT_CONVERT_TYPE",
    81: "UNKNOWN_DATABASE",
    115: "UNKNOWN_SETTING",
    164: "READONLY",
    184: "ILLEGAL_AGGREGATION",
    215: "NOT_AN_AGGREGATE",
    352: "AMBIGUOUS_COLUMN_NAME",
    386: "NO_COMMON_TYPE",
    497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED",
}
_CODE = re.compile(r"Code: (\d+)\.")


@dataclass(frozen=True)
class Failure:
    """Why a write failed, in one line, and whether trying again can help."""

    reason: str
    code: int | None = None  # the ClickHouse error code, when the store gave one
    lasting: bool = False

    @property
    def advice(self) -> str:
        """What happened and what to do, then the store's own message."""
        return (
            f"ClickHouse refused a write with {LASTING.get(self.code or 0, 'an error')} (code {self.code}), which "
            "no retry can fix; nothing of the batch was acknowledged. Fix the schema or the code "
            f"(`yzmon db migrate`), then start the worker again. {self.reason}"
        )


def classify(exc: BaseException) -> Failure:
    """A failed write's reason, lasting when the store answered with an error code of :data:`LASTING`."""
    text = str(exc).strip()
    reason = text.splitlines()[0][:300] if text else type(exc).__name__
    match = _CODE.search(text)
    code = int(match.group(1)) if match else None
    return Failure(reason, code, code in LASTING)


class Retrying:
    """Lands a batch through ``sink``, retrying passing failures until the store accepts it; failures are
    counted in the sink's stats (``write_errors``, ``retrying``, ``last_error``). An active ``drill`` fails
    the attempt before it reaches the store. A lasting failure calls ``stop`` with it (the worker stops,
    :meth:`streams.app.YzApp.stop_for`) and holds the batch, unacknowledged, until the worker is gone;
    without ``stop`` it raises :class:`WriteRefused`."""

    def __init__(
        self,
        sink: ClickHouseSink,
        drill: OutageDrill | None = None,
        max_backoff_s: float = 10.0,
        stop: Callable[[Failure], None] | None = None,
    ):
        self.sink = sink
        self.drill = drill
        self.max_backoff_s = max_backoff_s
        self.stop = stop

    async def land(self, batch: Prepared) -> None:
        """The whole write (``ClickHouseSink.land``)."""
        await self._retried(self.sink.land, batch)

    async def land_raw(self, batch: Prepared) -> None:
        """The raw rows (``ClickHouseSink.land_raw``)."""
        await self._retried(self.sink.land_raw, batch)

    async def land_rest(self, batch: Prepared) -> None:
        """The rest of the write after the raw rows (``ClickHouseSink.land_rest``)."""
        await self._retried(self.sink.land_rest, batch)

    async def _retried(self, attempt: Callable[[Prepared], Awaitable[None]], batch: Prepared) -> None:
        stats = self.sink.stats
        backoff = 0.2
        while True:
            try:
                if self.drill is not None:
                    self.drill.check()
                await attempt(batch)
                break
            except Exception as exc:  # every failure is classified: retried, or it stops the worker
                failure = classify(exc)
                stats.write_errors += 1
                stats.last_error = failure.reason
                if failure.lasting:
                    stats.retrying = False
                    log.error("ClickHouse refused a write for good (%s); stopping the worker", failure.reason)
                    if self.stop is None:
                        raise WriteRefused(failure) from exc
                    self.stop(failure)
                    await asyncio.Event().wait()  # the batch stays unacknowledged while the worker stops
                stats.retrying = True
                log.warning("ClickHouse write failed (%s); retrying in %.1fs", failure.reason, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
        stats.retrying = False


class WriteRefused(RuntimeError):
    """A write failed in a way no retry can change."""

    def __init__(self, failure: Failure):
        super().__init__(failure.advice)
        self.failure = failure
