"""Exact results after worker crashes, broker loss and replays, on the embedded stack as `yzmon up --detach`
starts it: the supervisor, not the test, brings dead children back."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from support import FEEDS_BY_TOPIC, DetachedStack, store_totals, wait_idle

from producers.kafka import FeedProducer
from producers.replay import replay
from simulators.run import RunSpec, records, truth
from simulators.scenario import load
from yzcore.memory import resident_mb
from yzcore.store import query_reader, rows

pytestmark = pytest.mark.e2e
SPEC = RunSpec(load("baseline"), 21, date(2024, 5, 1), date(2024, 5, 2), bad_per_day=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, free_port):
    s = DetachedStack.up(
        tmp_path_factory.mktemp("stack"),
        free_port(),
        free_port(),
        free_port(),
        topic_partitions=3,
        batch_max=1000,
        fault_injection="true",
    )
    yield s
    s.down()


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


def test_the_supervisor_brings_the_worker_back_after_three_kill_9_during_a_replay(stack):
    """SIGKILL the worker pid of DATA_DIR/stack.json three times while a day replays; no manual step."""
    settings = stack.settings
    sent: list[int] = []

    def produce() -> None:
        producer = FeedProducer(settings)
        sent.append(replay(SPEC, producer, 2400.0, show_progress=False))  # one simulated day in ~36 s
        producer.close()

    thread = threading.Thread(target=produce)
    thread.start()
    rng = random.Random(5)
    for kill in range(1, 4):
        time.sleep(rng.uniform(1.0, 4.0))
        pid = stack.wait(lambda s: s["children"]["worker"]["state"] == "up", "the worker")["worker"]
        os.kill(pid, signal.SIGKILL)
        state = stack.wait(
            lambda s, k=kill, p=pid: s["children"]["worker"]["restarts"] == k and s["worker"] != p,
            f"restart {kill}",
        )
        assert "killed by SIGKILL" in state["children"]["worker"]["last_reason"]
        stack.worker_ready()
    thread.join()
    wait_idle(settings, sent[0])

    totals, bad = expected()
    reader = query_reader(settings)
    assert store_totals(reader, "raw") == totals
    assert store_totals(reader, "agg") == totals
    assert rejected(reader) == bad
    assert stack.state()["children"]["broker"]["restarts"] == 0  # the broker stayed up throughout
    status = stack.yzmon("status")
    assert status.returncode == 0 and "worker restarts 3 (last: was killed by SIGKILL" in status.stdout


def test_replaying_the_same_range_again_counts_nothing_twice(stack):
    settings = stack.settings
    producer = FeedProducer(settings)
    again = replay(SPEC, producer, None, show_progress=False)
    producer.close()
    assert again == sum(1 for day in SPEC.days for _ in records(SPEC, day))
    wait_idle(settings)
    totals, bad = expected()
    reader = query_reader(settings)
    assert store_totals(reader, "raw") == totals
    assert store_totals(reader, "agg") == totals
    assert rejected(reader) == bad


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
    producer = FeedProducer(settings)
    sent = replay(spec, producer, None, show_progress=False)
    producer.close(wait_landed=False)  # sampled below while the store is down, not after it lands
    samples = []
    while time.monotonic() - outage_started < 26:
        time.sleep(4)
        status = httpx.get(f"{settings.worker_url}/status").json()
        samples.append((_committed(settings), status["retrying"], resident_mb(status["pid"])))
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


def test_a_killed_broker_is_restarted_and_replaying_the_range_restores_exact_totals(stack):
    """The README's broker-loss path: the supervisor brings the broker (with its topics) and the worker
    back and says what was lost; replaying the same range restores exact totals (event ids)."""
    settings = stack.settings
    spec = RunSpec(load("baseline"), 44, date(2024, 5, 5), date(2024, 5, 6), districts=("shibati", "hualongqiao"))
    before = stack.state()
    producer = FeedProducer(settings)
    replay(spec, producer, None, show_progress=False)
    producer.close()
    os.kill(before["broker"], signal.SIGKILL)  # at once: part of the day has not landed yet
    state = stack.wait(
        lambda s: s["children"]["broker"]["restarts"] == 1 and s["broker"] != before["broker"], "the broker restart"
    )
    assert "killed by SIGKILL" in state["children"]["broker"]["last_reason"]
    assert "had not landed are lost" in state["lost"] and "replay the range" in state["lost"]
    stack.worker_ready()
    producer = FeedProducer(settings)
    again = replay(spec, producer, None, show_progress=False)
    producer.close()
    wait_idle(settings, again)
    want = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in truth(spec).rows() if m != "rejected"}
    reader = query_reader(settings)
    for layer in ("raw", "agg"):
        got = {k: v for k, v in store_totals(reader, layer).items() if k[0] == "2024-05-05"}
        assert got == want
    status = stack.yzmon("status")
    assert "broker loss" in status.stdout and "broker restarts 1" in status.stdout
