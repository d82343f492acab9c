"""Freshness of ingestion while a heavy read runs: reads and writes on separate chDB sessions.

    python -m benchmarks.read_isolation --seconds 30

Starts an embedded stack, then sends a small bundle of sales events every 200 ms for two phases of
``--seconds`` each: idle, and with CPU-heavy reads running back to back through the worker's
ClickHouse HTTP interface (the heaviest the read limits allow: a full core for up to
``--heavy-seconds``). A poller sees each bundle land (through the same interface) and records its
freshness, from send to visible in ClickHouse. Prints p50/p99 per phase and how many heavy reads ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import orjson

from benchmarks.pipeline import free_port, machine
from producers.kafka import FeedProducer
from schemas.zone import ZONE
from yzcore.settings import Settings
from yzmon.stack import Stack

HEAVY = "SELECT count() FROM numbers(1900000000) WHERE cityHash64(toString(number)) % 7 = 3"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(seconds: float, heavy_seconds: int, data_dir: Path) -> dict:
    settings = Settings(
        data_dir=data_dir, broker_port=free_port(), worker_port=free_port(), sql_port=free_port(), topic_partitions=3
    )
    stack = Stack(settings)
    stack.start(wait_ready_s=120)
    base = f"http://127.0.0.1:{settings.sql_port}/"
    run_id = uuid.uuid4().hex[:8]
    sent: dict[int, float] = {}
    landed: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.post(
                        base + "?default_format=JSONEachRow",
                        content="SELECT DISTINCT toUInt32(splitByChar('-', event_id)[3]) AS b FROM sales_raw "
                        f"WHERE district = 'eling' AND event_id LIKE 'fresh-{run_id}-%'",
                    )
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                now = time.time()
                for line in r.text.splitlines() if r.status_code == 200 else []:
                    landed.setdefault(json.loads(line)["b"], now)
                time.sleep(0.05)

    heavy_runs: list[tuple[int, float]] = []

    def heavy(until: float) -> None:
        with httpx.Client(timeout=heavy_seconds + 30) as http:
            while time.time() < until:
                t0 = time.time()
                r = http.post(base + f"?max_execution_time={heavy_seconds}", content=HEAVY)
                heavy_runs.append((r.status_code, time.time() - t0))

    producer = FeedProducer(settings)
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    phases: dict[str, list[int]] = {"idle": [], "heavy read": []}
    bundle = 0
    try:
        for phase in phases:
            until = time.time() + seconds
            worker = threading.Thread(target=heavy, args=(until,), daemon=True) if phase != "idle" else None
            if worker:
                worker.start()
                time.sleep(1)  # the read is running before the first bundle of the phase
            while time.time() < until:
                now = datetime.now(ZONE).isoformat(timespec="milliseconds")
                events = [
                    {
                        "event_id": f"fresh-{run_id}-{bundle}-{i}",
                        "event_time": now,
                        "district": "eling",
                        "sector": "retail",
                        "merchant_group": "bench",
                        "amount": "1.00",
                        "txn_count": 1,
                    }
                    for i in range(20)
                ]
                producer.send_raw("sales", b"eling", orjson.dumps(events))
                producer.flush()
                sent[bundle] = time.time()
                phases[phase].append(bundle)
                bundle += 1
                time.sleep(0.2)
            if worker:
                worker.join()
        deadline = time.time() + 60
        while len(landed) < len(sent) and time.time() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        producer.close()
        stack.stop()
    result = {"machine": machine(), "seconds_per_phase": seconds, "heavy_reads": heavy_runs}
    for phase, bundles in phases.items():
        fresh = [(landed[b] - sent[b]) * 1000 for b in bundles if b in landed]
        result[phase] = {
            "bundles": len(bundles),
            "landed": len(fresh),
            "p50_ms": round(statistics.median(fresh)) if fresh else None,
            "p99_ms": round(percentile(fresh, 0.99)) if fresh else None,
        }
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30, help="length of each phase")
    p.add_argument("--heavy-seconds", type=int, default=20, help="max_execution_time of each heavy read")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="yzmon-read-isolation-") as tmp:
        result = run(a.seconds, a.heavy_seconds, Path(tmp))
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
