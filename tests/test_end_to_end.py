"""The whole pipeline on the embedded stack: Tansu broker, Faust worker, chDB store.

The session's shared stack (``shared_stack``) has one simulated day of every 商圈 and feed replayed, with
injected bad records, and landed; ClickHouse is compared with the simulator's ground truth exactly.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from support import FEEDS_BY_TOPIC, dead_letters, read_all, sale, store_totals, wait_idle

from producers.kafka import FeedProducer
from schemas.feeds import FEEDS
from simulators.run import truth
from yzcore.store import query_reader, rows

pytestmark = pytest.mark.e2e


def test_one_day_lands_exactly(shared_stack):
    """The first test of the shared stack's day: nothing else has landed yet (the bundle test below adds some)."""
    settings = shared_stack.settings
    expected = truth(shared_stack.spec)
    want = {(d, dist, f, dim, m): Decimal(v) for d, dist, f, dim, m, v in expected.rows() if m != "rejected"}
    reader = query_reader(settings)
    assert store_totals(reader, "raw") == want
    assert store_totals(reader, "agg") == want

    want_rejected = Counter({(f, dim): int(v) for _, _, f, dim, m, v in expected.rows() if m == "rejected"})
    got_rejected = Counter(
        {
            (FEEDS_BY_TOPIC[r["topic"]], r["reason"]): int(r["n"])
            for r in rows(
                reader, "SELECT topic, reason, count() AS n FROM rejected_events FINAL GROUP BY topic, reason"
            )
        }
    )
    assert got_rejected == want_rejected and sum(got_rejected.values()) == 15
    # the bad records are nowhere else
    for f in FEEDS.values():
        assert rows(reader, f"SELECT count() AS n FROM {f.raw_table} WHERE event_id LIKE 'bad-%'")[0]["n"] == 0
    # and each is in its feed's dead-letter topic with the reason in a header
    assert dead_letters(settings) == want_rejected


def test_gateway_is_read_only(shared_stack):
    reader = query_reader(shared_stack.settings)
    with pytest.raises(Exception, match="readonly"):
        reader.raw("INSERT INTO targets (year, scope, metric, value, unit, source) VALUES (1, 'a', 'b', 1, 'c', 'd')")
    assert rows(reader, "SELECT count() AS n FROM targets WHERE year = 1")[0]["n"] == 0


def test_a_bad_event_inside_a_bundle_is_refused_alone(shared_stack):
    """A bundle with one negative amount: its neighbours land; the bad one reaches the dead-letter topic
    alone, with its position in the bundle, and rejected_events with its own bytes."""
    import orjson

    settings = shared_stack.settings
    good = [sale(f"bundle-{i}", event_time=f"2024-10-03T10:0{i}:00+08:00", amount="10.00") for i in range(3)]
    bad = {**good[1], "event_id": "bundle-bad", "amount": "-5.00"}
    producer = FeedProducer(settings)
    producer.send_raw("sales", b"daping", orjson.dumps([good[0], bad, good[1], good[2]]))
    producer.close()
    reader = query_reader(settings)
    wait_idle(settings)
    landed = rows(
        reader,
        "SELECT count() AS n, toString(sum(amount)) AS total FROM sales_raw FINAL WHERE event_id LIKE 'bundle-%'",
    )[0]
    assert (int(landed["n"]), landed["total"]) == (3, "30")
    refused = rows(reader, "SELECT reason, payload FROM rejected_events FINAL WHERE payload LIKE '%bundle-bad%'")
    assert [(r["reason"], orjson.loads(r["payload"])) for r in refused] == [("negative_amount", bad)]
    letters = [
        (dict(m.headers), m.value)
        for m in read_all(settings.bootstrap, [FEEDS["sales"].dlq_topic])
        if b"bundle-bad" in m.value
    ]
    assert len(letters) == 1
    headers, value = letters[0]
    assert orjson.loads(value) == bad and headers["yzmon.error.index"] == b"1"
    assert headers["yzmon.error.reason"] == b"negative_amount"
