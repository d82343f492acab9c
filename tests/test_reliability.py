"""Exact results after worker crashes, restarts and replays, on the embedded stack."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from support import FEEDS_BY_TOPIC, store_totals, wait_idle

from producers.kafka import FeedProducer
from simulators.run import RunSpec, records, truth
from simulators.scenario import load
from yzmon.replay import replay
from yzmon.settings import Settings
from yzmon.stack import Stack
from yzmon.store import GatewayReader, rows

pytestmark = pytest.mark.e2e
SPEC = RunSpec(load("baseline"), 21, date(2024, 5, 1), date(2024, 5, 2), bad_per_day=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, free_port):
    settings = Settings(data_dir=tmp_path_factory.mktemp("stack"), broker_port=free_port(), worker_port=free_port(),
                        topic_partitions=3, batch_max=1000)
    s = Stack(settings)
    s.start(wait_ready_s=120)
    yield s
    s.stop()


def expected() -> tuple[dict, Counter]:
    t = truth(SPEC).rows()
    totals = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in t if m != "rejected"}
    return totals, Counter({(f, dim): int(v) for _, _, f, dim, m, v in t if m == "rejected"})


def rejected(reader) -> Counter:
    return Counter({(FEEDS_BY_TOPIC[r["topic"]], r["reason"]): int(r["n"]) for r in rows(
        reader, "SELECT topic, reason, count() AS n FROM rejected_events FINAL GROUP BY topic, reason")})


def test_worker_killed_five_times_mid_replay_still_exact(stack):
    """SIGKILL the worker at random moments while a day replays; restart it each time."""
    settings = stack.settings
    sent: list[int] = []

    def produce() -> None:
        producer = FeedProducer(settings.bootstrap)
        sent.append(replay(SPEC, producer, 2400.0, show_progress=False))  # one simulated day in ~36 s
        producer.close()

    thread = threading.Thread(target=produce)
    thread.start()
    rng = random.Random(5)
    kills = 0
    while kills < 5:
        time.sleep(rng.uniform(1.0, 4.0))
        stack.worker.send_signal(signal.SIGKILL)
        stack.worker.wait()
        kills += 1
        stack.start_worker()
        stack.wait_ready(120)
    thread.join()
    wait_idle(settings, sent[0])

    totals, bad = expected()
    reader = GatewayReader(settings.worker_url)
    assert store_totals(reader, "raw") == totals
    assert store_totals(reader, "agg") == totals
    assert rejected(reader) == bad


def test_replaying_the_same_range_again_counts_nothing_twice(stack):
    settings = stack.settings
    producer = FeedProducer(settings.bootstrap)
    again = replay(SPEC, producer, None, show_progress=False)
    producer.close()
    assert again == sum(1 for day in SPEC.days for _ in records(SPEC, day))
    wait_idle(settings)
    totals, bad = expected()
    reader = GatewayReader(settings.worker_url)
    assert store_totals(reader, "raw") == totals
    assert store_totals(reader, "agg") == totals
    assert rejected(reader) == bad
