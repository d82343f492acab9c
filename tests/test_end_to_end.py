"""The whole pipeline on the embedded stack: Tansu broker, Faust worker, chDB store.

Replays one simulated day of every 商圈 and feed with injected bad records, waits until the worker
is idle, and compares ClickHouse with the simulator's ground truth exactly.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from kafka import KafkaConsumer

from producers.kafka import FeedProducer
from simulators.run import RunSpec, truth
from simulators.scenario import load
from yzmon.feeds import FEEDS
from yzmon.replay import replay
from yzmon.settings import Settings
from yzmon.stack import Stack
from yzmon.status import consumer_lag
from yzmon.store import GatewayReader, rows

pytestmark = pytest.mark.e2e

SQL = {
    ("raw", "sales"): "SELECT toString(toDate(event_time, 'Asia/Shanghai')) AS day, district, sector AS dimension, "
                      "sum(amount) AS amount, sum(txn_count) AS txn_count FROM sales_raw FINAL GROUP BY ALL",
    ("raw", "footfall"): "SELECT toString(toDate(event_time, 'Asia/Shanghai')) AS day, district, '' AS dimension, "
                         "sum(entries) AS entries, sum(exits) AS exits FROM footfall_raw FINAL GROUP BY ALL",
    ("raw", "tourists"): "SELECT toString(toDate(event_time, 'Asia/Shanghai')) AS day, district, origin AS dimension, "
                         "sum(arrivals) AS arrivals FROM tourists_raw FINAL GROUP BY ALL",
    ("agg", "sales"): "SELECT toString(toDate(minute, 'Asia/Shanghai')) AS day, district, sector AS dimension, "
                      "sum(amount) AS amount, sum(txn_count) AS txn_count FROM sales_agg_1m FINAL GROUP BY ALL",
    ("agg", "footfall"): "SELECT toString(toDate(minute, 'Asia/Shanghai')) AS day, district, '' AS dimension, "
                         "sum(entries) AS entries, sum(exits) AS exits FROM footfall_agg_1m FINAL GROUP BY ALL",
    ("agg", "tourists"): "SELECT toString(toDate(minute, 'Asia/Shanghai')) AS day, district, origin AS dimension, "
                         "sum(arrivals) AS arrivals FROM tourists_agg_1m FINAL GROUP BY ALL",
}


def store_totals(reader, layer: str) -> dict[tuple, Decimal]:
    out: dict[tuple, Decimal] = {}
    for feed in FEEDS:
        for r in rows(reader, SQL[(layer, feed)]):
            for measure, value in r.items():
                if measure not in ("day", "district", "dimension"):
                    out[(r["day"], r["district"], feed, r["dimension"], measure)] = Decimal(str(value))
    return out


def wait_idle(settings: Settings, expected_records: int, timeout_s: float = 300) -> None:
    """Idle = every record committed by the worker's group (offsets are committed only after landing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lag = consumer_lag(settings)
        if lag is not None and sum(lag.values()) == 0 and _committed(settings) >= expected_records:
            return
        time.sleep(1)
    raise AssertionError(f"worker not idle after {timeout_s} s: lag {consumer_lag(settings)}")


def _committed(settings: Settings) -> int:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        offsets = admin.list_group_offsets("yzmon").get("yzmon", {})
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic in {f.topic for f in FEEDS.values()})
    finally:
        admin.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, free_port):
    settings = Settings(data_dir=tmp_path_factory.mktemp("stack"), broker_port=free_port(), worker_port=free_port(),
                        topic_partitions=3, batch_max=2000)
    s = Stack(settings)
    s.start(wait_ready_s=120)
    yield s
    s.stop()
    assert s.worker.poll() is not None and s.broker.poll() is not None


def test_one_day_lands_exactly(stack):
    settings = stack.settings
    spec = RunSpec(load("baseline"), 7, date(2024, 10, 1), date(2024, 10, 2), bad_per_day=5)
    producer = FeedProducer(settings.bootstrap)
    sent = replay(spec, producer, None, show_progress=False)
    producer.close()
    wait_idle(settings, sent)

    expected = truth(spec)
    want = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in expected.rows() if m != "rejected"}
    reader = GatewayReader(settings.worker_url)
    assert store_totals(reader, "raw") == want
    assert store_totals(reader, "agg") == want

    want_rejected = Counter({(f, dim): int(v) for _, _, f, dim, m, v in expected.rows() if m == "rejected"})
    got_rejected = Counter({(FEEDS_BY_TOPIC[r["topic"]], r["reason"]): int(r["n"]) for r in rows(
        reader, "SELECT topic, reason, count() AS n FROM rejected_events FINAL GROUP BY topic, reason")})
    assert got_rejected == want_rejected and sum(got_rejected.values()) == 15
    # the bad records are nowhere else
    for f in FEEDS.values():
        assert rows(reader, f"SELECT count() AS n FROM {f.raw_table} WHERE event_id LIKE 'bad-%'")[0]["n"] == 0
    # and each is in its feed's dead-letter topic with the reason in a header
    assert dead_letters(settings) == want_rejected


FEEDS_BY_TOPIC = {f.topic: f.name for f in FEEDS.values()}


def dead_letters(settings: Settings) -> Counter:
    consumer = KafkaConsumer(*[f.dlq_topic for f in FEEDS.values()], bootstrap_servers=settings.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000, group_id=None)
    got: Counter = Counter()
    for msg in consumer:
        headers = dict(msg.headers)
        got[(FEEDS_BY_TOPIC[msg.topic.removesuffix(".dlq")], headers["yzmon.error.reason"].decode())] += 1
    consumer.close()
    return got


def test_gateway_is_read_only(stack):
    reader = GatewayReader(stack.settings.worker_url)
    with pytest.raises(Exception, match="readonly"):
        reader.raw("INSERT INTO targets (year, scope, metric, value, unit, source) VALUES (1, 'a', 'b', 1, 'c', 'd')")
    assert rows(reader, "SELECT count() AS n FROM targets WHERE year = 1")[0]["n"] == 0
