"""The landing agents in-process, without a broker (Faust's ``test_context``): a batch is acknowledged
only after its write, a failed write acknowledges nothing, a refused event goes to the dead letters alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from unittest.mock import AsyncMock

import orjson
import pytest
from support import sale

import streams.agents as agents
from schemas.feeds import FEEDS, SALES
from streams.app import YzApp, app
from streams.retry import Retrying
from streams.sink import SinkStats


def sale_at(i: int, **changes) -> dict:
    """Sale ``i``, at minute ``i`` past noon."""
    return sale(f"e{i}", **{"event_time": f"2024-10-01T12:{i % 60:02d}:00+08:00", **changes})


class FakeSink:
    """Stands in for ClickHouseSink: the agents land a batch's raw rows (``land``, the call given), then the
    rest of its write (``land_rest``), through Retrying."""

    def __init__(self, land: Callable, rest: Callable | None = None) -> None:
        self.stats = SinkStats()
        self.land_raw = AsyncMock(side_effect=land)
        self.land_rest = AsyncMock(side_effect=rest)


def landing_into(faust_app, monkeypatch) -> list:
    """Make the agents land through the retry policy into a list of the batches written (as they were written:
    the agent drops a write's raw rows once they land); return the list."""
    landed: list = []

    async def write(batch):
        landed.append(replace(batch, lines=list(batch.lines)))

    monkeypatch.setattr(faust_app, "landing", Retrying(FakeSink(write)))
    return landed


@pytest.fixture(scope="module")
def loop():
    """One event loop for the module: Faust's app keeps the loop it first ran on."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def faust_app(loop) -> YzApp:
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    return app


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_the_app_registers_one_agent_per_feed_and_the_views():
    assert sorted(app.agents) == sorted(f"streams.agents.land_{name}" for name in FEEDS)
    topics = {next(iter(agent.channel.topics)) for agent in app.agents.values()}
    assert topics == {feed.topic for feed in FEEDS.values()}
    paths = {route.resource.canonical for route in app.web.web_app.router.routes()}
    assert {"/health", "/status", "/targets", "/admin/store-outage"} <= paths
    assert "/sql" not in paths  # reads go through ClickHouse's HTTP interface (readpath.sqlhttp), not the worker


def test_a_batch_is_acknowledged_only_after_its_write(faust_app, loop, monkeypatch):
    loop.run_until_complete(_a_batch_is_acknowledged_only_after_its_write(faust_app, monkeypatch))


async def _a_batch_is_acknowledged_only_after_its_write(faust_app, monkeypatch):
    events: list = []  # the i-th record holds sales 2i and 2i + 1
    acked_at_write: list[bool] = []  # per written record: was it already acknowledged?

    async def write(batch):
        for event_id in [e["event_id"] for e in batch.events()][::2]:
            acked_at_write.append(events[int(event_id[1:]) // 2].message.acked)

    sink = FakeSink(write)
    monkeypatch.setattr(faust_app, "landing", Retrying(sink))  # type: ignore[arg-type]
    async with agents.land_sales.test_context() as agent:
        for i in range(3):
            events.append(await agent.put(value=orjson.dumps([sale_at(2 * i), sale_at(2 * i + 1)]), wait=False))
        await _until(lambda: all(e.message.acked for e in events))
    assert acked_at_write == [False, False, False]  # every record written once, none acknowledged before
    assert sink.stats.write_errors == 0


def test_a_failed_write_acknowledges_nothing(faust_app, loop, monkeypatch):
    loop.run_until_complete(_a_failed_write_acknowledges_nothing(faust_app, monkeypatch))


async def _a_failed_write_acknowledges_nothing(faust_app, monkeypatch):
    async def down(batch):
        raise ConnectionError("store down")

    sink = FakeSink(down)
    monkeypatch.setattr(faust_app, "landing", Retrying(sink, max_backoff_s=0.01))  # type: ignore[arg-type]
    async with agents.land_sales.test_context() as agent:
        events = [await agent.put(value=orjson.dumps(sale_at(i)), wait=False) for i in range(2)]
        await _until(lambda: sink.land_raw.await_count >= 3)
        assert not any(e.message.acked for e in events)
        assert sink.stats.retrying and sink.stats.last_error == "store down"


def test_a_refused_event_of_a_bundle_goes_to_the_dead_letters_alone(faust_app, loop, monkeypatch):
    loop.run_until_complete(_a_refused_event_of_a_bundle_goes_to_the_dead_letters_alone(faust_app, monkeypatch))


async def _a_refused_event_of_a_bundle_goes_to_the_dead_letters_alone(faust_app, monkeypatch):
    landed = landing_into(faust_app, monkeypatch)
    dead = AsyncMock()
    monkeypatch.setattr(agents, "send_dead_letter", dead)
    bundle = [sale_at(0), sale_at(1, amount="-5.00"), sale_at(2)]
    async with agents.land_sales.test_context() as agent:
        event = await agent.put(value=orjson.dumps(bundle), wait=False)
        await _until(lambda: bool(landed) and event.message.acked)
    (batch,) = landed
    assert batch.accepted == 2 and [e["event_id"] for e in batch.events()] == ["e0", "e2"]
    (call,) = dead.await_args_list
    dlq, refused = call.args
    assert dlq.get_topic_name() == SALES.dlq_topic
    assert (refused.index, refused.why.reason, orjson.loads(refused.payload)) == (1, "negative_amount", bundle[1])


def test_raw_rows_land_while_the_previous_write_finishes_and_acks_stay_in_order(faust_app, loop, monkeypatch):
    loop.run_until_complete(_raw_rows_land_while_the_previous_write_finishes(faust_app, monkeypatch))


async def _raw_rows_land_while_the_previous_write_finishes(faust_app, monkeypatch):
    """A batch's raw rows do not wait for the previous writes' rollups (freshness); the rests run one at a
    time in order, those that fell behind as one, and a batch is acknowledged only after its whole write."""
    raw: list[list[str]] = []
    rest: list[list[int]] = []  # the offsets each rest covers (the raw rows are dropped once landed)
    release = asyncio.Event()

    async def land_raw(batch):
        raw.append([e["event_id"] for e in batch.events()])

    async def land_rest(batch):
        if not rest:
            await release.wait()  # the first write's rollups are slow
        rest.append([p.first_offset for take in batch.takes or [batch] for p in take.partitions.values()])

    monkeypatch.setattr(faust_app, "landing", Retrying(FakeSink(land_raw, land_rest)))  # type: ignore[arg-type]
    async with agents.land_sales.test_context() as agent:
        first = await agent.put(value=orjson.dumps(sale_at(0)), wait=False)
        await _until(lambda: raw == [["e0"]])
        second = await agent.put(value=orjson.dumps(sale_at(1)), wait=False)
        await _until(lambda: raw == [["e0"], ["e1"]])  # landed while the first write's rest is stuck
        third = await agent.put(value=orjson.dumps(sale_at(2)), wait=False)
        await _until(lambda: raw == [["e0"], ["e1"], ["e2"]])
        assert rest == [] and not any(e.message.acked for e in (first, second, third))
        release.set()
        await _until(lambda: all(e.message.acked for e in (first, second, third)))
    offsets = [e.message.offset for e in (first, second, third)]
    assert rest == [offsets[:1], offsets[1:]]  # the rests that fell behind run as one, after the first


def test_the_agent_records_each_batch_path_in_its_ingest_rows(faust_app, loop, monkeypatch):
    loop.run_until_complete(_the_agent_records_each_batch_path_in_its_ingest_rows(faust_app, monkeypatch))


async def _the_agent_records_each_batch_path_in_its_ingest_rows(faust_app, monkeypatch):
    """The records' Kafka timestamps, then when the agent took the batch and prepared it, reach the ingest rows."""
    import time

    landed = landing_into(faust_app, monkeypatch)
    sent = time.time() - 2.0
    async with agents.land_sales.test_context() as agent:
        events = [
            await agent.put(value=orjson.dumps(sale_at(i)), timestamp=sent + i / 10, wait=False) for i in range(3)
        ]
        await _until(lambda: all(e.message.acked for e in events))
    rows = [row for batch in landed for row in batch.ingest_rows()]
    assert sum(r.records for r in rows) == 3
    for row in rows:
        stamps = [sent + i / 10 for i in range(row.first_offset, row.last_offset + 1)]
        assert row.min_record_time.timestamp() == pytest.approx(min(stamps), abs=1e-3)
        assert row.max_record_time.timestamp() == pytest.approx(max(stamps), abs=1e-3)
        assert row.max_record_time < row.taken_at <= row.prepared_at


def test_the_worker_consumer_fetches_with_the_configured_wait(faust_app, loop):
    """Faust fixes the fetch wait at 1.5 s; the worker's transport (found through Faust's entry point for
    the ``yzkafka`` scheme) gives the consumer the settings' wait instead."""
    from streams.transport import Transport

    async def consumer():
        return faust_app.consumer._thread._create_worker_consumer(faust_app.transport)

    assert isinstance(faust_app.transport, Transport)
    wait = loop.run_until_complete(consumer())._fetch_max_wait_ms
    assert wait == faust_app.yz_settings.fetch_max_wait_ms != 1500


def test_what_waits_for_the_store_is_bounded_in_bytes(faust_app, loop, monkeypatch):
    loop.run_until_complete(_what_waits_for_the_store_is_bounded_in_bytes(faust_app, monkeypatch))


async def _what_waits_for_the_store_is_bounded_in_bytes(faust_app, monkeypatch):
    """With the store stuck on a write, the agent prepares one more batch and stops taking records once what
    waits reaches the byte bound (here about one bundle), far below the count bound; then lands everything."""
    release = asyncio.Event()
    landed: list[int] = []

    async def write(batch):
        await release.wait()
        landed.extend(int(e["event_id"][1:]) for e in batch.events())

    prepared: list = []

    def counting_prepare(*args, **kwargs):
        prepared.append(agents.prepare.__wrapped__(*args, **kwargs))
        return prepared[-1]

    counting_prepare.__wrapped__ = agents.prepare  # type: ignore[attr-defined]
    monkeypatch.setattr(agents, "prepare", counting_prepare)
    monkeypatch.setattr(faust_app, "landing", Retrying(FakeSink(write)))  # type: ignore[arg-type]
    monkeypatch.setattr(faust_app.yz_settings, "batch_max", 1)
    bundle_bytes = len(orjson.dumps([sale_at(i) for i in range(50)]))
    monkeypatch.setattr(faust_app.yz_settings, "waiting_max_mb", bundle_bytes / 2**20)
    async with agents.land_sales.test_context() as agent:
        events = [
            await agent.put(value=orjson.dumps([sale_at(50 * r + i) for i in range(50)]), wait=False) for r in range(6)
        ]
        await _until(lambda: len(prepared) >= 2)
        for _ in range(50):  # give the agent every chance to take more
            await asyncio.sleep(0)
        assert len(prepared) == 2 < 1 + agents.MAX_WAITING  # one in the stuck write, one waiting
        assert not any(e.message.acked for e in events)
        release.set()
        await _until(lambda: all(e.message.acked for e in events))
    assert sorted(landed) == list(range(300))


def test_the_writes_waiting_for_their_rests_are_bounded(faust_app, loop, monkeypatch):
    loop.run_until_complete(_the_writes_waiting_for_their_rests_are_bounded(faust_app, monkeypatch))


async def _the_writes_waiting_for_their_rests_are_bounded(faust_app, monkeypatch):
    """Raw rows keep landing while a rest is stuck, but once MAX_WAITING writes wait for their rests the agent
    stops taking records (their raw rows are dropped once landed, so the byte bound no longer stops it)."""
    raw: list[int] = []
    release = asyncio.Event()

    async def land_raw(batch):
        raw.append(batch.accepted)

    async def land_rest(batch):
        await release.wait()

    monkeypatch.setattr(faust_app, "landing", Retrying(FakeSink(land_raw, land_rest)))  # type: ignore[arg-type]
    monkeypatch.setattr(faust_app.yz_settings, "batch_max", 1)
    async with agents.land_sales.test_context() as agent:
        events = [await agent.put(value=orjson.dumps(sale_at(i)), wait=False) for i in range(30)]
        await _until(lambda: len(raw) > agents.MAX_WAITING)
        for _ in range(200):  # give the agent every chance to take more
            await asyncio.sleep(0)
        assert len(raw) <= agents.MAX_WAITING + 2  # the stuck rest's write, MAX_WAITING waiting, one in flight
        assert sum(raw) < 30 and not any(e.message.acked for e in events)
        release.set()
        await _until(lambda: all(e.message.acked for e in events))
    assert sum(raw) == 30


def test_the_store_is_behind_by_count_or_by_bytes():
    assert not agents.store_is_behind(1, 10, 100)
    assert agents.store_is_behind(2, 100, 100)
    assert agents.store_is_behind(agents.MAX_WAITING, 8, 10**9)
    assert not agents.store_is_behind(agents.MAX_WAITING - 1, 7, 10**9)


def test_a_batch_holds_its_raw_rows_until_they_land_and_its_refusals_until_acknowledged():
    """Faust keeps each event until it is acknowledged (after the batch's whole write): the agent drops the
    records' values once prepared, and the write's raw rows once they land, as the rest of the write
    (refusals, ingest rows, refreshes) needs only the batch's windows, counts and refused bytes. A 10-day
    backlog held the records too, as many bytes again as the raw rows, until the rest was done."""
    from types import SimpleNamespace

    from streams.batch import Record, merge, prepare

    values = [orjson.dumps([sale_at(50 * r + i) for i in range(50)]) for r in range(3)]
    bad = orjson.dumps([sale_at(150), sale_at(151, amount="-5.00")])
    records = [Record(SALES.topic, 0, offset, value) for offset, value in enumerate([*values, bad])]
    first = prepare(SALES, records[:2], datetime.now(UTC), timedelta(minutes=5))
    second = prepare(SALES, records[2:], datetime.now(UTC), timedelta(minutes=5))
    assert first.accepted + second.accepted == 151
    (refused,) = second.rejected
    assert refused.record.value == b"" and orjson.loads(refused.payload) == orjson.loads(
        orjson.dumps(sale_at(151, amount="-5.00"))
    )
    assert agents.held_bytes(second) == second.size + len(refused.payload)

    events = [SimpleNamespace(value=v, message=SimpleNamespace(value=v, offset=o)) for o, v in enumerate(values)]
    agents.release_values(events)
    assert [(e.value, e.message.value, e.message.offset) for e in events] == [(None, None, o) for o in range(3)]

    write = merge([first, second])
    rows, windows = first.size + second.size, write.touched.copy()
    assert agents.release_lines(write, [first, second]) == rows > 0
    assert write.lines == first.lines == second.lines == []
    assert write.touched == windows and write.accepted == 151 and write.ingest_rows()  # what the rest needs
    assert write.rejected == [refused] and agents.refused_bytes(second) == len(refused.payload)
    assert agents.release_lines(first, [first]) == first.size  # a write of one batch is that batch


def test_every_record_is_acknowledged_because_faust_commits_only_contiguous_acks(faust_app, monkeypatch):
    """Why the agent acknowledges each record (each a bundle) of a written batch, not only the last one:
    Faust 0.15 commits the highest offset of a run of acknowledged offsets that follows the last commit
    (``Consumer._new_offset``), so acknowledging only a batch's last record would never commit again."""
    from faust.types import TP, Message

    consumer = faust_app.consumer
    tp = TP(SALES.topic, 9)
    monkeypatch.setattr(faust_app.topics, "acks_enabled_for", lambda topic: topic == SALES.topic)  # as when running

    def record(offset: int) -> Message:
        return Message(SALES.topic, 9, offset, 0.0, 0, [], None, b"[]", None, tp=tp)

    consumer._committed_offset[tp] = 100  # the next offset to read after the last commit
    consumer.ack(record(104))  # a batch of 100..104, its last record alone
    assert consumer._new_offset(tp) is None  # nothing to commit, ever: 100..103 stay unacknowledged
    for offset in range(100, 104):
        consumer.ack(record(offset))
    assert consumer._new_offset(tp) == 105
    for state in (consumer._committed_offset, consumer._acked, consumer._acked_index):
        state.pop(tp, None)
