"""One landing agent per feed topic.

Each agent takes batches of up to ``batch_max`` records (or whatever arrived within
``batch_seconds``), decodes and validates them, sends refused records to the feed's dead-letter
topic, lands the batch in ClickHouse, and only then acknowledges it. Acknowledged offsets are
committed by Faust; a crash before the ack replays the batch, which the tables absorb.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import faust

from streams.batch import Record, prepare
from streams.sink import ClickHouseSink
from yzmon.feeds import FEEDS, Feed
from yzmon.settings import Settings

log = logging.getLogger(__name__)


def register_agents(app: faust.App, settings: Settings) -> None:
    for feed in FEEDS.values():
        _register(app, settings, feed)


def _register(app: faust.App, settings: Settings, feed: Feed) -> None:
    source = app.topic(feed.topic, value_serializer="raw", key_serializer="raw")
    dlq = app.topic(feed.dlq_topic, value_serializer="raw", key_serializer="raw")
    sink: ClickHouseSink = app.sink  # type: ignore[attr-defined]
    tolerance = timedelta(seconds=settings.future_tolerance_s)
    lateness = timedelta(seconds=settings.allowed_lateness_s)
    watermarks: dict[int, datetime] = {}  # latest event time per partition, since this worker started

    async def land(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(settings.batch_max, within=settings.batch_seconds):
            records = [Record(e.message.topic, e.message.partition, e.message.offset, e.message.value or b"")
                       for e in events]
            batch = prepare(feed, records, datetime.now(UTC), tolerance, watermarks, lateness)
            await asyncio.gather(*(send_dead_letter(dlq, r, why.reason, why.detail) for r, why in batch.rejected))
            await sink.land(batch)
            for event in events:
                await stream.ack(event)

    land.__name__ = f"land_{feed.name}"
    app.agent(source, name=f"streams.agents.land_{feed.name}")(land)


async def send_dead_letter(dlq: faust.TopicT, record: Record, reason: str, detail: str) -> None:
    """Publish the original bytes with the error in headers (as Kafka Connect does) and wait for the broker."""
    headers = [
        ("yzmon.error.reason", reason.encode()),
        ("yzmon.error.detail", detail.encode("utf-8", "replace")[:1000]),
        ("yzmon.error.topic", record.topic.encode()),
        ("yzmon.error.partition", str(record.partition).encode()),
        ("yzmon.error.offset", str(record.offset).encode()),
    ]
    future = await dlq.send(value=record.value, headers=headers)
    await future
