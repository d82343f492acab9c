"""Chaos: many random SIGKILLs of the worker while a simulated week replays; the store must still
equal the ground truth exactly. Not in the default suite:

    YZMON_CHAOS_DAYS=7 YZMON_CHAOS_KILLS=25 pytest -m soak -s tests/test_chaos.py
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from datetime import date, timedelta

import pytest
from support import store_totals, wait_idle

from producers.kafka import FeedProducer
from producers.replay import replay
from simulators.run import RunSpec, truth
from simulators.scenario import load
from yzcore.settings import Settings
from yzcore.store import query_reader
from yzmon.stack import Stack

pytestmark = pytest.mark.soak
DAYS = int(os.environ.get("YZMON_CHAOS_DAYS", "7"))
KILLS = int(os.environ.get("YZMON_CHAOS_KILLS", "25"))


@pytest.mark.timeout(3600 * 3)
def test_random_kills_over_a_simulated_week(tmp_path, free_port):
    settings = Settings(
        data_dir=tmp_path, broker_port=free_port(), worker_port=free_port(), sql_port=free_port(), batch_max=2000
    )
    spec = RunSpec(load("national_day"), 11, date(2024, 10, 1), date(2024, 10, 1) + timedelta(days=DAYS), bad_per_day=5)
    stack = Stack(settings)
    stack.start(wait_ready_s=120)
    try:
        sent: list[int] = []

        def produce() -> None:
            producer = FeedProducer(settings)
            sent.append(replay(spec, producer, 86400 * DAYS / (KILLS * 9.0), show_progress=False))
            producer.close()

        thread = threading.Thread(target=produce)
        thread.start()
        rng = random.Random(13)
        started = time.monotonic()
        for kill in range(KILLS):
            time.sleep(rng.uniform(0.5, 5.0))
            stack.worker.send_signal(signal.SIGKILL)
            stack.worker.wait()
            stack.start_worker()
            stack.wait_ready(120)
            print(f"kill {kill + 1}/{KILLS} at {time.monotonic() - started:.0f} s", flush=True)
        thread.join()
        wait_idle(settings, sent[0], timeout_s=900)
        expected = {(d, dist, f, dim, m): v for d, dist, f, dim, m, v in truth(spec).rows() if m != "rejected"}
        from decimal import Decimal

        want = {k: Decimal(v) for k, v in expected.items()}
        reader = query_reader(settings)
        assert store_totals(reader, "raw") == want
        assert store_totals(reader, "agg") == want
        print(
            f"chaos: {KILLS} kills over {DAYS} simulated days, {sent[0]:,} records, "
            f"{time.monotonic() - started:.0f} s; raw and minute aggregates equal the truth"
        )
    finally:
        stack.stop()
