import pytest

from producers.kafka import FeedProducer, ProducerError

EVENT = {
    "event_id": "e1",
    "event_time": "2024-10-01T12:00:00+08:00",
    "district": "daping",
    "sector": "retail",
    "merchant_group": "g",
    "amount": "1.00",
    "txn_count": 1,
}


def test_a_down_broker_is_a_clear_error_not_a_hang(free_port):
    """The connect and delivery timeouts turn an absent broker into ProducerError (pytest-timeout guards a hang)."""
    with pytest.raises(ProducerError, match=r"cannot reach Kafka.*yzmon up"):
        producer = FeedProducer(f"127.0.0.1:{free_port()}", delivery_timeout_s=2, connect_timeout_s=2)
        producer.send("sales", EVENT)
        producer.flush()
