"""Soak: continuous replay through the embedded stack for YZMON_SOAK_MINUTES (default 10).

Not in the default suite: `pytest -m soak -s` (`make soak`). Checks that the Faust worker keeps its
group membership on Tansu (one generation, no UnknownMemberId, no rebalance), that consumer lag
never stalls, that the worker's memory does not grow (resident memory of the last quarter of the
run against the second quarter, after warm-up), and that the totals equal the ground truth at the end.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest

from benchmarks.pipeline import proc_memory_mb
from producers.kafka import FeedProducer
from producers.replay import replay
from simulators.run import RunSpec, truth
from simulators.scenario import load
from yzcore.settings import Settings
from yzcore.store import query_reader, rows
from yzmon.stack import Stack
from yzmon.status import consumer_lag

pytestmark = pytest.mark.soak
MINUTES = float(os.environ.get("YZMON_SOAK_MINUTES", "10"))


@pytest.mark.timeout(MINUTES * 60 + 900)
def test_soak_continuous_replay(tmp_path, free_port):
    minutes = MINUTES
    settings = Settings(data_dir=tmp_path, broker_port=free_port(), worker_port=free_port(), sql_port=free_port())
    stack = Stack(settings)
    stack.start(wait_ready_s=120)
    stop = threading.Event()
    days: list[date] = []

    def produce() -> None:
        producer = FeedProducer(settings)
        day = date(2024, 1, 1)
        while not stop.is_set():
            # a steady ~2,000 events/s: one simulated day every ~50 s
            replay(RunSpec(load("baseline"), 7, day, day + timedelta(days=1)), producer, 1800.0, show_progress=False)
            days.append(day)
            day += timedelta(days=1)
        producer.close()

    thread = threading.Thread(target=produce)
    started = time.monotonic()
    thread.start()
    samples = []
    rss: list[float] = []
    try:
        while time.monotonic() - started < minutes * 60:
            time.sleep(15)
            lag = sum((consumer_lag(settings) or {}).values())
            samples.append(lag)
            assert stack.worker is not None
            rss.append(proc_memory_mb(stack.worker.pid)["VmRSS"])
            print(
                f"{(time.monotonic() - started) / 60:5.1f} min  lag {lag:>7,}  days done {len(days)}  "
                f"worker RSS {rss[-1]:,.0f} MB",
                flush=True,
            )
        stop.set()
        thread.join()
        deadline = time.monotonic() + 180
        while sum((consumer_lag(settings) or {"x": 1}).values()) and time.monotonic() < deadline:
            time.sleep(1)
        log = stack.logs["worker"].read_text(errors="replace")
        generations = set(re.findall(r"generation (\d+)", log))
        assert "UnknownMemberId" not in log and "Heartbeat failed" not in log
        assert len(generations) == 1, f"group rebalanced: generations {generations}"
        assert max(samples) < 60_000, f"lag grew: {samples}"
        quarter = max(1, len(rss) // 4)
        second, last = statistics.median(rss[quarter : 2 * quarter]), statistics.median(rss[-quarter:])
        assert last <= second * 1.2, f"worker memory grew: {second:.0f} MB → {last:.0f} MB ({rss})"
        spec = RunSpec(load("baseline"), 7, days[0], days[-1] + timedelta(days=1))
        want = sum(Decimal(v) for *_, m, v in truth(spec).rows() if m == "amount")
        reader = query_reader(settings)
        deadline = time.monotonic() + 120  # the broker's end offsets can run short of the last bundles
        while (got := Decimal(str(rows(reader, "SELECT sum(amount) AS a FROM sales_raw FINAL")[0]["a"]))) != want:
            assert time.monotonic() < deadline, f"store {got} != truth {want}"
            time.sleep(2)
        print(
            f"soak: {minutes} min, {len(days)} simulated days, lag samples max {max(samples):,}, "
            f"generations {generations}, worker RSS median 2nd quarter {second:.0f} MB, last quarter "
            f"{last:.0f} MB (max {max(rss):.0f}), 社零 {want} = store"
        )
    finally:
        stop.set()
        stack.stop()
