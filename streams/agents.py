"""One landing agent per feed topic.

Each agent takes batches of up to ``batch_max`` records (or whatever arrived within
``batch_seconds``; a record holds one event or a bundle of them), decodes and validates them,
sends refused events to the feed's dead-letter topic, lands the batch in ClickHouse, and only
then acknowledges it. Acknowledged offsets are
committed by Faust; a crash before the ack replays the batch, which the tables absorb.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import faust

from schemas.feeds import FEEDS, Feed
from streams.batch import Record, Refused, prepare
from streams.sink import ClickHouseSink
from yzcore.settings import Settings

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
    watermarks: dict[tuple[int, str], datetime] = {}  # latest event time per (partition, 商圈), since start

    async def land(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(settings.batch_max, within=settings.batch_seconds):
            records = [
                Record(e.message.topic, e.message.partition, e.message.offset, e.message.value or b"") for e in events
            ]
            batch = prepare(feed, records, datetime.now(UTC), tolerance, watermarks, lateness)
            await asyncio.gather(*(send_dead_letter(dlq, refused) for refused in batch.rejected))
            await sink.land(batch)
            for event in events:
                await stream.ack(event)

    land.__name__ = f"land_{feed.name}"
    app.agent(source, name=f"streams.agents.land_{feed.name}")(land)


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
