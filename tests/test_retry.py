"""The retry policy knows a passing failure from a lasting one: passing failures (network, timeouts, too
many parts, the outage drill) back off and retry; a lasting one (an unknown column or table, a syntax
error, a type mismatch) stops the worker with its reason and acknowledges nothing."""

from __future__ import annotations

import asyncio

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from support import sale

from schemas.feeds import SALES
from streams.batch import Record, prepare
from streams.drill import OutageDrill
from streams.retry import LASTING, Failure, Retrying, WriteRefused, classify
from streams.sink import SinkStats, StoreUnavailable

PASSING = [
    DatabaseError(
        "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower "
        "than inserts. (TOO_MANY_PARTS)"
    ),
    DatabaseError("Code: 159. DB::Exception: Timeout exceeded: elapsed 30.1 seconds. (TIMEOUT_EXCEEDED)"),
    DatabaseError("Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)"),
    DatabaseError("Code: 210. DB::NetException: Connection refused (127.0.0.1:9000). (NETWORK_ERROR)"),
    OperationalError("Error HTTPConnectionPool(host='ch', port=8123): Read timed out. executing HTTP request"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
    StoreUnavailable("store unavailable (outage drill)"),
    RuntimeError(""),
]


@pytest.mark.parametrize("exc", PASSING, ids=lambda e: type(e).__name__ + ":" + str(e)[:24])
def test_passing_failures_are_retried(exc):
    failure = classify(exc)
    assert not failure.lasting
    assert failure.reason  # never empty: the exception's first line or its type


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO sales_raw (event_id, no_such_column) VALUES ('x', 1)",  # NO_SUCH_COLUMN_IN_TABLE
        "SELECT no_such_column FROM sales_raw",  # UNKNOWN_IDENTIFIER
        "SELECT * FROM no_such_table",  # UNKNOWN_TABLE
        "SELEC 1",  # SYNTAX_ERROR
        "SELECT toUInt32('twelve')",  # CANNOT_PARSE_TEXT
        "SELECT [1, 2] + 'x'",  # ILLEGAL_TYPE_OF_ARGUMENT
    ],
)
def test_lasting_failures_are_told_by_the_store_s_own_error_codes(read_only_store, sql):
    """The store's real errors (not hand-written messages) are recognised as lasting, with their name."""
    with pytest.raises(Exception) as raised:
        read_only_store.query(sql)
    failure = classify(raised.value)
    assert failure.lasting, str(raised.value)
    assert f"({LASTING[failure.code]})" in str(raised.value)
    assert LASTING[failure.code] in failure.advice and "yzmon db migrate" in failure.advice


class FlakySink:
    """A sink whose ``land`` raises the given failures in turn, then accepts."""

    def __init__(self, *failures: BaseException):
        self.stats = SinkStats()
        self.failures = list(failures)
        self.attempts = 0
        self.landed = 0

    async def land(self, batch) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.landed += 1


def _batch():
    from datetime import UTC, datetime, timedelta

    import orjson

    record = Record(SALES.topic, 0, 0, orjson.dumps(sale()))
    return prepare(SALES, [record], datetime.now(UTC), timedelta(minutes=5), {})


def test_passing_failures_back_off_and_land_in_the_end():
    sink = FlakySink(*PASSING[:3])
    stopped: list[Failure] = []
    retrying = Retrying(sink, max_backoff_s=0.01, stop=stopped.append)  # type: ignore[arg-type]
    asyncio.run(retrying.land(_batch()))
    assert (sink.attempts, sink.landed, sink.stats.write_errors, sink.stats.retrying) == (4, 1, 3, False)
    assert stopped == []


def test_the_outage_drill_is_a_passing_failure():
    drill = OutageDrill()
    drill.fail_for(0.3)
    sink = FlakySink()
    stopped: list[Failure] = []
    asyncio.run(Retrying(sink, drill, max_backoff_s=0.05, stop=stopped.append).land(_batch()))  # type: ignore[arg-type]
    assert sink.landed == 1 and sink.stats.write_errors >= 1 and stopped == []
    assert sink.stats.last_error == "store unavailable (outage drill)"


def test_a_lasting_failure_stops_once_and_never_lands_the_batch():
    unknown_column = DatabaseError(
        "Code: 16. DB::Exception: No such column merchant_group in table default.sales_raw. (NO_SUCH_COLUMN_IN_TABLE)"
    )
    sink = FlakySink(unknown_column)
    stopped: list[Failure] = []

    async def attempt() -> None:
        task = asyncio.ensure_future(Retrying(sink, max_backoff_s=0.01, stop=stopped.append).land(_batch()))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        assert not task.done()  # held, unacknowledged, while the worker stops
        task.cancel()

    asyncio.run(attempt())
    assert sink.attempts == 1 and sink.landed == 0  # not retried
    (failure,) = stopped
    assert failure.code == 16 and "NO_SUCH_COLUMN_IN_TABLE" in failure.advice
    assert sink.stats.write_errors == 1 and not sink.stats.retrying


def test_without_a_stop_a_lasting_failure_raises():
    sink = FlakySink(DatabaseError("Code: 60. DB::Exception: Unknown table default.sales_raw. (UNKNOWN_TABLE)"))
    with pytest.raises(WriteRefused, match="UNKNOWN_TABLE"):
        asyncio.run(Retrying(sink).land(_batch()))  # type: ignore[arg-type]
    assert sink.attempts == 1
