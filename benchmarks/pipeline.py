"""The pipeline benchmark on the embedded stack: `python -m benchmarks.pipeline [--days N] [--year YYYY]`.

One run measures, on a private broker, worker and chDB directory (free ports, a temp data dir):

- throughput: a simulated range is produced first with the worker stopped; the worker is then
  started and timed from "holds its partitions" until the last batch landed (``ingest_batches``)
  and until its group's committed offsets reach the end offsets. Mixed feeds, then (unless
  ``--no-per-feed``) each feed alone on the following days.
- baseline: the same records read again by a plain kafka-python consumer (manual assignment, no
  group, no Faust), decoded with ``streams.batch.prepare`` and landed with the worker's own
  ``ClickHouseSink.write`` into a separate chDB directory owned by this process; timed the same way.
- exactly once: raw and minute-aggregate totals per day × 商圈 × dimension, event counts and
  rejected counts equal the simulator's ground truth, in the pipeline's store and the baseline's.
- freshness: live events (event_time = now, unique ids) at a steady rate; p50/p99 of
  ``ingested_at − event_time`` from the raw tables, and the path of the slowest 1 % (``path``: each event
  joined to its batch's ``ingest_batches`` row and its record's Kafka timestamp, ``benchmarks.freshness_path``).
- the worker's peak memory (VmHWM);
- the year: with ``--year``, a whole simulated year replayed end to end on a fresh stack and checked
  (``benchmarks.year``); without it, the wall time *extrapolated* from the mixed rate.

Events are sent as our producers send them: bundles of up to ``--bundle-events`` per Kafka record.
Writes ``results/bench-<date>.json``, adds a row to BENCHMARKS.md's pipeline table and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from benchmarks.freshness_path import (
    ENGINE_EVENTS,
    EVENTS_SQL,
    LEDGER_SQL,
    WORK_EVENTS,
    FreshEvent,
    breakdown,
    describe,
    engine_delta,
    ledger_rows,
)
from producers.kafka import FeedProducer, linger_ms_for
from producers.replay import replay
from schemas.feeds import BY_TOPIC, FEEDS
from schemas.zone import ZONE
from simulators.generate import day_events
from simulators.model import MODELS
from simulators.run import RunSpec, records
from simulators.scenario import load
from simulators.truth import Truth
from streams.batch import Record, prepare
from streams.sink import ClickHouseSink
from yzcore.migrate import migrate
from yzcore.settings import Settings
from yzcore.store import DirectReader, Reader, connect, query_reader, rows
from yzmon.broker import ensure_topics, start_broker
from yzmon.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
GROUP = "yzmon"
FRESH_PREFIX = "fresh-"

# Totals per day × 商圈 × dimension, for the raw and the minute-aggregate layers (freshness events excluded):
# each feed's first dimension (or none) and its measures, from the feed registry.
_TOTALS = {name: (feed.dims[0] if feed.dims else "''", feed.measures) for name, feed in FEEDS.items()}


@dataclass
class BenchConfig:
    days: int = 5
    start: date = date(2024, 10, 1)
    seed: int = 7
    scenario: str = "baseline"
    districts: tuple[str, ...] = tuple(MODELS)
    feeds: tuple[str, ...] = tuple(FEEDS)
    per_feed: bool = True
    freshness_seconds: float = 60.0
    freshness_rate: float = 1000.0
    partitions: int = 4
    batch_max: int = Settings.model_fields["batch_max"].default
    batch_seconds: float = Settings.model_fields["batch_seconds"].default
    bundle_events: int = Settings.model_fields["bundle_events"].default
    profile: Path | None = None  # py-spy raw (collapsed) stacks of the worker during the mixed drain
    baseline_dsn: str | None = None  # default: chdb:///<data dir>/baseline-clickhouse


@dataclass
class Phase:
    """One timed drain of records already in Kafka."""

    name: str
    records: int  # events sent (valid ones + injected bad records)
    events: int  # valid events among them
    produce_s: float = 0.0
    landed_s: float = 0.0  # from start to the last batch landed
    committed_s: float = 0.0  # from start to committed offsets == end offsets (pipeline only)
    startup_s: float = 0.0  # worker spawn to partitions assigned (pipeline only, not in the rates)
    worker_cpu_s: float = 0.0  # CPU seconds of the worker from partitions assigned to committed (pipeline only)
    broker_cpu_s: float = 0.0  # CPU seconds of the broker over the same time (pipeline only)
    engine: dict[str, int] = field(default_factory=dict)  # the store's WORK_EVENTS over the same time (pipeline only)
    ranges: dict[str, list[int]] = field(default_factory=dict)  # "topic:partition" -> [start, end)

    @property
    def events_per_s(self) -> float:
        return self.records / self.landed_s if self.landed_s > 0 else 0.0

    def partition_ranges(self) -> dict[TopicPartition, tuple[int, int]]:
        """``ranges`` keyed by Kafka partition."""
        out = {}
        for key, (first, end) in self.ranges.items():
            topic, _, partition = key.rpartition(":")
            out[TopicPartition(topic, int(partition))] = (first, end)
        return out

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "ranges"}
        out["events_per_s"] = round(self.events_per_s, 1)
        if self.committed_s:
            out["events_per_s_committed"] = round(self.records / self.committed_s, 1)
        if self.worker_cpu_s:
            out["worker_cpu_s_per_million"] = round(self.worker_cpu_s / self.records * 1e6, 2)
        return out


# -- helpers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = 0.0
    try:
        kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        ram_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": ram_gb, "python": sys.version.split()[0]}


def proc_cpu_s(pid: int | None) -> float:
    """User plus system CPU seconds of a process so far (all its threads); 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, TypeError):
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_memory_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


class TrackingProducer(FeedProducer):
    """A FeedProducer that records, from the broker's acknowledgements, the end offset of every partition.

    The end offsets come from the produce responses, not from ListOffsets: Tansu 0.6's ListOffsets
    (latest) answered the base offset of the partition's last batch, short of the real end, in our runs.
    """

    def __init__(
        self,
        settings: Settings,
        ends: dict[TopicPartition, int],
        stamps: dict[tuple[str, int, int], int] | None = None,
        **kwargs: Any,
    ):
        # the benchmark waits for the group's commits itself: no waiting for the ledger in close()
        super().__init__(settings, track_landing=False, **kwargs)
        self.ends = ends
        self.stamps = stamps  # when given: each record's Kafka timestamp (ms) by (topic, partition, offset)

    def _acknowledged(self, metadata: Any) -> None:
        tp = TopicPartition(metadata.topic, metadata.partition)
        self.ends[tp] = max(self.ends.get(tp, 0), metadata.offset + 1)
        if self.stamps is not None:
            self.stamps[(metadata.topic, metadata.partition, metadata.offset)] = metadata.timestamp


class Committed:
    """The worker group's committed offsets, through one admin client (cheap to poll)."""

    def __init__(self, bootstrap: str):
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)

    def reached(self, ends: dict[TopicPartition, int]) -> bool:
        got = {tp: meta.offset for tp, meta in self.admin.list_group_offsets(GROUP).get(GROUP, {}).items()}
        return all(got.get(tp, 0) >= end for tp, end in ends.items() if end > 0)

    def close(self) -> None:
        self.admin.close()


class Expected:
    """Ground truth of everything produced for the exactly-once check (``simulators.run.truth`` per spec)."""

    def __init__(self) -> None:
        self.truth = Truth()
        self.events: dict[str, int] = defaultdict(int)
        self.rejected: dict[str, int] = defaultdict(int)

    def add(self, spec: RunSpec, dump: dict[str, Any] | None = None) -> tuple[int, int]:
        """Add the spec's records; with ``dump`` (feed -> open binary file), also write each valid event there
        as a JSON line (for the store's own ingest of the same events)."""
        n_records = n_events = 0
        for day in spec.days:
            for r in records(spec, day):
                n_records += 1
                if r.event is not None:
                    if dump is not None:
                        dump[r.feed].write(orjson.dumps(r.event) + b"\n")
                    self.truth.add(r.feed, r.event)
                    self.events[r.feed] += 1
                    n_events += 1
                else:
                    self.truth.add_rejected(day.isoformat(), r.feed, r.reason)
                    self.rejected[r.feed] += 1
        return n_records, n_events


def exactly_once(reader: Reader, expected: Expected) -> dict[str, Any]:
    """Compare the store with the ground truth: totals per day × 商圈 × dimension (raw and aggregates),
    event counts (FINAL, and distinct event ids) and rejected records per feed."""
    want = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in expected.truth.rows() if m != "rejected"}
    fresh = f"event_id NOT LIKE '{FRESH_PREFIX}%'"
    problems: list[str] = []
    for layer in ("raw", "agg"):
        got: dict[tuple, Decimal] = {}
        for name, (dim, measures) in _TOTALS.items():
            feed = FEEDS[name]
            if layer == "raw":
                table, when, where = feed.raw_table, "event_time", f"WHERE {fresh}"
            else:
                table, when, where = feed.level_table("minute"), "minute", "WHERE toYear(minute) < 2025"
            sums = ", ".join(f"sum({m}) AS {m}" for m in measures)
            sql = (
                f"SELECT toString(toDate({when}, 'Asia/Shanghai')) AS day, district, {dim} AS dimension, {sums} "
                f"FROM {table} FINAL {where} GROUP BY ALL"
            )
            for r in rows(reader, sql):
                for m in measures:
                    got[(r["day"], r["district"], name, r["dimension"], m)] = Decimal(str(r[m]))
        # the freshness run is the only data after 2024 in the aggregates; truth rows are all simulated days
        got = {k: v for k, v in got.items() if v != 0 or k in want}
        if got != want:
            diff = sorted(set(got.items()) ^ set(want.items()))[:5]
            problems.append(f"{layer} totals differ from the ground truth, e.g. {diff}")
    counts: dict[str, Any] = {}
    for name, feed in FEEDS.items():
        r = rows(reader, f"SELECT count() AS n, uniqExact(event_id) AS ids FROM {feed.raw_table} FINAL WHERE {fresh}")[
            0
        ]
        rej = rows(
            reader, "SELECT count() AS n FROM rejected_events FINAL WHERE topic = {t:String}", {"t": feed.topic}
        )[0]
        counts[name] = {
            "events": int(r["n"]),
            "expected": expected.events.get(name, 0),
            "rejected": int(rej["n"]),
            "expected_rejected": expected.rejected.get(name, 0),
        }
        if int(r["n"]) != int(r["ids"]) or int(r["n"]) != expected.events.get(name, 0):
            problems.append(f"{name}: {r['n']} rows, {r['ids']} ids, {expected.events.get(name, 0)} sent")
        if int(rej["n"]) != expected.rejected.get(name, 0):
            problems.append(f"{name}: {rej['n']} rejected, {expected.rejected.get(name, 0)} injected")
    return {"ok": not problems, "counts": counts, "problems": problems}


# -- the benchmark --------------------------------------------------------------------------------


class Bench:
    def __init__(self, config: BenchConfig, data_dir: Path, log=print):
        self.config = config
        self.log = log
        self.settings = Settings(
            data_dir=data_dir,
            broker_port=free_port(),
            worker_port=free_port(),
            sql_port=free_port(),
            topic_partitions=config.partitions,
            batch_max=config.batch_max,
            batch_seconds=config.batch_seconds,
        )
        self.stack = Stack(self.settings)
        self.expected = Expected()
        self.scenario = load(config.scenario)
        self.next_day = config.start
        self.pipeline: list[Phase] = []
        self.profile_proc: subprocess.Popen | None = None
        self.ends: dict[TopicPartition, int] = {}  # end offset of every partition we produced to

    # lifecycle
    def start_broker(self) -> None:
        s = self.settings
        log_dir = s.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stack.logs = {"broker": log_dir / "broker.log", "worker": log_dir / "worker.log"}
        self.stack.broker = start_broker(s, self.stack.logs["broker"])
        ensure_topics(s)
        self.stack.migrate()  # the worker only checks the schema

    def stop_worker(self) -> None:
        proc = self.stack.worker
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.stack.worker = None

    def close(self) -> None:
        self._stop_profile()
        self.stack.stop()

    @property
    def topics(self) -> list[str]:
        return [f.topic for f in FEEDS.values()]

    # producing
    def produce(
        self, feeds: tuple[str, ...], name: str, dump: dict[str, Any] | None = None
    ) -> tuple[Phase, dict[TopicPartition, int]]:
        """Replay the next ``days`` simulated days of ``feeds`` at full speed; return the phase and its end offsets."""
        c = self.config
        spec = RunSpec(
            self.scenario,
            c.seed,
            self.next_day,
            self.next_day + timedelta(days=c.days),
            districts=c.districts,
            feeds=feeds,
        )
        self.next_day = spec.end
        n_records, n_events = self.expected.add(spec, dump)
        before = dict(self.ends)
        t = time.monotonic()
        producer = TrackingProducer(
            self.settings,
            self.ends,
            validate=False,
            linger_ms=linger_ms_for(None),
            bundle_events=c.bundle_events,
        )
        sent = replay(spec, producer, None, show_progress=False)
        producer.close()
        produce_s = time.monotonic() - t
        after = dict(self.ends)
        if sent != n_records or producer.sent != n_records:
            raise RuntimeError(f"produced {sent} events ({producer.sent} confirmed), expected {n_records}")
        phase = Phase(
            name,
            n_records,
            n_events,
            produce_s=round(produce_s, 2),
            ranges={
                f"{tp.topic}:{tp.partition}": [before.get(tp, 0), end]
                for tp, end in after.items()
                if end > before.get(tp, 0)
            },
        )
        return phase, after

    # the pipeline
    def drain_pipeline(self, phase: Phase, ends: dict[TopicPartition, int], profile: Path | None = None) -> Phase:
        spawn = time.time()
        self.stack.start_worker()
        self.stack.wait_ready(120)
        t0 = time.time()
        phase.startup_s = round(t0 - spawn, 2)
        worker_pid, broker_pid = self.stack.worker.pid, self.stack.broker.pid if self.stack.broker else None
        cpu0 = proc_cpu_s(worker_pid), proc_cpu_s(broker_pid)
        engine0 = rows(self.reader, EVENTS_SQL, {"names": list(WORK_EVENTS)})
        if profile is not None:
            self._start_profile(profile)
        committed = Committed(self.settings.bootstrap)
        try:
            deadline = time.monotonic() + 1800
            while not committed.reached(ends):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not drain {phase.name} within 30 min")
                if self.stack.worker is not None and self.stack.worker.poll() is not None:
                    raise RuntimeError(f"the worker died; see {self.stack.logs['worker']}")
                time.sleep(0.2)
            t_committed = time.time()
            phase.worker_cpu_s = round(proc_cpu_s(worker_pid) - cpu0[0], 2)
            phase.broker_cpu_s = round(proc_cpu_s(broker_pid) - cpu0[1], 2)
            engine1 = rows(self.reader, EVENTS_SQL, {"names": list(WORK_EVENTS)})
            phase.engine = engine_delta(engine0, engine1, WORK_EVENTS)
        finally:
            committed.close()
        self._stop_profile()
        r = rows(
            self.reader,
            "SELECT toUnixTimestamp64Milli(min(landed_at)) AS first, "
            "toUnixTimestamp64Milli(max(landed_at)) AS last FROM ingest_batches "
            "WHERE toUnixTimestamp64Milli(landed_at) >= {t:Int64}",
            {"t": int(spawn * 1000)},
        )[0]
        # a batch may land before wait_ready notices the assignment: start at whichever came first
        start = min(t0, int(r["first"]) / 1000) if int(r["first"]) else t0
        phase.landed_s = round(int(r["last"]) / 1000 - start, 3)
        phase.committed_s = round(t_committed - start, 3)
        self.pipeline.append(phase)
        self.log(
            f"pipeline {phase.name}: {phase.records:,} events in {phase.landed_s:.1f} s "
            f"= {phase.events_per_s:,.0f}/s (worker startup {phase.startup_s:.1f} s; CPU until committed: "
            f"worker {phase.worker_cpu_s:.2f} s, broker {phase.broker_cpu_s:.2f} s); store: {phase.engine}"
        )
        return phase

    @property
    def reader(self) -> Reader:
        return query_reader(self.settings)

    def _start_profile(self, out: Path) -> None:
        assert self.stack.worker is not None
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.profile_proc = subprocess.Popen(
                [
                    shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(self.stack.worker.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "100",
                    "--nonblocking",
                    "-o",
                    str(out),
                    "--duration",
                    "1800",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            self.log("py-spy not installed: no profile")

    def _stop_profile(self) -> None:
        proc, self.profile_proc = self.profile_proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    # freshness
    def freshness(self) -> dict[str, Any]:
        c = self.config
        if c.freshness_seconds <= 0:
            return {}
        pool = day_events(self.scenario, c.seed, c.start, c.districts, c.feeds)
        total = int(c.freshness_seconds * c.freshness_rate)
        engine_before = rows(self.reader, EVENTS_SQL, {"names": list(ENGINE_EVENTS)})
        stamps: dict[tuple[str, int, int], int] = {}
        producer = TrackingProducer(self.settings, self.ends, stamps, linger_ms=5, bundle_events=c.bundle_events)
        run = f"{int(time.time())}"
        since_ms = int(time.time() * 1000)
        t0 = last_flush = time.monotonic()
        sent = 0
        while sent < total:
            due = min(total, int((time.monotonic() - t0) * c.freshness_rate) + 1)
            while sent < due:
                feed, event = pool[sent % len(pool)]
                event = dict(
                    event,
                    event_id=f"{FRESH_PREFIX}{run}-{sent}",
                    event_time=datetime.now(ZONE).isoformat(timespec="milliseconds"),
                )
                producer.send(feed, event)
                sent += 1
            if time.monotonic() - last_flush >= 1.0:
                producer.flush()
                last_flush = time.monotonic()
            time.sleep(0.002)
        producer.close()
        produce_s = time.monotonic() - t0
        ends = dict(self.ends)
        committed = Committed(self.settings.bootstrap)
        try:
            deadline = time.monotonic() + 300
            while not committed.reached(ends) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            committed.close()
        per_event = " UNION ALL ".join(
            f"SELECT toUnixTimestamp64Milli(min(ingested_at)) - toUnixTimestamp64Milli(any(event_time)) AS d "
            f"FROM {f.raw_table} WHERE event_id LIKE '{FRESH_PREFIX}{run}-%' GROUP BY event_id"
            for f in FEEDS.values()
        )
        r = rows(
            self.reader,
            f"SELECT count() AS n, quantileExact(0.5)(d) AS p50, quantileExact(0.99)(d) AS p99, "
            f"max(d) AS max FROM ({per_event})",
        )[0]
        out = {
            "events": int(r["n"]),
            "sent": sent,
            "rate_per_s": round(sent / produce_s, 1),
            "p50_ms": int(r["p50"]),
            "p99_ms": int(r["p99"]),
            "max_ms": int(r["max"]),
            "measure": "raw ingested_at - event_time",
        }
        out["path"] = self.freshness_path(run, since_ms, stamps)
        out["path"]["engine"] = engine_delta(
            engine_before, rows(self.reader, EVENTS_SQL, {"names": list(ENGINE_EVENTS)})
        )
        self.log(f"freshness: {out}")
        self.log(describe(out["path"]))
        return out

    def freshness_path(self, run: str, since_ms: int, stamps: dict[tuple[str, int, int], int]) -> dict[str, Any]:
        """Each fresh event's path (``benchmarks.freshness_path``): its raw row joined to its batch's ledger row."""
        per_event = " UNION ALL ".join(
            f"SELECT '{f.topic}' AS topic, argMin(kafka_partition, ingested_at) AS p, "
            f"argMin(kafka_offset, ingested_at) AS o, toUnixTimestamp64Milli(any(event_time)) AS ev, "
            f"toUnixTimestamp64Milli(min(ingested_at)) AS ing "
            f"FROM {f.raw_table} WHERE event_id LIKE '{FRESH_PREFIX}{run}-%' GROUP BY event_id"
            for f in FEEDS.values()
        )
        events = [
            FreshEvent(str(r["topic"]), int(r["p"]), int(r["o"]), int(r["ev"]), int(r["ing"]))
            for r in rows(self.reader, per_event)
        ]
        ledger = ledger_rows(rows(self.reader, LEDGER_SQL, {"since": since_ms}))
        return breakdown(events, ledger, stamps)

    def _plain_consumer(self, ranges: dict[TopicPartition, tuple[int, int]]) -> KafkaConsumer:
        """A kafka-python consumer without a group, assigned to ``ranges`` and at their first offsets."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            max_poll_records=self.config.batch_max,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            request_timeout_ms=30000,
        )
        consumer.assign(list(ranges))
        for tp, (first, _) in ranges.items():
            consumer.seek(tp, first)
        return consumer

    # the baseline
    def drain_baseline(self, phase: Phase, sink: ClickHouseSink) -> Phase:
        """The same records through kafka-python + prepare + ClickHouseSink.write, no Faust."""
        c = self.config
        ranges = phase.partition_ranges()
        tolerance = timedelta(seconds=self.settings.future_tolerance_s)
        lateness = timedelta(seconds=self.settings.allowed_lateness_s)
        watermarks: dict[str, dict[tuple[int, str], datetime]] = defaultdict(dict)
        buffers: dict[str, list[Record]] = defaultdict(list)
        since: dict[str, float] = {}
        out = Phase(phase.name, phase.records, phase.events, ranges=phase.ranges)
        t0 = time.time()
        consumer = self._plain_consumer(ranges)
        remaining = dict(ranges)
        landed = 0

        def flush(topic: str) -> None:
            nonlocal landed
            batch = prepare(
                BY_TOPIC[topic], buffers.pop(topic), datetime.now(UTC), tolerance, watermarks[topic], lateness
            )
            sink.write(batch)
            landed += batch.accepted + len(batch.rejected)
            since.pop(topic, None)

        try:
            while remaining or buffers:
                polled = consumer.poll(timeout_ms=200, max_records=c.batch_max) if remaining else {}
                for tp, messages in polled.items():
                    end = ranges[tp][1]
                    buf = buffers[tp.topic]
                    since.setdefault(tp.topic, time.monotonic())
                    buf.extend(
                        Record(m.topic, m.partition, m.offset, m.value or b"") for m in messages if m.offset < end
                    )
                    if tp in remaining and consumer.position(tp) >= end:
                        del remaining[tp]
                        consumer.pause(tp)
                now = time.monotonic()
                for topic in list(buffers):
                    done = not any(tp.topic == topic for tp in remaining)
                    if not buffers[topic]:
                        buffers.pop(topic)
                    elif len(buffers[topic]) >= c.batch_max or done or now - since[topic] >= c.batch_seconds:
                        flush(topic)
        finally:
            consumer.close()
        out.landed_s = round(time.time() - t0, 3)
        if landed != phase.records:
            raise RuntimeError(f"baseline landed {landed} of {phase.records} records")
        self.log(f"baseline {out.name}: {out.records:,} events in {out.landed_s:.1f} s = {out.events_per_s:,.0f}/s")
        return out

    # the limits: a Kafka read with no processing, and the store's own JSON ingest
    def kafka_read(self, phase: Phase) -> Phase:
        """The same records read again by kafka-python with the baseline's settings, nothing done with them."""
        ranges = phase.partition_ranges()
        out = Phase(f"{phase.name} kafka read", phase.records, phase.events, ranges=phase.ranges)
        t0 = time.time()
        consumer = self._plain_consumer(ranges)
        remaining, kafka_records, nbytes = dict(ranges), 0, 0
        try:
            while remaining:
                for tp, messages in consumer.poll(timeout_ms=200, max_records=self.config.batch_max).items():
                    end = ranges[tp][1]
                    for m in messages:
                        if m.offset < end:
                            kafka_records += 1
                            nbytes += len(m.value or b"")
                    if tp in remaining and consumer.position(tp) >= end:
                        del remaining[tp]
                        consumer.pause(tp)
        finally:
            consumer.close()
        out.landed_s = round(time.time() - t0, 3)
        self.log(f"kafka read {phase.name}: {kafka_records:,} records ({nbytes / 1e6:,.0f} MB) in {out.landed_s:.1f} s")
        return out


def store_ingest(dsn: str, files: dict[str, Path], phase: Phase, log=print) -> Phase:
    """The store's own JSON ingest of the same valid events: one ``INSERT … FROM INFILE … FORMAT JSONEachRow``
    per raw table, into a fresh database of the baseline's store (no Kafka, no Python, no rollups)."""
    admin = connect(dsn)
    admin.command("DROP DATABASE IF EXISTS store_ingest")
    admin.command("CREATE DATABASE store_ingest")
    client = connect(f"{dsn.split('?')[0]}?database=store_ingest")
    migrate(client)
    out = Phase(f"{phase.name} store ingest", phase.events, phase.events)
    t0 = time.time()
    for name, path in files.items():
        client.command(
            f"INSERT INTO {FEEDS[name].raw_table} FROM INFILE '{path}' "
            "SETTINGS date_time_input_format = 'best_effort' FORMAT JSONEachRow"
        )
    out.landed_s = round(time.time() - t0, 3)
    got = sum(int(client.command(f"SELECT count() FROM {FEEDS[name].raw_table}")) for name in files)
    if got != phase.events:
        raise RuntimeError(f"the store's ingest took {got} of {phase.events} events")
    log(f"store ingest {phase.name}: {phase.events:,} events in {out.landed_s:.2f} s = {out.events_per_s:,.0f}/s")
    return out


def run(config: BenchConfig, data_dir: Path | None = None, log=print) -> dict[str, Any]:
    """Run every phase; return the results (nothing written outside ``data_dir``, except the profile)."""
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="yzmon-bench-", ignore_cleanup_errors=True)  # chDB may still merge
        data_dir = Path(tmp.name)
    bench = Bench(config, data_dir, log)
    result: dict[str, Any] = {
        "config": {k: str(v) if isinstance(v, (date, Path)) else v for k, v in asdict(config).items()}
    }
    try:
        bench.start_broker()
        # 1. throughput: mixed, then each feed alone
        dumps = {name: data_dir / f"mixed-{name}.jsonl" for name in config.feeds}
        handles = {name: path.open("wb") for name, path in dumps.items()}
        try:
            mixed, ends = bench.produce(config.feeds, "mixed", handles)
        finally:
            for handle in handles.values():
                handle.close()
        log(f"produced {mixed.records:,} events ({config.days} day(s), mixed) in {mixed.produce_s:.1f} s")
        bench.drain_pipeline(mixed, ends, config.profile)
        if config.per_feed and len(config.feeds) > 1:
            for feed in config.feeds:
                bench.stop_worker()
                phase, ends = bench.produce((feed,), feed)
                bench.drain_pipeline(phase, ends)
        result["exactly_once_pipeline"] = exactly_once(bench.reader, bench.expected)
        log(f"exactly once (pipeline): {result['exactly_once_pipeline']['ok']}")
        # 3. freshness at a steady live rate
        result["freshness"] = bench.freshness()
        # 4. peak memory of the worker, before it stops
        assert bench.stack.worker is not None
        result["worker_memory_mb"] = proc_memory_mb(bench.stack.worker.pid)
        bench.stop_worker()
        # 2. the baseline over the same records, with the worker stopped
        dsn = config.baseline_dsn or f"chdb:///{(data_dir / 'baseline-clickhouse').resolve()}"
        migrate(connect(dsn))
        sink = ClickHouseSink(dsn)
        baseline = [bench.drain_baseline(p, sink) for p in bench.pipeline]
        result["exactly_once_baseline"] = exactly_once(
            DirectReader(connect(dsn, readonly=True, settings=bench.settings)), bench.expected
        )
        # 5. the limits, on the mixed phase's records and events
        limits = [bench.kafka_read(mixed), store_ingest(dsn, dumps, mixed, log)]
        log(f"exactly once (baseline): {result['exactly_once_baseline']['ok']}")
    finally:
        bench.close()
        if tmp is not None:
            tmp.cleanup()
    result["pipeline"] = {p.name: p.summary() for p in bench.pipeline}
    result["baseline"] = {p.name: p.summary() for p in baseline}
    result["ratio"] = {
        p.name: round(p.events_per_s / b.events_per_s, 3) if b.events_per_s else None
        for p, b in zip(bench.pipeline, baseline, strict=True)
    }
    kafka, store = limits
    result["limits"] = {"kafka_read": kafka.summary(), "store_ingest": store.summary()}
    pipe, base = bench.pipeline[0], baseline[0]
    result["ratios"] = {  # mixed phase, all measured in this run
        "pipeline_to_store_ingest": round(pipe.events_per_s / store.events_per_s, 3),
        "pipeline_to_kafka_read": round(pipe.events_per_s / kafka.events_per_s, 3),
        "pipeline_to_plain_consumer": round(pipe.events_per_s / base.events_per_s, 3),
        "plain_consumer_to_store_ingest": round(base.events_per_s / store.events_per_s, 3),
    }
    result["exactly_once"] = result["exactly_once_pipeline"]["ok"] and result["exactly_once_baseline"]["ok"]
    per_day = mixed.records / config.days
    rate = bench.pipeline[0].events_per_s
    result["year"] = {
        "extrapolated": True,
        "events_per_simulated_day": round(per_day),
        "districts": len(config.districts),
        "events_per_year_at_measured_day": round(per_day * 365),
        "wall_s_for_365_days": round(per_day * 365 / rate, 1) if rate else None,
        "note": "not replayed: the mixed pipeline rate applied to 365 simulated days (measure it with --year)",
    }
    return result


# -- reporting ------------------------------------------------------------------------------------

HEADER = (
    "| date | machine | command | pipeline ev/s | store JSON ingest ev/s | pipeline ÷ store | Kafka read ev/s | "
    "plain consumer ev/s | pipeline ÷ plain | per feed ev/s (÷ plain) | freshness p50/p99 ms | year replay | "
    "worker peak MB | exactly once |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def _year_cell(result: dict[str, Any]) -> str:
    y = result.get("year_replay")
    if y:
        return f"{y['wall_s'] / 60:.1f} min measured ({y['records']:,} records)"
    x = result["year"]
    return f"≈{x['wall_s_for_365_days'] / 60:.0f} min extrapolated" if x.get("wall_s_for_365_days") else "–"


def record(result: dict[str, Any], out: Path, bench_md: Path) -> None:
    """Write the results JSON and add a row at the end of BENCHMARKS.md's pipeline table."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    m = result["machine"]
    fresh = result.get("freshness") or {}
    per_feed = (
        " · ".join(
            f"{name} {p['events_per_s']:,.0f} ({result['ratio'][name]:.2f})"
            for name, p in result["pipeline"].items()
            if name != "mixed"
        )
        or "–"
    )
    ok = result["exactly_once"] and (result.get("year_replay") or {}).get("exactly_once", {}).get("ok", True)
    limits, ratios = result["limits"], result["ratios"]
    row = (
        f"| {result['date']} | {m['nproc']} cores, {m['cpu']}, {m['ram_gb']} GB | `{result['command']}` | "
        f"{result['pipeline']['mixed']['events_per_s']:,.0f} | {limits['store_ingest']['events_per_s']:,.0f} | "
        f"{ratios['pipeline_to_store_ingest']:.3f} | {limits['kafka_read']['events_per_s']:,.0f} | "
        f"{result['baseline']['mixed']['events_per_s']:,.0f} | {result['ratio']['mixed']:.2f} | {per_feed} | "
        f"{fresh.get('p50_ms', '–')} / {fresh.get('p99_ms', '–')} | "
        f"{_year_cell(result)} | {result['worker_memory_mb'].get('VmHWM', '–')} | {'pass' if ok else 'FAIL'} |\n"
    )
    if not bench_md.exists():
        bench_md.write_text(
            "# Benchmarks\n\nRows added by `python -m benchmarks.pipeline` (see its docstring for "
            "the method). Rates are events from Kafka to queryable in ClickHouse, in one run on "
            "a shared machine: compare rows, not single numbers.\n\n" + HEADER
        )
    lines = bench_md.read_text().splitlines(keepends=True)
    first = HEADER.splitlines()[0]
    at = next((i for i, line in enumerate(lines) if line.rstrip("\n") == first), None)
    if at is None:  # no table of this layout yet: start one at the end
        lines += ["\n", HEADER]
        at = len(lines) - 2
    end = at + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines.insert(end, row)
    bench_md.write_text("".join(lines))


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"yzmon pipeline benchmark {result['date']}")
    for col in ("phase", "records", "pipeline ev/s", "committed ev/s", "baseline ev/s", "ratio", "worker startup s"):
        t.add_column(col, justify="right" if col != "phase" else "left")
    for name, p in result["pipeline"].items():
        b = result["baseline"][name]
        t.add_row(
            name,
            f"{p['records']:,}",
            f"{p['events_per_s']:,.0f}",
            f"{p.get('events_per_s_committed', 0):,.0f}",
            f"{b['events_per_s']:,.0f}",
            f"{result['ratio'][name]:.2f}",
            f"{p['startup_s']:.1f}",
        )
    for key, label in (("store_ingest", "store's own JSON ingest (mixed)"), ("kafka_read", "Kafka read (mixed)")):
        limit = result["limits"][key]
        t.add_row(label, f"{limit['records']:,}", f"{limit['events_per_s']:,.0f}", "", "", "", "")
    console = Console()
    console.print(t)
    fresh = result.get("freshness") or {}
    y = result["year"]
    s = Table(show_header=False)
    s.add_row("ratios (mixed)", " · ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in result["ratios"].items()))
    s.add_row(
        "freshness",
        f"p50 {fresh.get('p50_ms')} ms · p99 {fresh.get('p99_ms')} ms · max {fresh.get('max_ms')} "
        f"ms at {fresh.get('rate_per_s')} events/s ({fresh.get('events')} events)",
    )
    if (fresh.get("path") or {}).get("tail"):
        s.add_row("freshness path", describe(fresh["path"]).removeprefix("freshness path, "))
    s.add_row(
        "worker memory",
        f"peak (VmHWM) {result['worker_memory_mb'].get('VmHWM')} MB · "
        f"RSS at end {result['worker_memory_mb'].get('VmRSS')} MB",
    )
    if result.get("year_replay"):
        r = result["year_replay"]
        s.add_row(
            "year (MEASURED)",
            f"{r['year']}: {r['records']:,} records end to end in {r['wall_s'] / 60:.1f} min "
            f"({r['events_per_s']:,.0f}/s); worker RSS max "
            f"{r['worker_memory_mb'].get('max_mb')} MB; exactly once "
            f"{'pass' if r['exactly_once']['ok'] else 'FAIL'}",
        )
    else:
        s.add_row(
            "year (EXTRAPOLATED)",
            f"{y['events_per_simulated_day']:,} events/day × 365 → "
            f"{y['wall_s_for_365_days'] / 60:.1f} min (measure it: --year 2024)",
        )
    s.add_row(
        "exactly once",
        "[green]pass[/]"
        if result["exactly_once"]
        else "[red]FAIL[/] "
        + "; ".join(result["exactly_once_pipeline"]["problems"] + result["exactly_once_baseline"]["problems"])[:500],
    )
    console.print(s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=5, help="simulated days per phase (default 5, ~520k events mixed)")
    p.add_argument("--freshness-seconds", type=float, default=60.0)
    p.add_argument("--freshness-rate", type=float, default=1000.0, help="live events per second")
    p.add_argument("--district", action="append", choices=list(MODELS), help="limit to these 商圈 (repeatable)")
    p.add_argument("--feed", action="append", choices=list(FEEDS), help="limit to these feeds (repeatable)")
    p.add_argument("--no-per-feed", action="store_true", help="skip the one-feed-at-a-time phases")
    p.add_argument("--partitions", type=int, default=Settings().topic_partitions)
    p.add_argument("--batch-max", type=int, default=Settings().batch_max, help="Kafka records per worker batch")
    p.add_argument("--batch-seconds", type=float, default=Settings().batch_seconds, help="longest batch fill time")
    p.add_argument("--bundle-events", type=int, default=Settings().bundle_events, help="events per Kafka record")
    p.add_argument("--profile", type=Path, help="py-spy raw stacks of the worker during the mixed drain")
    p.add_argument("--year", type=int, help="also replay this whole simulated year end to end (about half an hour)")
    p.add_argument("--out", type=Path, help="results JSON (default results/bench-<date>.json)")
    p.add_argument("--bench-md", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--no-record", action="store_true", help="write neither the JSON nor the BENCHMARKS.md row")
    a = p.parse_args(argv)
    config = BenchConfig(
        days=a.days,
        freshness_seconds=a.freshness_seconds,
        freshness_rate=a.freshness_rate,
        districts=tuple(a.district or MODELS),
        feeds=tuple(a.feed or FEEDS),
        per_feed=not a.no_per_feed,
        partitions=a.partitions,
        batch_max=a.batch_max,
        batch_seconds=a.batch_seconds,
        bundle_events=a.bundle_events,
        profile=a.profile,
    )
    started = datetime.now(UTC)
    result = {
        "date": started.astimezone(ZONE).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "command": shlex.join(["python", "-m", "benchmarks.pipeline", *(argv if argv is not None else sys.argv[1:])]),
    }
    result.update(run(config))
    if a.year:
        from benchmarks.year import run_year

        result["year_replay"] = run_year(
            a.year, settings=Settings(batch_max=a.batch_max, bundle_events=a.bundle_events)
        )
    result["wall_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    if not a.no_record:
        out = a.out or ROOT / "results" / f"bench-{started.astimezone(ZONE):%Y-%m-%d-%H%M}.json"
        record(result, out, a.bench_md)
        print(f"wrote {out} and a row of {a.bench_md}")
    print_table(result)
    year_ok = (result.get("year_replay") or {}).get("exactly_once", {}).get("ok", True)
    return 0 if result["exactly_once"] and year_ok else 1


if __name__ == "__main__":
    sys.exit(main())
