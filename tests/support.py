"""Helpers shared by the tests that run the embedded stack."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

from kafka import KafkaAdminClient, KafkaConsumer

from schemas.feeds import FEEDS, GROUP_ID
from yzcore.settings import Settings
from yzcore.store import query_reader, rows
from yzmon.stack import Stack
from yzmon.status import consumer_lag


def sale(event_id: str = "e1", **changes) -> dict:
    """The sample sale event of the tests (a valid retail.sales.v1 event); ``changes`` replace or add fields."""
    return {
        "event_id": event_id,
        "event_time": "2024-10-01T12:00:00+08:00",
        "district": "daping",
        "sector": "retail",
        "merchant_group": "g",
        "amount": "1.00",
        "txn_count": 1,
        **changes,
    }


def _totals_sql(layer: str, name: str) -> str:
    """Totals per local day × 商圈 × the feed's first dimension (or none), one column per measure,
    of the raw table or the minute aggregates: from the feed registry."""
    feed = FEEDS[name]
    table, when = (feed.raw_table, "event_time") if layer == "raw" else (feed.level_table("minute"), "minute")
    dimension = feed.dims[0] if feed.dims else "''"
    sums = ", ".join(f"sum({m}) AS {m}" for m in feed.measures)
    return (
        f"SELECT toString(toDate({when}, 'Asia/Shanghai')) AS day, district, {dimension} AS dimension, {sums} "
        f"FROM {table} FINAL GROUP BY ALL"
    )


SQL = {(layer, name): _totals_sql(layer, name) for layer in ("raw", "agg") for name in FEEDS}


def store_totals(reader, layer: str) -> dict[tuple, Decimal]:
    out: dict[tuple, Decimal] = {}
    for feed in FEEDS:
        for r in rows(reader, SQL[(layer, feed)]):
            for measure, value in r.items():
                if measure not in ("day", "district", "dimension"):
                    out[(r["day"], r["district"], feed, r["dimension"], measure)] = Decimal(str(value))
    return out


def wait_idle(settings: Settings, expected_events: int = 0, timeout_s: float = 300) -> None:
    """Idle = no consumer lag and at least ``expected_events`` distinct events in the store (raw rows plus
    rejected records). A Kafka record may carry a bundle of events, so the store is what is counted."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lag = consumer_lag(settings)
        if lag is not None and sum(lag.values()) == 0 and _stored(settings) >= expected_events:
            return
        time.sleep(1)
    raise AssertionError(
        f"worker not idle after {timeout_s} s: lag {consumer_lag(settings)}, "
        f"{_stored(settings)} of {expected_events} events stored"
    )


def _stored(settings: Settings) -> int:
    tables = [f.raw_table for f in FEEDS.values()] + ["rejected_events"]
    sql = "SELECT " + " + ".join(f"(SELECT count() FROM {t} FINAL)" for t in tables) + " AS n"
    return int(rows(query_reader(settings), sql)[0]["n"])


def _committed(settings: Settings) -> int:

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        offsets = admin.list_group_offsets(GROUP_ID).get(GROUP_ID, {})
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic in {f.topic for f in FEEDS.values()})
    finally:
        admin.close()


FEEDS_BY_TOPIC = {f.topic: f.name for f in FEEDS.values()}


def dead_letters(settings: Settings) -> Counter:
    consumer = KafkaConsumer(
        *[f.dlq_topic for f in FEEDS.values()],
        bootstrap_servers=settings.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        group_id=None,
    )
    got: Counter = Counter()
    for msg in consumer:
        headers = dict(msg.headers)
        got[(FEEDS_BY_TOPIC[msg.topic.removesuffix(".dlq")], headers["yzmon.error.reason"].decode())] += 1
    consumer.close()
    return got


def start_stack(data_dir, free_port, **overrides) -> Stack:
    """An embedded stack on free ports in ``data_dir`` (3 partitions, 2000-record batches unless overridden)."""
    settings = Settings(
        data_dir=data_dir,
        broker_port=free_port(),
        worker_port=free_port(),
        sql_port=free_port(),
        **{"topic_partitions": 3, "batch_max": 2000, **overrides},
    )
    stack = Stack(settings)
    stack.start(wait_ready_s=120)
    return stack


class Acked:
    """An acknowledged send of :class:`FakeKafka`."""

    is_done = True

    def __init__(self, topic: str):
        self.value = type("Md", (), {"topic": topic, "partition": 0, "offset": 0})()

    def failed(self) -> bool:
        return False

    def succeeded(self) -> bool:
        return True


class FakeKafka:
    """A Kafka producer client that acknowledges every record at once and keeps them (for FeedProducer tests)."""

    def __init__(self):
        self.records: list[tuple[str, bytes | None, bytes]] = []

    def send(self, topic, key=None, value=None):
        self.records.append((topic, key, value))
        return Acked(topic)

    def flush(self, timeout=None):
        pass

    def close(self, timeout=None):
        pass
