"""The producer alone, without broker or worker: `python -m benchmarks.producer [--days 7] [--repeat 3]`.

CPU time (``time.process_time``) per million events of each step of a full-speed replay, medians of
``--repeat`` runs over the same simulated days (generation caches cleared before each run):

- generate: the simulator's records of each day (events, merged in event-time order, bad records);
- replay to a null client: ``producers.replay.replay`` into a FeedProducer whose Kafka client keeps
  nothing (generation, bundling, serialisation and the producer's bookkeeping; no network);
- the same with the year benchmark's own accounting (``benchmarks.year.CountingProducer``);
- with ``--send``: the replay's records, prepared beforehand, sent to an embedded broker of our own
  (Tansu, in memory) through kafka-python bare, through FeedProducer's bookkeeping, and through
  confluent-kafka, each run waiting for every acknowledgement (the broker's CPU is not counted).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from producers import kafka as kafka_mod
from producers.replay import ReplaySource
from producers.source import Item, Pacer, pump
from simulators import generate
from simulators.columnar import Day
from simulators.run import RunSpec, records
from simulators.scenario import load
from yzcore.settings import Settings


class _Meta(NamedTuple):
    topic: str
    partition: int
    offset: int


class _Done:
    is_done = True

    def __init__(self, value: _Meta) -> None:
        self.value = value

    def succeeded(self) -> bool:
        return True

    def failed(self) -> bool:
        return False


class NullClient:
    """A Kafka client that acknowledges every record at once and keeps only their count and size."""

    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0
        self.sent: list[tuple[str, bytes | None, bytes]] | None = None  # set to a list to keep them

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> _Done:
        self.records += 1
        self.bytes += len(value)
        if self.sent is not None:
            self.sent.append((topic, key, value))
        return _Done(_Meta(topic, 0, self.records))

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def null_producer(cls: type[kafka_mod.FeedProducer] = kafka_mod.FeedProducer, **kwargs: Any) -> Any:
    """A producer of ``cls`` on a NullClient (no broker, no gate, no landing ledger)."""
    base = kafka_mod.FeedProducer  # where _connect is defined (a subclass keeps inheriting it)
    original = base._connect
    base._connect = lambda self: NullClient()  # type: ignore[method-assign]
    try:
        return cls(Settings(_env_file=None), validate=False, linger_ms=kafka_mod.BULK_LINGER_MS, **kwargs)
    finally:
        base._connect = original  # type: ignore[method-assign]


def _clear_caches() -> None:
    for f in (generate._block, generate._sales_bday, generate._footfall_bday, generate._tourists_bday):
        f.cache_clear()


def _cpu(step: Callable[[], int]) -> tuple[float, int]:
    _clear_caches()
    t = time.process_time()
    n = step()
    return time.process_time() - t, n


class PerEventSource(ReplaySource):
    """The replay as it was sent one event at a time (`simulators.run.records`, a dict per event): the
    reference the column-wise path is measured against."""

    def items(self) -> Iterator[Item]:
        for day in self.spec.days:
            for record in records(self.spec, day):
                if record.event is None:
                    yield Item(record.feed, raw=record.bad or b"")
                else:
                    self._stamp = record.event["event_time"]
                    yield Item(record.feed, record.event, when=datetime.fromisoformat(self._stamp))


def _replay(spec: RunSpec, producer: Any, source: type[ReplaySource]) -> int:
    n = pump(source(spec), producer, Pacer(None), show_progress=False)
    producer.flush()
    return n


def steps(spec: RunSpec) -> dict[str, Callable[[], int]]:
    from benchmarks.year import CountingProducer

    def gen_records() -> int:
        return sum(1 for day in spec.days for _ in records(spec, day))

    def gen_columns() -> int:
        return sum(Day(spec, day).records for day in spec.days)

    return {
        "per event: generate (records)": gen_records,
        "per event: replay to a null client": lambda: _replay(spec, null_producer(), PerEventSource),
        "per event: replay, year accounting": lambda: _replay(
            spec, null_producer(CountingProducer, ends={}), PerEventSource
        ),
        "column-wise: generate and serialise (Day)": gen_columns,
        "column-wise: replay to a null client": lambda: _replay(spec, null_producer(), ReplaySource),
        "column-wise: replay, year accounting": lambda: _replay(
            spec, null_producer(CountingProducer, ends={}), ReplaySource
        ),
    }


def measure(spec: RunSpec, repeat: int, log: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    out = {}
    for name, step in steps(spec).items():
        runs = [_cpu(step) for _ in range(repeat)]
        n = runs[0][1]
        cpu = statistics.median(c for c, _ in runs)
        out[name] = {"records": n, "cpu_s": round(cpu, 3), "cpu_s_per_million": round(cpu / n * 1e6, 2)}
        log(f"{name}: {n:,} records, median {cpu:.2f} CPU-s of {repeat} = {cpu / n * 1e6:.2f} CPU-s per million")
    return out


def bundles(spec: RunSpec) -> list[tuple[str, bytes | None, bytes]]:
    """The records a full-speed replay of ``spec`` sends (topic, key, value), as prepared bytes."""
    producer = null_producer()
    client = producer._producer
    client.sent = []
    _replay(spec, producer, ReplaySource)
    return client.sent


def _kafka_python(settings: Settings, prepared: list[tuple[str, bytes | None, bytes]], through: bool) -> None:
    """Send the prepared records with kafka-python, configured as FeedProducer configures it, and wait for every
    acknowledgement: through FeedProducer's own bookkeeping (``through``), or bare ``KafkaProducer.send``."""
    producer = kafka_mod.FeedProducer(settings, validate=False, linger_ms=kafka_mod.BULK_LINGER_MS, track_landing=False)
    try:
        if through:
            for topic, key, value in prepared:
                producer._send(topic, key, value, 1)
                if producer._queued >= kafka_mod.CONFIRM_EVENTS // 500:
                    producer._confirm()
            producer._confirm()
        else:
            futures = [producer._producer.send(topic, key=key, value=value) for topic, key, value in prepared]
            producer._producer.flush()
            assert all(f.succeeded() for f in futures)
    finally:
        producer._producer.close(timeout=5)


def _confluent(settings: Settings, prepared: list[tuple[str, bytes | None, bytes]]) -> None:
    """The same records with confluent-kafka (librdkafka), with the same guarantees, every delivery checked."""
    from confluent_kafka import Producer

    failed: list[Any] = []
    producer = Producer(
        {
            "bootstrap.servers": settings.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": kafka_mod.CLIENT_LINGER_MS,
            "batch.size": 256 * 1024,
            "max.in.flight.requests.per.connection": 5,
            "compression.type": "none",
        }
    )
    for topic, key, value in prepared:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=lambda err, _msg: err and failed.append(err))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush()
    assert not failed, failed[:3]


def measure_send(spec: RunSpec, repeat: int, log: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    """CPU and wall time of sending the replay's prepared records to an embedded broker of our own."""
    import tempfile
    from pathlib import Path

    from benchmarks.pipeline import free_port
    from yzmon.broker import ensure_topics, start_broker

    prepared = bundles(spec)
    events = sum(value.count(b'"event_id"') for _, _, value in prepared)  # in bundles, and the bad records
    size = sum(len(v) for _, _, v in prepared)
    log(f"{len(prepared):,} records, {events:,} events, {size / 1e6:,.0f} MB")
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="yzmon-producer-") as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), broker_port=free_port(), kafka_bootstrap=None)
        broker = start_broker(settings, Path(tmp) / "broker.log")
        try:
            ensure_topics(settings)
            clients = {
                "kafka-python, bare send": lambda: _kafka_python(settings, prepared, through=False),
                "kafka-python through FeedProducer": lambda: _kafka_python(settings, prepared, through=True),
                "confluent-kafka, bare produce": lambda: _confluent(settings, prepared),
            }
            for name, send in clients.items():
                runs = []
                for _ in range(repeat):
                    t, w = time.process_time(), time.monotonic()
                    send()
                    runs.append((time.process_time() - t, time.monotonic() - w))
                cpu = statistics.median(c for c, _ in runs)
                wall = statistics.median(w for _, w in runs)
                out[name] = {
                    "records": len(prepared),
                    "events": events,
                    "cpu_s": round(cpu, 3),
                    "cpu_s_per_million": round(cpu / events * 1e6, 2),
                    "ms_per_record": round(cpu / len(prepared) * 1e3, 3),
                    "wall_s": round(wall, 2),
                }
                log(
                    f"{name}: median {cpu:.2f} CPU-s ({cpu / events * 1e6:.2f} per million events, "
                    f"{cpu / len(prepared) * 1e3:.2f} ms per record), wall {wall:.1f} s"
                )
        finally:
            broker.terminate()
            broker.wait(10)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.producer", description=__doc__.splitlines()[0])
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 9, 28))
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scenario", default="baseline")
    p.add_argument("--send", action="store_true", help="also send the prepared records to an embedded broker")
    a = p.parse_args(argv)
    spec = RunSpec(load(a.scenario), a.seed, a.start, a.start + timedelta(days=a.days))
    measure(spec, a.repeat)
    if a.send:
        measure_send(spec, a.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
