"""The feed producer: validates each event against its contract and sends it keyed by 商圈, in bundles.

Events of one feed and one 商圈 travel together as one Kafka record (a JSON array, see
``schemas.contracts``) of up to ``bundle_events`` events: Kafka, Faust and the worker then pay
their per-record cost once per bundle. A bundle leaves when it is full, when its own first event
has waited ``linger_ms``, on ``push()`` (a paced replay calls it before sleeping) and on
``flush()``. A replay at full speed lingers longer (``BULK_LINGER_MS``) so that its bundles leave
full: nobody waits for those events, and small records cost the worker per record.
Every ``CONFIRM_EVENTS`` events the producer waits for the broker's acknowledgements, so what it
holds stays bounded whatever the length of the feed.

Acks from all in-sync replicas, retries with backoff. The producer keeps every record until the
broker acknowledges it: when the broker restarts (the embedded stack's supervisor brings a dead
one back, or recycles it to free its memory), the producer opens a fresh connection and sends the
unacknowledged records again. A broker that stays down raises ProducerError after the delivery
timeout without dropping what was handed to it silently. On the embedded broker the producer
also takes the broker gate (``producers.gate``) while it holds unacknowledged records, and keeps
every acknowledged record until the worker's ledger shows it landed (``producers.landing``): when
the broker is restarted after a crash, it sends again exactly what had not landed, says so on its
log and in DATA_DIR/logs/resent.log (`yzmon status`). ``wait_landed`` waits for the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from producers.gate import Gate, GateTimeout, gate_path
from producers.landing import Ledger, SentRecord, StoreLedger, Unlanded, log
from schemas.contracts import InvalidEvent, check
from schemas.feeds import FEEDS
from schemas.structs import all_valid
from schemas.wire import EventRun
from schemas.zone import ZONE
from yzcore.settings import Settings

MAX_BUNDLE_BYTES = 512 * 1024  # a bundle leaves before it grows past this (the worker accepts 1 MiB)
CONFIRM_EVENTS = 50_000  # wait for acknowledgements after this many events
LINGER_MS = 20  # how long a bundle's first event may wait for company
BULK_LINGER_MS = 1000  # the same, in a replay at full speed
CLIENT_LINGER_MS = 20  # the Kafka client's own linger (records of several bundles share a request)
RESEND_ATTEMPTS = 5
UNLANDED_EVENTS = 100_000  # past this many acknowledged events not yet landed, the producer waits for the worker
LAND_TIMEOUT_S = 600.0  # longest wait for the worker to land what was sent (it lands ~30k events/s)
SETTLE_S = 0.5  # between looks at the ledger while waiting


class ProducerError(RuntimeError):
    pass


def _ended_at(generation: str) -> float | None:
    """When the previous broker generation ended: the new generation's text is the restart time (ns)."""
    return int(generation) / 1e9 if generation.isdigit() and int(generation) > 0 else None


def linger_ms_for(speed: float | None) -> int:
    """The bundle linger for a replay at ``speed`` simulated seconds per second (None: full speed)."""
    return BULK_LINGER_MS if speed is None else LINGER_MS


class _Bundle:
    """Serialised events of one feed and 商圈 waiting to leave as one record."""

    __slots__ = ("count", "parts", "since", "size")

    def __init__(self, since: float) -> None:
        self.parts: list[bytes | memoryview] = [b"["]  # the record's bytes so far: "[", events and their commas
        self.count = 0  # events
        self.size = 0  # bytes once joined (each event with its comma)
        self.since = since  # when its first event was queued (monotonic)


@dataclass
class _InFlight:
    future: Any
    topic: str
    key: bytes | None
    value: bytes
    events: int


class FeedProducer:
    def __init__(
        self,
        settings: Settings,
        validate: bool = True,
        linger_ms: int = LINGER_MS,
        delivery_timeout_s: float = 60,
        connect_timeout_s: float = 10,
        bundle_events: int | None = None,
        track_landing: bool = True,
        ledger: Ledger | None = None,
        name: str = "producer",
    ):
        self.settings = settings
        self.bootstrap = settings.bootstrap
        self.name = name  # who sends, in the resend log
        self.validate = validate
        self.delivery_timeout_s = delivery_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.bundle_events = bundle_events or settings.bundle_events
        self.future_tolerance = timedelta(seconds=settings.future_tolerance_s)
        self.linger_ms = linger_ms
        self.linger_s = linger_ms / 1000
        self.sent = 0  # events confirmed by the broker
        self.reconnects = 0  # fresh connections after a broker restart
        self._bundles: dict[tuple[str, str], _Bundle] = {}  # (feed, 商圈) -> the events waiting
        self._oldest = 0.0  # when the oldest waiting bundle began (monotonic)
        self._pending: list[_InFlight] = []  # handed to Kafka, not yet acknowledged
        self._queued = 0  # events handed to Kafka since the last confirmation
        self.resent = 0  # events sent again after a broker restart lost them
        path = gate_path(self.bootstrap)
        self._gate = Gate(path) if path is not None and path.exists() else None
        self._generation = self._gate.generation() if self._gate else ""
        self._gate_checked = 0.0
        # only the embedded broker (the one with a gate) loses what it acknowledged
        tracked = track_landing and self._gate is not None
        self._unlanded = Unlanded(ledger or StoreLedger(settings)) if tracked else None
        self._waiting = False  # inside wait_landed
        self._producer = self._connect()

    def _connect(self) -> KafkaProducer:
        try:
            return KafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=True,
                retries=10,
                retry_backoff_ms=200,
                linger_ms=min(self.linger_ms, CLIENT_LINGER_MS),
                batch_size=256 * 1024,
                compression_type=None if self.settings.kafka_compression == "none" else self.settings.kafka_compression,
                max_in_flight_requests_per_connection=5,
                request_timeout_ms=15000,
                delivery_timeout_ms=int(self.delivery_timeout_s * 1000),
                max_block_ms=int(self.delivery_timeout_s * 1000),
                bootstrap_timeout_ms=int(self.connect_timeout_s * 1000),
                allow_auto_create_topics=False,  # a restarted broker gets its topics from the stack
            )
        except KafkaError as exc:
            raise ProducerError(f"cannot reach Kafka at {self.bootstrap} ({exc}); start it with `yzmon up`") from exc

    def _reconnect(self) -> None:
        self._producer.close(timeout=0)
        self._producer = self._connect()
        self.reconnects += 1

    def send(self, feed: str, event: dict[str, Any]) -> None:
        """Validate and queue one event of ``feed`` in its 商圈's bundle."""
        if self.validate:
            self._check(feed, event)
        key = (feed, event["district"])
        value = orjson.dumps(event)
        now = time.monotonic()
        bundle = self._bundle(key, now)
        if bundle.count:
            bundle.parts.append(b",")
        bundle.parts.append(value)
        bundle.count += 1
        bundle.size += len(value) + 1
        if bundle.count >= self.bundle_events or bundle.size >= MAX_BUNDLE_BYTES:
            self._emit(key)
        self._after_queueing(now)

    def send_run(self, run: EventRun) -> None:
        """Queue a run of already serialised events of one feed and 商圈 (in order) in its bundles: the same
        bundles as ``send`` of each event, cut from the run's bytes without a Python object per event."""
        if self.validate:
            latest = (datetime.now(UTC) + self.future_tolerance).timestamp()
            if not all_valid(FEEDS[run.feed], b"[" + run.data + b"]", latest):  # the worker's fast path, per run
                for event in orjson.loads(b"[" + run.data + b"]"):  # the precise check names what is refused
                    self._check(run.feed, event)
        key = (run.feed, run.district)
        now = time.monotonic()
        data, ends = memoryview(run.data), run.ends  # slices of a view: the bytes are copied once, into the record
        done, n = 0, len(ends)  # events of the run queued so far
        while done < n:
            bundle = self._bundle(key, now)
            base = int(ends[done - 1]) if done else 0  # the offset where the next event starts
            # the event that fills the bundle: its count, or its size (as ``send`` counts it)
            last = min(done + self.bundle_events - bundle.count, n) - 1
            by_size = int(np.searchsorted(ends, base + MAX_BUNDLE_BYTES - bundle.size, side="left"))
            last = min(last, by_size)
            end = int(ends[last])
            if bundle.count:
                bundle.parts.append(b",")
            bundle.parts.append(data[base : end - 1])
            bundle.count += last + 1 - done
            bundle.size += end - base
            done = last + 1
            if bundle.count >= self.bundle_events or bundle.size >= MAX_BUNDLE_BYTES:
                self._emit(key)
                if self._queued >= CONFIRM_EVENTS:
                    self._confirm()
        self._after_queueing(now)

    def _check(self, feed: str, event: dict[str, Any]) -> None:
        rejection = check(FEEDS[feed], event, datetime.now(UTC), self.future_tolerance)
        if rejection is not None:
            raise InvalidEvent(rejection)

    def _bundle(self, key: tuple[str, str], now: float) -> _Bundle:
        bundle = self._bundles.get(key)
        if bundle is None:
            if not self._bundles:
                self._oldest = now
            bundle = self._bundles[key] = _Bundle(now)
        return bundle

    def _after_queueing(self, now: float) -> None:
        """Hand over the bundles that waited their linger; confirm when due."""
        if self.linger_s and now - self._oldest >= self.linger_s and self._bundles:
            self._emit_stale(now)
        if self._queued >= CONFIRM_EVENTS or (self._gate is not None and self._gate.held and self._yield_due()):
            self._confirm()

    def push(self) -> None:
        """Hand every waiting bundle to Kafka now. A paced producer calls this before it sleeps: on the
        embedded broker it then also waits for the acknowledgements, so that an idle producer never
        holds the broker gate (the supervisor may recycle the broker meanwhile)."""
        self._emit_all()
        if self._gate is not None and self._gate.held:
            self._confirm()

    def _emit_all(self) -> None:
        while self._bundles:
            self._emit(next(iter(self._bundles)))

    def _emit_stale(self, now: float) -> None:
        """Hand over the bundles whose first event has waited the linger; the others wait on."""
        for key in [k for k, b in self._bundles.items() if now - b.since >= self.linger_s]:
            self._emit(key)
        self._oldest = min((b.since for b in self._bundles.values()), default=now)

    def _emit(self, key: tuple[str, str]) -> None:
        bundle = self._bundles.pop(key)
        bundle.parts.append(b"]")
        self._send(FEEDS[key[0]].topic, key[1].encode(), b"".join(bundle.parts), bundle.count)

    def send_raw(self, feed: str, key: bytes | None, value: bytes) -> None:
        """Send already-serialised bytes as a record of their own (also deliberately bad ones, for rehearsals)."""
        self._send(FEEDS[feed].topic, key, value, 1)
        if self._queued >= CONFIRM_EVENTS:
            self._confirm()

    def _send(self, topic: str, key: bytes | None, value: bytes, events: int) -> None:
        """Hand one record to the Kafka client. Never confirms nor pushes: no re-entrancy."""
        self._enter_gate()
        try:
            future = self._producer.send(topic, key=key, value=value)
        except KafkaError as exc:
            raise ProducerError(f"Kafka refused a record ({exc}); nothing after the last flush was confirmed") from exc
        self._pending.append(_InFlight(future, topic, key, value, events))
        self._queued += events

    def _enter_gate(self) -> None:
        gate = self._gate
        if gate is None or gate.held:
            return
        try:
            gate.acquire_shared(self.delivery_timeout_s * 2)
        except GateTimeout as exc:
            raise ProducerError(f"{exc}; is the stack's supervisor stuck? `yzmon status`") from exc
        self._new_generation()

    def _new_generation(self) -> bool:
        """After a broker restart (the gate's generation changed): a fresh connection (its producer ids are
        new), and the records the old broker acknowledged but the worker had not landed sent again."""
        if self._gate is None:
            return False
        generation = self._gate.generation()
        if generation == self._generation:
            return False
        self._reconnect()
        self._generation = generation
        if self._unlanded is not None:
            self._resend_unlanded(_ended_at(generation))
        return True

    def _resend_unlanded(self, ended: float | None) -> None:
        held = self._unlanded
        assert held is not None
        deadline = time.monotonic() + self.delivery_timeout_s
        while not held.settle(ended) and time.monotonic() < deadline:  # the worker restarts with the broker
            time.sleep(SETTLE_S)
        ranges = ", ".join(f"{t}-{p} {a}–{b}" for t, p, a, b in held.ranges())
        again = held.take(time.time())
        if not again:
            log.warning("%s: the broker was restarted; everything it had acknowledged had landed", self.name)
            return
        events = sum(r.events for r in again)
        for r in again:
            future = self._producer.send(r.topic, key=r.key, value=r.value)
            self._pending.append(_InFlight(future, r.topic, r.key, r.value, r.events))
            self._queued += r.events
        self.resent += events
        line = (
            f"{datetime.now(ZONE):%Y-%m-%d %H:%M:%S %Z} {self.name}: the broker was restarted; sent again "
            f"{events:,} events ({len(again):,} records) it had acknowledged but the worker had not landed "
            f"(offsets {ranges})"
        )
        log.warning(line)
        try:
            logs = self.settings.data_dir / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            with (logs / "resent.log").open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError:
            pass  # the log line above says it all the same

    def _confirm(self) -> int:
        """Wait until every record handed to Kafka is acknowledged, sending again (on a fresh connection)
        what a restarted broker lost; return how many events were confirmed."""
        waiting = self._pending
        self._pending = []
        confirmed = 0
        for attempt in range(RESEND_ATTEMPTS + 1):
            self._producer.flush(timeout=self.delivery_timeout_s)
            failed = [r for r in waiting if not r.future.is_done or r.future.failed()]
            for r in waiting:
                if r.future.is_done and r.future.succeeded():
                    self._acknowledged(r.future.value)
                    if self._unlanded is not None:
                        m = r.future.value
                        self._unlanded.add(SentRecord(m.topic, m.partition, m.offset, r.key, r.value, r.events))
            confirmed += sum(r.events for r in waiting) - sum(r.events for r in failed)
            if not failed:
                break
            if attempt == RESEND_ATTEMPTS:
                self.sent += confirmed
                self._queued = 0
                self._leave_gate()
                raise ProducerError(
                    f"{sum(r.events for r in failed)} events were not acknowledged by Kafka "
                    f"({failed[0].future.exception}); replay the range again (event ids make the replay idempotent)"
                )
            time.sleep(min(0.5 * 2**attempt, 5.0))
            try:
                if not self._new_generation():
                    self._reconnect()
            except ProducerError:
                continue  # the broker is not back yet; the next attempt tries again
            waiting = [
                _InFlight(self._producer.send(r.topic, key=r.key, value=r.value), r.topic, r.key, r.value, r.events)
                for r in failed
            ]
        self.sent += confirmed
        self._queued = 0
        self._leave_gate()
        self._hold_back()
        return confirmed

    def _hold_back(self) -> None:
        """Wait while too much of what was acknowledged has not landed (it is kept to be sent again)."""
        held = self._unlanded
        if held is None or self._waiting or held.events <= UNLANDED_EVENTS:
            return
        if self._new_generation():
            return
        held.settle()
        if held.events > UNLANDED_EVENTS:
            self.wait_landed(until_events=UNLANDED_EVENTS // 2)

    def wait_landed(self, timeout_s: float = LAND_TIMEOUT_S, until_events: int = 0) -> None:
        """Wait until the worker's ledger shows everything sent landed (at most ``until_events`` left),
        sending again what a restarted broker lost. Raises ProducerError after ``timeout_s``."""
        held = self._unlanded
        if held is None:
            return
        deadline = time.monotonic() + timeout_s
        self._waiting = True
        try:
            while True:
                if self._new_generation() or self._pending:
                    self._confirm()
                held.settle()
                if held.events <= until_events:
                    return
                if time.monotonic() > deadline:
                    ranges = ", ".join(f"{t}-{p} {a}–{b}" for t, p, a, b in held.ranges())
                    raise ProducerError(
                        f"{held.events:,} events the broker acknowledged have not landed within {timeout_s:.0f} s "
                        f"(offsets {ranges}); is the worker up? `yzmon status`"
                    )
                time.sleep(SETTLE_S)
        finally:
            self._waiting = False

    def _acknowledged(self, metadata: Any) -> None:
        """Called with the broker's RecordMetadata of every acknowledged record (a hook for benchmarks)."""

    def _leave_gate(self) -> None:
        if self._gate is not None:
            self._gate.release()

    def _yield_due(self) -> bool:
        """Whether the supervisor waits for the gate (looked at no more than every 0.2 s)."""
        now = time.monotonic()
        if now - self._gate_checked < 0.2:
            return False
        self._gate_checked = now
        return self._gate is not None and self._gate.requested()

    def flush(self) -> int:
        """Send every waiting bundle and wait until all is acknowledged; return how many events were confirmed."""
        self._emit_all()
        return self._confirm()

    def close(self, wait_landed: bool = True) -> None:
        """Send and confirm everything, wait (unless told not to) until the worker landed it, and disconnect."""
        try:
            self.flush()
            if wait_landed:
                self.wait_landed()
        finally:
            self._producer.close(timeout=5)
            self._leave_gate()
