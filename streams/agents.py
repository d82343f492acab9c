"""One landing agent per feed topic.

Each agent takes batches of up to ``batch_max`` records (or whatever arrived within
``batch_seconds``; a record holds one event or a bundle of them), decodes and validates them,
sends refused events to the feed's dead-letter topic, lands the batch in ClickHouse, and only
then acknowledges it. Acknowledged offsets are committed by Faust; a crash before the ack
replays the batch, which the tables absorb. A failed write is retried (``streams.retry``) and
acknowledges nothing until it succeeds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import faust

from schemas.feeds import FOOTFALL, SALES, TOURISTS, Feed
from streams.app import app
from streams.batch import Prepared, Record, Refused, merge, prepare

SOURCES = {
    feed.name: app.topic(feed.topic, value_serializer="raw", key_serializer="raw")
    for feed in (SALES, FOOTFALL, TOURISTS)
}
DEAD_LETTERS = {
    feed.name: app.topic(feed.dlq_topic, value_serializer="raw", key_serializer="raw")
    for feed in (SALES, FOOTFALL, TOURISTS)
}


MAX_WAITING = 8  # prepared batches that may wait for the store before the agent stops taking more


def store_is_behind(waiting: int, held_bytes: int, max_bytes: int) -> bool:
    """Whether the agent must wait for the store before taking more records: ``waiting`` prepared batches
    wait, or what the agent holds for the store (see :func:`held_bytes`) reaches ``max_bytes``. So the
    memory of a feed's backlog in the worker is bounded in bytes whatever the size of the records."""
    return waiting >= MAX_WAITING or held_bytes >= max_bytes


def held_bytes(batch: Prepared) -> int:
    """The bytes a prepared batch holds for the store: its raw rows (until they land) and its refused events
    (until acknowledged). Not its records: the agent drops their values once prepared (:func:`release_values`)."""
    return batch.size + refused_bytes(batch)


def refused_bytes(batch: Prepared) -> int:
    return sum(len(r.payload) for r in batch.rejected)


def release_values(events: list[faust.EventT]) -> None:
    """Drop the records' values from Faust's events once the batch is prepared: Faust keeps each event until it
    is acknowledged, after the batch's whole write, but acknowledging needs only its position (a refused event
    keeps its own bytes, ``Refused.payload``). Under a backlog, that was as many bytes again as the raw rows."""
    for event in events:
        event.value = None
        event.message.value = None


def release_lines(batch: Prepared, group: list[Prepared]) -> int:
    """Drop the raw rows of a write that landed them (``batch``, merged from ``group``): the rest of the write
    needs only their windows and counts. Returns the bytes the agent no longer holds for them."""
    for prepared in {id(b): b for b in (batch, *group)}.values():
        prepared.lines = []
    return sum(b.size for b in group)


async def land(feed: Feed, stream: faust.StreamT) -> None:
    """Land the feed's stream; acknowledge a batch only once it is written.

    The agent decodes the next batch while the store writes the previous ones (chDB works outside
    the GIL); batches that arrive during a write wait, and the next write lands all of them at once,
    in order. So under a backlog the store gets few large writes, and with a trickle each batch is
    written as soon as it is taken. A write's raw rows do not wait for the rest of the previous writes
    (refusals, ingest rows and rollup refreshes, which wait for other feeds' statements): they land as soon
    as the writer's lock lets them. The rests run one at a time, in order, each for every write whose raw
    rows landed since the previous one; a batch is acknowledged after its rest.
    """
    settings = app.yz_settings
    tolerance = timedelta(seconds=settings.future_tolerance_s)
    lateness = timedelta(seconds=settings.allowed_lateness_s)
    watermarks = app.watermarks[feed.name]
    max_bytes = int(settings.waiting_max_mb * 2**20)
    waiting: list[tuple[Prepared, list[faust.EventT]]] = []  # batch, its events
    written: list[tuple[Prepared, list[tuple[Prepared, list[faust.EventT]]]]] = []  # raw rows landed, rest not
    held = 0  # bytes held by the batches waiting and those being written (held_bytes)
    writer: asyncio.Task | None = None  # lands the raw rows of what waits
    finisher: asyncio.Task | None = None  # the rest of the writes whose raw rows landed, then the acks

    async def write_waiting() -> None:
        nonlocal finisher, held
        while waiting:
            group = waiting[:]
            del waiting[:]
            batch = merge([batch for batch, _ in group])
            await app.landing.land_raw(batch)  # ahead of the previous writes' rollups, which may still run
            held -= release_lines(batch, [b for b, _ in group])
            written.append((batch, group))
            if finisher is not None and finisher.done():
                await finisher  # surfaces a finisher that failed outside the retry policy
                finisher = None
            if finisher is None:
                finisher = asyncio.ensure_future(finish_written())

    async def finish_written() -> None:
        nonlocal held
        while written:
            done = written[:]
            del written[:]
            # one rest for every write whose raw rows landed meanwhile: when the rests fall behind (the store
            # is busy), they merge, and the store refreshes each touched window once for all of them
            await app.landing.land_rest(merge([batch for batch, _ in done]))
            for _, group in done:
                for taken, events in group:
                    for event in events:  # every record (a bundle): Faust commits only a contiguous run of acks
                        await stream.ack(event)
                    held -= refused_bytes(taken)

    try:
        async for events in stream.noack_take(settings.batch_max, within=settings.batch_seconds):
            taken_at, taken_mono = time.time(), time.monotonic()
            messages = [e.message for e in events]
            records = [Record(m.topic, m.partition, m.offset, m.value or b"", m.timestamp) for m in messages]
            batch = prepare(feed, records, app.now(), tolerance, watermarks, lateness)
            batch.taken_at, batch.prepared_at = taken_at, time.time()
            arrived = min((m.time_in for m in messages if m.time_in is not None), default=None)  # Faust's monitor
            if arrived is not None:
                batch.arrived_at = taken_at - (taken_mono - arrived)
            await asyncio.gather(*(send_dead_letter(DEAD_LETTERS[feed.name], refused) for refused in batch.rejected))
            release_values(events)
            del records, messages
            waiting.append((batch, events))
            held += held_bytes(batch)
            for task in (writer, finisher):
                if task is not None and task.done():
                    await task  # surfaces a task that failed outside the retry policy
            if writer is not None and writer.done():
                writer = None
            if writer is None:
                writer = asyncio.ensure_future(write_waiting())
            elif store_is_behind(len(waiting), held, max_bytes):
                await writer  # backpressure: the store is behind (or down)
                writer = None
                if held >= max_bytes and finisher is not None:
                    await finisher  # what the agent holds now is refusals waiting for their rests
            if len(written) >= MAX_WAITING and finisher is not None:
                await finisher  # the rests are behind the raw rows: the writes waiting for theirs are bounded
        if writer is not None:
            await writer
        if finisher is not None:  # read after the writer is done: it may have started a finisher
            await finisher
    finally:
        for task in (writer, finisher):
            if task is not None and not task.done():
                task.cancel()


@app.agent(SOURCES[SALES.name], name="streams.agents.land_sales")
async def land_sales(stream: faust.StreamT) -> None:
    await land(SALES, stream)


@app.agent(SOURCES[FOOTFALL.name], name="streams.agents.land_footfall")
async def land_footfall(stream: faust.StreamT) -> None:
    await land(FOOTFALL, stream)


@app.agent(SOURCES[TOURISTS.name], name="streams.agents.land_tourists")
async def land_tourists(stream: faust.StreamT) -> None:
    await land(TOURISTS, stream)


async def send_dead_letter(dlq: faust.TopicT, refused: Refused) -> None:
    """Publish the refused bytes with the error in headers (as Kafka Connect does) and wait for the broker.

    A refused event of a bundle goes alone, with its position in the bundle (``yzmon.error.index``).
    """
    record, why = refused.record, refused.why
    headers = [
        ("yzmon.error.reason", why.reason.encode()),
        ("yzmon.error.detail", why.detail.encode("utf-8", "replace")[:1000]),
        ("yzmon.error.topic", record.topic.encode()),
        ("yzmon.error.partition", str(record.partition).encode()),
        ("yzmon.error.offset", str(record.offset).encode()),
    ]
    if refused.index >= 0:
        headers.append(("yzmon.error.index", str(refused.index).encode()))
    future = await dlq.send(value=refused.payload, headers=headers)
    await future
