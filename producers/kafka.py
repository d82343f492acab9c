"""The feed producer: validates each event against its contract and sends it keyed by 商圈, in bundles.

Events of one feed and one 商圈 travel together as one Kafka record (a JSON array, see
``schemas.contracts``) of up to ``bundle_events`` events: Kafka, Faust and the worker then pay
their per-record cost once per bundle. A bundle leaves when it is full, when its first event has
waited ``linger_ms``, on ``push()`` (a paced replay calls it before sleeping) and on ``flush()``.

Idempotent, acks from all in-sync replicas, retries with backoff; a broker that stays down raises
ProducerError after the batch timeout without dropping what was handed to it silently.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas.contracts import InvalidEvent, check
from schemas.feeds import FEEDS
from yzcore.settings import get_settings

MAX_BUNDLE_BYTES = 512 * 1024  # a bundle leaves before it grows past this (the worker accepts 1 MiB)


class ProducerError(RuntimeError):
    pass


class FeedProducer:
    def __init__(
        self,
        bootstrap: str,
        validate: bool = True,
        linger_ms: int = 20,
        delivery_timeout_s: float = 60,
        connect_timeout_s: float = 10,
        bundle_events: int | None = None,
    ):
        self.validate = validate
        self.delivery_timeout_s = delivery_timeout_s
        settings = get_settings()
        self.bundle_events = bundle_events or settings.bundle_events
        self.future_tolerance = timedelta(seconds=settings.future_tolerance_s)
        self.linger_s = linger_ms / 1000
        self.sent = 0  # events confirmed by the broker
        self._bundles: dict[tuple[str, bytes], list[bytes]] = {}  # (feed, key) -> serialised events
        self._bundle_bytes: dict[tuple[str, bytes], int] = {}
        self._oldest = 0.0  # when the oldest waiting event was queued (monotonic)
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                enable_idempotence=True,
                retries=10,
                retry_backoff_ms=200,
                linger_ms=linger_ms,
                batch_size=256 * 1024,
                compression_type=None,
                max_in_flight_requests_per_connection=5,
                request_timeout_ms=15000,
                max_block_ms=int(delivery_timeout_s * 1000),
                bootstrap_timeout_ms=int(connect_timeout_s * 1000),
            )
        except KafkaError as exc:
            raise ProducerError(f"cannot reach Kafka at {bootstrap} ({exc}); start it with `yzmon up`") from exc
        self._pending: list[tuple[Any, int]] = []  # (record future, events it carries)
        self._queued = 0  # events handed to Kafka since the last flush

    def send(self, feed: str, event: dict[str, Any]) -> None:
        """Validate and queue one event of ``feed`` in its 商圈's bundle."""
        if self.validate:
            rejection = check(FEEDS[feed], event, datetime.now(UTC), self.future_tolerance)
            if rejection is not None:
                raise InvalidEvent(rejection)
        key = (feed, event["district"].encode())
        value = orjson.dumps(event)
        bundle = self._bundles.get(key)
        if bundle is None:
            if not self._bundles:
                self._oldest = time.monotonic()
            bundle = self._bundles[key] = []
            self._bundle_bytes[key] = 0
        bundle.append(value)
        self._bundle_bytes[key] += len(value) + 1
        if len(bundle) >= self.bundle_events or self._bundle_bytes[key] >= MAX_BUNDLE_BYTES:
            self._emit(key)
        elif self.linger_s and time.monotonic() - self._oldest >= self.linger_s:
            self.push()

    def push(self) -> None:
        """Hand every waiting bundle to Kafka now (without waiting for acknowledgements)."""
        for key in list(self._bundles):
            self._emit(key)

    def _emit(self, key: tuple[str, bytes]) -> None:
        bundle = self._bundles.pop(key)
        self._bundle_bytes.pop(key)
        self._send(key[0], key[1], b"[" + b",".join(bundle) + b"]", len(bundle))

    def send_raw(self, feed: str, key: bytes | None, value: bytes) -> None:
        """Send already-serialised bytes as a record of their own (also deliberately bad ones, for rehearsals)."""
        self._send(feed, key, value, 1)

    def _send(self, feed: str, key: bytes | None, value: bytes, events: int) -> None:
        try:
            self._pending.append((self._producer.send(FEEDS[feed].topic, key=key, value=value), events))
        except KafkaError as exc:
            raise ProducerError(f"Kafka refused a record ({exc}); nothing after the last flush was confirmed") from exc
        self._queued += events
        if self._queued >= 50_000:
            self.flush()

    def flush(self) -> int:
        """Send every waiting bundle and wait until all is acknowledged; return how many events were confirmed."""
        self.push()
        self._producer.flush(timeout=self.delivery_timeout_s)
        failed = sum(n for future, n in self._pending if future.failed() or not future.is_done)
        confirmed = sum(n for _, n in self._pending) - failed
        self.sent += confirmed
        self._pending.clear()
        self._queued = 0
        if failed:
            raise ProducerError(
                f"{failed} events were not acknowledged by Kafka; replay the range again "
                "(event ids make the replay idempotent)"
            )
        return confirmed

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close(timeout=5)
