"""A provider's own Kafka client against the embedded broker: confluent-kafka (librdkafka), idempotent,
one event per record, as a feed gateway would send them. Every valid event lands once (a resend of the
same events included) and every bad record is in rejected_events with its reason."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from decimal import Decimal

import confluent_kafka
import orjson
import pytest
from support import DetachedStack

from schemas.feeds import FEEDS
from simulators.run import RunSpec, records
from simulators.scenario import load
from yzcore.store import query_reader, rows

pytestmark = pytest.mark.e2e

N = 3_000
RESENT = 200


def test_confluent_kafka_single_event_records_land_exactly_and_bad_ones_are_refused(tmp_path, free_port):
    spec = RunSpec(load("baseline"), 3, date(2024, 10, 2), date(2024, 10, 3), feeds=("sales",))
    events = [r.event for r in records(spec, spec.days[0]) if r.event is not None][:N]
    good = events[0]
    bad = {
        "negative_amount": orjson.dumps({**good, "event_id": "bad-1", "amount": "-5.00"}),
        "unknown_district": orjson.dumps({**good, "event_id": "bad-2", "district": "nowhere"}),
        "schema_violation": orjson.dumps({k: v for k, v in good.items() if k != "amount"} | {"event_id": "bad-3"}),
        "malformed_json": b'{"event_id": "bad-4", ',
    }
    stack = DetachedStack.up(tmp_path / "stack", free_port(), free_port(), free_port())
    try:
        topic = FEEDS["sales"].topic
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": stack.settings.bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
        )
        failed: list[str] = []

        def report(err, _msg) -> None:
            if err is not None:
                failed.append(str(err))

        for e in [*events, *events[:RESENT]]:  # 200 sent twice, as a client retrying after a timeout would
            producer.produce(topic, key=e["district"].encode(), value=orjson.dumps(e), on_delivery=report)
            producer.poll(0)
        for payload in bad.values():
            producer.produce(topic, key=b"jiefangbei", value=payload, on_delivery=report)
        assert producer.flush(60) == 0 and not failed, failed

        reader = query_reader(stack.settings)
        want = sum(Decimal(e["amount"]) for e in events)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            got = rows(
                reader, "SELECT count() AS n, uniqExact(event_id) AS ids, sum(amount) AS amount FROM sales_raw FINAL"
            )[0]
            refused = Counter(
                {
                    r["reason"]: int(r["n"])
                    for r in rows(reader, "SELECT reason, count() AS n FROM rejected_events FINAL GROUP BY reason")
                }
            )
            landed = rows(
                reader,
                "SELECT sum(records) AS records FROM ingest_batches FINAL WHERE topic = {t:String}",
                {"t": topic},
            )
            # the ledger row of a batch is written after its raw rows and rejections: wait for all three
            if (
                int(got["n"]) >= N
                and sum(refused.values()) >= len(bad)
                and int(landed[0]["records"]) >= N + RESENT + len(bad)
            ):
                break
            time.sleep(0.5)
        assert int(got["n"]) == int(got["ids"]) == N
        assert Decimal(str(got["amount"])) == want
        assert refused == Counter(dict.fromkeys(bad, 1))
        assert int(landed[0]["records"]) == N + RESENT + len(bad)  # every record the client sent reached the worker
    finally:
        stack.down()


def test_a_broker_killed_under_another_producer_names_the_offset_ranges_lost(tmp_path, free_port):
    """Records of a provider's client that the worker had not landed when the embedded broker died are gone;
    the supervisor names their topic-partition offset ranges in `yzmon status`."""
    import json
    import os
    import signal

    import httpx

    stack = DetachedStack.up(tmp_path / "stack", free_port(), free_port(), free_port(), fault_injection="true")
    try:
        spec = RunSpec(load("baseline"), 4, date(2024, 10, 3), date(2024, 10, 4), feeds=("sales",))
        events = [r.event for r in records(spec, spec.days[0]) if r.event is not None][:500]
        httpx.post(f"{stack.settings.worker_url}/admin/store-outage", json={"seconds": 60}).raise_for_status()
        producer = confluent_kafka.Producer({"bootstrap.servers": stack.settings.bootstrap, "acks": "all"})
        for e in events:
            producer.produce(FEEDS["sales"].topic, key=e["district"].encode(), value=orjson.dumps(e))
        assert producer.flush(60) == 0
        time.sleep(12)  # the supervisor's checks (every 5 s) see the records the worker has not landed
        os.kill(stack.state()["broker"], signal.SIGKILL)
        state = stack.wait(lambda s: s["children"]["broker"]["restarts"] == 1 and s["lost"], "the broker restart")
        ranges = state["lost"].split("(offset ranges): ", 1)[1].split(", and whatever came after", 1)[0]
        lost = {r.rsplit(" ", 1)[0]: r.rsplit(" ", 1)[1] for r in ranges.split(", ")}
        assert all(tp.startswith(f"{FEEDS['sales'].topic}-") for tp in lost)
        assert sum(int(b) - int(a) + 1 for a, b in (v.split("–") for v in lost.values())) == len(events)
        stack.worker_ready()
        status = stack.yzmon("status")
        flat = "".join(ch for ch in status.stdout if ch not in "│ \n")  # the table's cell wraps the long line
        assert "brokerloss" in flat and ranges.replace(" ", "") in flat
        assert json.loads((stack.settings.data_dir / "stack.json").read_text())["lost"] == state["lost"]
    finally:
        stack.down()
