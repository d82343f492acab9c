"""A producer keeps what the broker acknowledged until the worker's ledger shows it landed, and after a
broker restart sends again exactly what had not landed."""

from __future__ import annotations

import orjson
import pytest

import producers.kafka as kafka_mod
from producers.gate import Gate, gate_path
from producers.landing import SentRecord, Unlanded
from schemas.feeds import FEEDS
from yzcore.settings import Settings

TOPIC = FEEDS["sales"].topic


class Ledger:
    """The store's ledger as the test says: the highest landed offset per partition."""

    def __init__(self) -> None:
        self.top: dict[tuple[str, int], int] | None = {}

    def landed(self, since: float, until: float | None = None) -> dict[tuple[str, int], int] | None:
        return self.top


class Broker:
    """A Kafka client acknowledging every record at the next offset of partition 0."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    def send(self, topic, key=None, value=None):
        self.records.append(value)
        md = type("Md", (), {"topic": topic, "partition": 0, "offset": len(self.records) - 1})()
        return type("F", (), {"is_done": True, "value": md, "failed": lambda s: False, "succeeded": lambda s: True})()

    def flush(self, timeout=None):
        pass

    def close(self, timeout=None):
        pass


def _ids(values: list[bytes]) -> list[str]:
    return [e["event_id"] for v in values for e in orjson.loads(v)]


def test_after_a_broker_restart_exactly_what_had_not_landed_is_sent_again(monkeypatch, tmp_path, free_port):
    broker, ledger = Broker(), Ledger()
    monkeypatch.setattr(kafka_mod.FeedProducer, "_connect", lambda self: broker)
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{free_port()}")
    supervisor = Gate.create(gate_path(settings.bootstrap))
    try:
        producer = kafka_mod.FeedProducer(
            settings, validate=False, linger_ms=0, bundle_events=1, ledger=ledger, name="test load"
        )
        for i in range(10):
            producer.send("sales", {"event_id": f"a{i}", "district": "daping"})
        producer.flush()
        ledger.top = {(TOPIC, 0): 5}  # offsets 0–5 landed, 6–9 only acknowledged
        supervisor.bump()  # the broker was killed and started again: it lost 6–9
        producer.send("sales", {"event_id": "b0", "district": "daping"})
        producer.flush()
        assert _ids(broker.records[10:]) == ["a6", "a7", "a8", "a9", "b0"]
        assert producer.resent == 4 and producer.reconnects == 1
        ledger.top = {(TOPIC, 0): len(broker.records) - 1}
        producer.close()
        assert sorted(set(_ids(broker.records))) == sorted([f"a{i}" for i in range(10)] + ["b0"])
        line = (tmp_path / "logs" / "resent.log").read_text()
        assert "test load: the broker was restarted; sent again 4 events (4 records)" in line
        assert f"{TOPIC}-0 6–9" in line
    finally:
        supervisor.path.unlink(missing_ok=True)


def test_close_waits_until_the_ledger_shows_everything_landed(monkeypatch, tmp_path, free_port):
    broker, ledger = Broker(), Ledger()
    monkeypatch.setattr(kafka_mod.FeedProducer, "_connect", lambda self: broker)
    monkeypatch.setattr(kafka_mod, "SETTLE_S", 0.01)
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{free_port()}")
    supervisor = Gate.create(gate_path(settings.bootstrap))
    try:
        producer = kafka_mod.FeedProducer(settings, validate=False, linger_ms=0, bundle_events=1, ledger=ledger)
        for i in range(3):
            producer.send("sales", {"event_id": f"a{i}", "district": "daping"})
        producer.flush()
        ledger.top = {(TOPIC, 0): 1}
        with pytest.raises(
            kafka_mod.ProducerError, match=f"1 events the broker acknowledged have not landed.*{TOPIC}-0 2–2"
        ):
            producer.wait_landed(timeout_s=0.1)
        ledger.top = {(TOPIC, 0): 2}
        producer.close()
        assert producer.resent == 0
    finally:
        supervisor.path.unlink(missing_ok=True)


def test_an_unreadable_ledger_keeps_everything():
    ledger = Ledger()
    held = Unlanded(ledger)
    for o in range(3):
        held.add(SentRecord(TOPIC, 1, o, None, b"[]", 2))
    ledger.top = None
    assert not held.settle() and held.events == 6
    ledger.top = {(TOPIC, 1): 0, (TOPIC, 0): 99}
    assert held.settle() and held.events == 4 and list(held.ranges()) == [(TOPIC, 1, 1, 2)]
