import orjson
import pytest
from support import FakeKafka, sale

from producers.kafka import FeedProducer, ProducerError, linger_ms_for
from yzcore.settings import Settings

EVENT = sale()


def test_a_down_broker_is_a_clear_error_not_a_hang(free_port):
    """The connect and delivery timeouts turn an absent broker into ProducerError (pytest-timeout guards a hang)."""
    with pytest.raises(ProducerError, match=r"cannot reach Kafka.*yzmon up"):
        producer = FeedProducer(
            Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}"), delivery_timeout_s=2, connect_timeout_s=2
        )
        producer.send("sales", EVENT)
        producer.flush()


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _bundling_producer(monkeypatch, linger_ms: int, bundle_events: int = 4):
    import producers.kafka as kafka_mod

    fake, clock = FakeKafka(), _Clock()
    monkeypatch.setattr(kafka_mod.FeedProducer, "_connect", lambda self: fake)
    monkeypatch.setattr(kafka_mod.time, "monotonic", clock)
    producer = kafka_mod.FeedProducer(
        Settings(kafka_bootstrap="kafka.invalid:9092"), validate=False, linger_ms=linger_ms, bundle_events=bundle_events
    )
    return producer, fake, clock


def _sizes(fake: FakeKafka) -> list[tuple[bytes, int]]:
    return [(key, len(orjson.loads(value))) for _, key, value in fake.records]


def test_each_bundle_lingers_on_its_own_clock(monkeypatch):
    """A busy 商圈's full bundles leave at once; a quiet one's bundle leaves when its own first event has
    waited the linger, without pushing out the younger bundles of others."""
    producer, fake, clock = _bundling_producer(monkeypatch, linger_ms=1000)
    producer.send("sales", {**EVENT, "event_id": "q0", "district": "eling"})  # the quiet bundle starts
    for i in range(9):
        clock.now += 0.1
        producer.send("sales", {**EVENT, "event_id": f"b{i}", "district": "daping"})
    assert _sizes(fake) == [(b"daping", 4), (b"daping", 4)]  # full ones only; eling waited 0.9 s
    clock.now += 0.15
    producer.send("sales", {**EVENT, "event_id": "b9", "district": "daping"})
    assert _sizes(fake)[2:] == [(b"eling", 1)]  # eling's waited 1.05 s; daping's 2 events only 0.15 s
    producer.flush()
    assert _sizes(fake)[3:] == [(b"daping", 2)]
    assert producer.sent == 11


def test_without_a_linger_bundles_leave_only_full_or_on_flush(monkeypatch):
    producer, fake, clock = _bundling_producer(monkeypatch, linger_ms=0)
    for i in range(6):
        clock.now += 60
        producer.send("sales", {**EVENT, "event_id": f"e{i}"})
    assert _sizes(fake) == [(b"daping", 4)]
    producer.flush()
    assert _sizes(fake) == [(b"daping", 4), (b"daping", 2)]


def test_a_full_speed_replay_lingers_longer_than_a_paced_one():
    assert linger_ms_for(None) > linger_ms_for(1.0) > 0


def _broker_growth_mb(tmp_path, free_port, compression: str) -> float:
    """Broker memory (RSS, MiB) taken by 240 bundles of 500 sales (about 23 MB) sent with ``compression``."""
    from producers.kafka import FeedProducer as Producer
    from yzmon.broker import ensure_topics, start_broker

    settings = Settings(data_dir=tmp_path / compression, broker_port=free_port(), kafka_compression=compression)
    settings.data_dir.mkdir(parents=True)
    broker = start_broker(settings, settings.data_dir / "broker.log")
    try:
        ensure_topics(settings)

        def rss() -> float:
            status = open(f"/proc/{broker.pid}/status").read()
            return int(status.split("VmRSS:")[1].split()[0]) / 1024

        before = rss()
        producer = Producer(settings, validate=False, bundle_events=500, track_landing=False)
        for i in range(240 * 500):
            producer.send("sales", sale(f"c{i}", amount=f"{i % 9973}.{i % 100:02d}", merchant_id=f"m{i % 331}"))
        producer.flush()
        producer.close()
        return rss() - before
    finally:
        broker.kill()
        broker.wait()


def test_records_go_compressed_so_the_embedded_broker_holds_a_fraction_of_them(tmp_path, free_port):
    """The broker keeps what it is sent as sent: lz4 (the default) is what makes a year fit between recycles."""
    assert Settings().kafka_compression == "lz4"
    plain = _broker_growth_mb(tmp_path, free_port, "none")
    lz4 = _broker_growth_mb(tmp_path, free_port, "lz4")
    assert plain > 15 and lz4 < plain / 3, (plain, lz4)
