"""A whole simulated year replayed end to end: `python -m benchmarks.year [--year 2024]`.

On a private embedded stack (temp data dir, free ports, an empty store), `yzmon replay`'s code
path sends every record of the year at full speed (all feeds, all 商圈, the scenario's injected
bad records) while the worker lands them. The clock runs from the first record sent until the
worker's committed offsets reach every partition's end. Meanwhile the worker's resident memory
is sampled every few seconds. At the end, exactly once: per feed, the raw rows (FINAL), their
distinct event ids and the monthly rollups equal what was sent (counts and money to the fen),
and the rejected events equal the injected bad records.

`python -m benchmarks.pipeline --year 2024` runs this after its own phases and reports both.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from kafka.structs import TopicPartition

from benchmarks.freshness_path import EVENTS_SQL, WORK_EVENTS, engine_delta
from benchmarks.pipeline import Committed, TrackingProducer, free_port, machine, proc_cpu_s, proc_memory_mb
from producers.kafka import linger_ms_for
from producers.replay import replay
from schemas.feeds import DECIMAL, FEEDS
from schemas.wire import EventRun
from simulators.model import MODELS
from simulators.run import RunSpec
from simulators.scenario import load
from yzcore.settings import Settings
from yzcore.store import Reader, query_reader, rows
from yzmon.stack import Stack

# The default of each optional measure field (an event may leave it out), from the feed registry.
DEFAULTS = {(name, c.name): c.default for name, feed in FEEDS.items() for c in feed.columns if c.default is not None}
MONEY = {(name, c.name) for name, feed in FEEDS.items() for c in feed.columns if c.kind == DECIMAL}


class CountingProducer(TrackingProducer):
    """Counts what was sent per feed: valid events, the total of each measure, and bad records."""

    def __init__(self, settings: Settings, ends: dict[TopicPartition, int], **kwargs: Any):
        super().__init__(settings, ends, **kwargs)
        self.events: Counter = Counter()
        self.totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (feed, measure)
        self.bad: Counter = Counter()

    def send(self, feed: str, event: dict) -> None:
        super().send(feed, event)
        self.events[feed] += 1
        for m in FEEDS[feed].measures:
            value = event.get(m, DEFAULTS.get((feed, m)))
            self.totals[(feed, m)] += value if isinstance(value, int) else Decimal(str(value))

    def send_run(self, run: EventRun) -> None:
        super().send_run(run)
        self.events[run.feed] += run.count
        for m in FEEDS[run.feed].measures:  # a run's totals are in fen for money
            total = run.totals[m]
            self.totals[(run.feed, m)] += Decimal(total).scaleb(-2) if (run.feed, m) in MONEY else total

    def send_raw(self, feed: str, key: bytes | None, value: bytes) -> None:
        super().send_raw(feed, key, value)
        self.bad[feed] += 1


class MemorySampler(threading.Thread):
    """The worker's VmRSS every ``every_s`` seconds."""

    def __init__(self, pid: int, every_s: float = 5.0):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append((round(time.monotonic() - self.t0, 1), proc_memory_mb(self.pid)["VmRSS"]))
            except (OSError, KeyError):
                return
            self.stop.wait(self.every_s)

    def summary(self) -> dict[str, Any]:
        mb = [m for _, m in self.samples]
        if not mb:
            return {}
        quarter = max(1, len(mb) // 4)
        return {
            "samples": len(mb),
            "first_mb": mb[0],
            "max_mb": max(mb),
            "last_mb": mb[-1],
            "median_first_quarter_mb": sorted(mb[:quarter])[quarter // 2],
            "median_last_quarter_mb": sorted(mb[-quarter:])[quarter // 2],
        }


def check(reader: Reader, producer: CountingProducer) -> dict[str, Any]:
    """Raw rows, distinct ids, monthly rollups and rejections against what the producer sent."""
    problems: list[str] = []
    per_feed: dict[str, Any] = {}
    for name, feed in FEEDS.items():
        sums = ", ".join(f"toString(sum({m})) AS {m}" for m in feed.measures)
        raw = rows(reader, f"SELECT count() AS n, uniqExact(event_id) AS ids, {sums} FROM {feed.raw_table} FINAL")[0]
        monthly = rows(reader, f"SELECT {sums} FROM {feed.level_table('month')} FINAL")[0]
        rejected = rows(
            reader, "SELECT count() AS n FROM rejected_events FINAL WHERE topic = {t:String}", {"t": feed.topic}
        )[0]
        sent = producer.events[name]
        per_feed[name] = {
            "sent": sent,
            "rows": int(raw["n"]),
            "ids": int(raw["ids"]),
            "totals": {
                m: {"sent": str(producer.totals[(name, m)]), "raw": raw[m], "monthly": monthly[m]}
                for m in feed.measures
            },
            "bad_sent": producer.bad[name],
            "rejected": int(rejected["n"]),
        }
        if not (int(raw["n"]) == int(raw["ids"]) == sent):
            problems.append(f"{name}: {raw['n']} rows, {raw['ids']} ids, {sent} sent")
        for m in feed.measures:
            total = producer.totals[(name, m)]
            if not (Decimal(raw[m]) == Decimal(monthly[m]) == total):
                problems.append(f"{name}: {m} raw {raw[m]}, monthly {monthly[m]}, sent {total}")
        if int(rejected["n"]) != producer.bad[name]:
            problems.append(f"{name}: {rejected['n']} rejected, {producer.bad[name]} bad records sent")
    return {"ok": not problems, "feeds": per_feed, "problems": problems}


def run_year(
    year: int,
    data_dir: Path | None = None,
    scenario: str = "baseline",
    seed: int = 7,
    settings: Settings | None = None,
    log=print,
    show_progress: bool = True,
    days: int | None = None,
    districts: tuple[str, ...] = tuple(MODELS),
    bad_per_day: int = 0,
) -> dict[str, Any]:
    """Replay ``year`` (or its first ``days``) on a fresh embedded stack; return wall times, memory samples
    and the exactness check."""
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="yzmon-year-")
        data_dir = Path(tmp.name)
    base = settings or Settings()
    s = base.model_copy(
        update={
            "data_dir": data_dir,
            "broker_port": free_port(),
            "worker_port": free_port(),
            "sql_port": free_port(),
            "kafka_bootstrap": None,
            "clickhouse_dsn": None,
            "reader_dsn": None,
        }
    )
    stack = Stack(s)
    first = date(year, 1, 1)
    spec = RunSpec(
        load(scenario),
        seed,
        first,
        first + timedelta(days=days) if days else date(year + 1, 1, 1),
        districts=districts,
        bad_per_day=bad_per_day,
    )
    ends: dict[TopicPartition, int] = {}
    try:
        stack.start(wait_ready_s=120)
        assert stack.worker is not None
        sampler = MemorySampler(stack.worker.pid)
        sampler.start()
        producer = CountingProducer(
            s, ends, validate=False, linger_ms=linger_ms_for(None), bundle_events=s.bundle_events
        )
        reader = query_reader(s)
        engine_before = rows(reader, EVENTS_SQL, {"names": list(WORK_EVENTS)})
        t0, cpu0, worker_cpu0 = time.monotonic(), time.process_time(), proc_cpu_s(stack.worker.pid)
        sent = replay(spec, producer, None, show_progress=show_progress)
        producer.close()
        produced_s, produce_cpu_s = time.monotonic() - t0, time.process_time() - cpu0
        log(
            f"sent {sent:,} records of {year} in {produced_s:.0f} s ({produce_cpu_s:.0f} CPU-s of this process); "
            "waiting for the worker to commit them all"
        )
        committed = Committed(s.bootstrap)
        try:
            while not committed.reached(ends):
                if stack.worker.poll() is not None:
                    raise RuntimeError(f"the worker died; see {stack.logs['worker']}")
                time.sleep(0.5)
        finally:
            committed.close()
        wall_s = time.monotonic() - t0
        sampler.stop.set()
        sampler.join()
        end = proc_memory_mb(stack.worker.pid)
        worker_cpu_s = proc_cpu_s(stack.worker.pid) - worker_cpu0
        engine = engine_delta(engine_before, rows(reader, EVENTS_SQL, {"names": list(WORK_EVENTS)}), WORK_EVENTS)
        memory = {**sampler.summary(), **{f"end_{k}": v for k, v in end.items()}}
        result = {
            "year": year,
            "days": len(spec.days),
            "scenario": scenario,
            "records": sent,
            "produce_s": round(produced_s, 1),
            "produce_cpu_s": round(produce_cpu_s, 1),  # the producer's CPU time (generation, bundles, Kafka client)
            "wall_s": round(wall_s, 1),
            "worker_cpu_s": round(worker_cpu_s, 1),  # the worker's CPU time from the first record sent to all committed
            "engine": engine,  # the embedded store's counters over the same span (merges, inserts, their times)
            "events_per_s": round(sent / wall_s, 1),
            "worker_memory_mb": memory,
            "memory_samples": sampler.samples,
            "bundle_events": s.bundle_events,
            "batch_max": s.batch_max,
        }
        log(
            f"year {year}: {sent:,} records end to end in {wall_s / 60:.1f} min ({sent / wall_s:,.0f}/s); "
            f"worker RSS {memory.get('first_mb')} → max {memory.get('max_mb')} → {memory.get('last_mb')} MB, "
            f"{worker_cpu_s:.0f} CPU-s"
        )
        log(f"store: {engine}")
        result["exactly_once"] = check(reader, producer)
        log(f"exactly once: {result['exactly_once']['ok']} {result['exactly_once']['problems']}")
        return result
    finally:
        stack.stop()
        if tmp is not None:
            tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.year", description=__doc__.splitlines()[0])
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--scenario", default="baseline")
    p.add_argument("--out", type=Path, help="results JSON (default results/year-<year>-<date>.json)")
    a = p.parse_args(argv)
    result = {"machine": machine(), **run_year(a.year, scenario=a.scenario)}
    out = a.out or Path("results") / f"year-{a.year}-{time.strftime('%Y-%m-%d-%H%M')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"results: {out}")
    return 0 if result["exactly_once"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
