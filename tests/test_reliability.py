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
from producers.replay import replay
from simulators.run import RunSpec, records, truth
from simulators.scenario import load
from yzcore.settings import Settings
from yzcore.store import query_reader, rows
from yzmon.stack import Stack

pytestmark = pytest.mark.e2e
SPEC = RunSpec(load("baseline"), 21, date(2024, 5, 1), date(2024, 5, 2), bad_per_day=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, free_port):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("stack"),
        broker_port=free_port(),
        worker_port=free_port(),
        sql_port=free_port(),
        topic_partitions=3,
        batch_max=1000,
        fault_injection=True,
    )
    s = Stack(settings)
    s.start(wait_ready_s=120)
    yield s
    s.stop()


def expected() -> tuple[dict, Counter]:
    t = truth(SPEC).rows()
    totals = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in t if m != "rejected"}
    return totals, Counter({(f, dim): int(v) for _, _, f, dim, m, v in t if m == "rejected"})


def rejected(reader) -> Counter:
    return Counter(
        {
            (FEEDS_BY_TOPIC[r["topic"]], r["reason"]): int(r["n"])
            for r in rows(
                reader, "SELECT topic, reason, count() AS n FROM rejected_events FINAL GROUP BY topic, reason"
            )
        }
    )


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
    reader = query_reader(settings)
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
    reader = query_reader(settings)
    assert store_totals(reader, "raw") == totals
    assert store_totals(reader, "agg") == totals
    assert rejected(reader) == bad


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_thirty_second_store_outage_commits_nothing_then_catches_up(stack):
    """Writes fail for 30 s: the worker retries with backoff, holds no more than its batch, commits no
    offsets for unwritten records, and lands everything exactly once afterwards."""
    import httpx
    from support import _committed

    settings = stack.settings
    spec = RunSpec(load("baseline"), 33, date(2024, 5, 3), date(2024, 5, 4), districts=("daping", "eling"))
    before = _committed(settings)
    httpx.post(f"{settings.worker_url}/admin/store-outage", json={"seconds": 30}).raise_for_status()
    outage_started = time.monotonic()
    producer = FeedProducer(settings.bootstrap)
    sent = replay(spec, producer, None, show_progress=False)
    producer.close()
    samples = []
    while time.monotonic() - outage_started < 26:
        time.sleep(4)
        status = httpx.get(f"{settings.worker_url}/status").json()
        samples.append((_committed(settings), status["retrying"], _rss_mb(stack.worker.pid)))
    assert all(committed == before for committed, _, _ in samples), samples  # nothing committed while down
    assert any(retrying for _, retrying, _ in samples)
    assert max(rss for *_, rss in samples) - samples[0][2] < 200  # bounded: one batch in hand, no growth
    wait_idle(settings, before + sent)
    assert httpx.get(f"{settings.worker_url}/status").json()["write_errors"] > 0
    want = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in truth(spec).rows() if m != "rejected"}
    reader = query_reader(settings)
    for layer in ("raw", "agg"):
        got = {k: v for k, v in store_totals(reader, layer).items() if k[0] == "2024-05-03"}
        assert got == want


def test_after_a_broker_restart_replaying_the_range_restores_exact_totals(stack):
    """The embedded broker keeps topics in memory: a restart loses what had not landed. The README's
    recovery path is to replay the same range; the event ids make that idempotent."""
    from yzmon.broker import ensure_topics, start_broker

    settings = stack.settings
    spec = RunSpec(load("baseline"), 44, date(2024, 5, 5), date(2024, 5, 6), districts=("shibati", "hualongqiao"))
    producer = FeedProducer(settings.bootstrap)
    replay(spec, producer, None, show_progress=False)
    producer.close()
    # the broker dies before the worker has landed everything (the worker is stopped first, so nothing lands)
    stack.worker.send_signal(signal.SIGKILL)
    stack.worker.wait()
    stack.broker.send_signal(signal.SIGKILL)
    stack.broker.wait()
    stack.broker = start_broker(settings, stack.logs["broker"])
    ensure_topics(settings)
    stack.start_worker()
    stack.wait_ready(120)
    producer = FeedProducer(settings.bootstrap)
    again = replay(spec, producer, None, show_progress=False)
    producer.close()
    wait_idle(settings, again)
    want = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in truth(spec).rows() if m != "rejected"}
    reader = query_reader(settings)
    for layer in ("raw", "agg"):
        got = {k: v for k, v in store_totals(reader, layer).items() if k[0] == "2024-05-05"}
        assert got == want
