"""The feed producer: validates each event against its contract, serialises it, sends it keyed by 商圈.

Idempotent, acks from all in-sync replicas, retries with backoff; a broker that stays down raises
ProducerError after the batch timeout without dropping what was handed to it silently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas.contracts import InvalidEvent, check
from yzmon.feeds import FEEDS


class ProducerError(RuntimeError):
    pass


class FeedProducer:
    def __init__(self, bootstrap: str, validate: bool = True, linger_ms: int = 20, delivery_timeout_s: float = 60,
                 connect_timeout_s: float = 10):
        self.validate = validate
        self.delivery_timeout_s = delivery_timeout_s
        self.sent = 0
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, retries=10,
                retry_backoff_ms=200, linger_ms=linger_ms, batch_size=256 * 1024, compression_type=None,
                max_in_flight_requests_per_connection=5, request_timeout_ms=15000,
                max_block_ms=int(delivery_timeout_s * 1000), bootstrap_timeout_ms=int(connect_timeout_s * 1000))
        except KafkaError as exc:
            raise ProducerError(f"cannot reach Kafka at {bootstrap} ({exc}); start it with `yzmon up`") from exc
        self._pending: list[Any] = []

    def send(self, feed: str, event: dict[str, Any]) -> None:
        """Validate and queue one event of ``feed``."""
        if self.validate:
            rejection = check(FEEDS[feed], event, datetime.now(UTC), timedelta(minutes=5))
            if rejection is not None:
                raise InvalidEvent(rejection)
        self.send_raw(feed, event["district"].encode(), orjson.dumps(event))

    def send_raw(self, feed: str, key: bytes | None, value: bytes) -> None:
        """Queue already-serialised bytes (also deliberately bad ones, for rehearsals)."""
        try:
            self._pending.append(self._producer.send(FEEDS[feed].topic, key=key, value=value))
        except KafkaError as exc:
            raise ProducerError(f"Kafka refused a record ({exc}); nothing after the last flush was confirmed") from exc
        if len(self._pending) >= 20000:
            self.flush()

    def flush(self) -> int:
        """Wait until every queued record is acknowledged; return how many were confirmed."""
        self._producer.flush(timeout=self.delivery_timeout_s)
        failed = 0
        for future in self._pending:
            if future.failed():
                failed += 1
            elif not future.is_done:
                failed += 1
        confirmed = len(self._pending) - failed
        self.sent += confirmed
        self._pending.clear()
        if failed:
            raise ProducerError(f"{failed} records were not acknowledged by Kafka; replay the range again "
                                "(event ids make the replay idempotent)")
        return confirmed

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close(timeout=5)
