"""The worker's hot path against the store's own JSON ingest, in one process: `python -m benchmarks.hotpath`.

The same simulated events (``--days`` of every feed and 商圈, in bundles of ``--bundle-events`` as the
producers send them) go, round after round, into fresh databases of one chDB directory:

- store: the valid events as JSON lines, one ``INSERT … FROM INFILE … FORMAT JSONEachRow`` per raw table;
- hot path: ``streams.batch.prepare`` (decode, validate, windows, lateness) and ``ClickHouseSink.write``
  (raw rows, ingest rows, every rollup level) in batches of ``--batch-max`` records, no Kafka.

Both are timed in wall seconds and in CPU seconds of this process (chDB's threads included), and
``prepare`` alone in CPU seconds of the thread that runs it. On a shared machine the CPU seconds move far
less than the wall clock: compare ``events per CPU second``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from schemas.feeds import FEEDS
from simulators.run import RunSpec, records
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.sink import ClickHouseSink
from yzcore.migrate import migrate
from yzcore.settings import Settings
from yzcore.store import connect


def bundles(days: int, bundle_events: int) -> list[tuple[str, bytes]]:
    """(feed, record value) of ``days`` simulated days from 2024-10-01, bundled per feed and 商圈."""
    spec = RunSpec(load("baseline"), 7, date(2024, 10, 1), date(2024, 10, 1) + timedelta(days=days))
    open_bundles: dict[tuple[str, str], list[dict]] = {}
    out: list[tuple[str, bytes]] = []
    for day in spec.days:
        for r in records(spec, day):
            if r.event is None:
                continue
            key = (r.feed, r.event["district"])
            bundle = open_bundles.setdefault(key, [])
            bundle.append(r.event)
            if len(bundle) >= bundle_events:
                out.append((r.feed, orjson.dumps(open_bundles.pop(key))))
    out += [(feed, orjson.dumps(events)) for (feed, _), events in open_bundles.items()]
    return out


def _database(root: str, name: str) -> str:
    admin = connect(f"chdb://{root}")
    admin.command(f"DROP DATABASE IF EXISTS {name}")
    admin.command(f"CREATE DATABASE {name}")
    dsn = f"chdb://{root}?database={name}"
    migrate(connect(dsn))
    return dsn


def store_round(root: str, files: dict[str, Path]) -> tuple[float, float]:
    client = connect(_database(root, "hot_store"))
    wall, cpu = time.perf_counter(), time.process_time()
    for name, path in files.items():
        client.command(
            f"INSERT INTO {FEEDS[name].raw_table} FROM INFILE '{path}' "
            "SETTINGS date_time_input_format = 'best_effort' FORMAT JSONEachRow"
        )
    return time.perf_counter() - wall, time.process_time() - cpu


def hot_round(root: str, values: list[tuple[str, bytes]], batch_max: int) -> tuple[float, float, float]:
    """Wall and CPU seconds of the hot path, and CPU seconds of ``prepare`` alone (its thread's)."""
    sink = ClickHouseSink(_database(root, "hot_path"))
    now, tolerance = datetime.now(UTC), timedelta(minutes=5)
    preparing = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    for name, feed in FEEDS.items():
        feed_records = [Record(feed.topic, 0, i, v) for i, (f, v) in enumerate(values) if f == name]
        watermarks: dict = {}
        for i in range(0, len(feed_records), batch_max):
            started = time.thread_time()
            batch = prepare(feed, feed_records[i : i + batch_max], now, tolerance, watermarks)
            preparing += time.thread_time() - started
            sink.write(batch)
    return time.perf_counter() - wall, time.process_time() - cpu, preparing


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hotpath", description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-max", type=int, default=Settings().batch_max)
    p.add_argument("--bundle-events", type=int, default=Settings().bundle_events)
    a = p.parse_args(argv)
    values = bundles(a.days, a.bundle_events)
    with tempfile.TemporaryDirectory(prefix="yzmon-hotpath-") as tmp:
        files = {name: Path(tmp) / f"{name}.jsonl" for name in FEEDS}
        n = 0
        with_handles = {name: path.open("wb") for name, path in files.items()}
        for feed, value in values:
            for event in orjson.loads(value):
                with_handles[feed].write(orjson.dumps(event) + b"\n")
                n += 1
        for handle in with_handles.values():
            handle.close()
        root = str(Path(tmp) / "clickhouse")
        results: dict[str, list[tuple[float, float]]] = {"store": [], "hot path": [], "prepare": []}
        for r in range(a.rounds):
            results["store"].append(store_round(root, files))
            wall, cpu, preparing = hot_round(root, values, a.batch_max)
            results["hot path"].append((wall, cpu))
            results["prepare"].append((preparing, preparing))
            print(
                f"round {r + 1}: "
                + " · ".join(
                    f"{k} {n / v[-1][0]:,.0f} ev/s, {n / v[-1][1]:,.0f} ev per CPU-s"
                    for k, v in results.items()
                    if k != "prepare"
                )
                + f" · prepare {n / results['prepare'][-1][1]:,.0f} ev per CPU-s"
            )
    med = {
        k: (statistics.median(n / w for w, _ in v), statistics.median(n / c for _, c in v)) for k, v in results.items()
    }
    print(f"{n:,} events, {len(values):,} records, batches of {a.batch_max} records; medians of {a.rounds} rounds:")
    for k, (wall, cpu) in med.items():
        if k == "prepare":
            print(f"  {k:9s} {'':>16} {cpu:>10,.0f} ev per CPU-s of its thread")
        else:
            print(f"  {k:9s} {wall:>10,.0f} ev/s  {cpu:>10,.0f} ev per CPU-s")
    print(
        f"  hot path ÷ store: {med['hot path'][0] / med['store'][0]:.3f} (wall), "
        f"{med['hot path'][1] / med['store'][1]:.3f} (CPU)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
