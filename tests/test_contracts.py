from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from jsonschema import Draft202012Validator
from support import sale

from schemas.contracts import REASONS, InvalidEvent, Rejection, decode, load_schema
from schemas.feeds import FEEDS, SALES
from simulators.generate import bad_events, day_events
from simulators.scenario import load

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOL = timedelta(minutes=5)
GOOD = sale(district="jiefangbei", merchant_group="g1", amount="12.30", txn_count=2)


@pytest.mark.parametrize("feed", list(FEEDS.values()), ids=list(FEEDS))
def test_contract_files_are_valid_json_schema(feed):
    Draft202012Validator.check_schema(load_schema(feed))


def test_simulated_events_pass_their_contract():
    events = day_events(load("baseline"), 1, date(2024, 3, 2), ["daping", "hongyadong"])
    assert {f for f, _ in events} == set(FEEDS)
    for feed, event in events[::50]:
        assert isinstance(decode(FEEDS[feed], orjson.dumps(event), NOW, TOL), dict)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"event_id": "x", ', "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (orjson.dumps({**GOOD, "amount": "-5.00"}), "negative_amount"),
        (orjson.dumps({**GOOD, "amount": "1.234"}), "schema_violation"),
        (orjson.dumps({**GOOD, "amount": 12.3}), "schema_violation"),
        (orjson.dumps({**GOOD, "district": "atlantis"}), "unknown_district"),
        (orjson.dumps({**GOOD, "event_time": "2026-11-23T20:10:00+08:00"}), "future_timestamp"),
        (orjson.dumps({**GOOD, "event_time": "2024-10-01 12:00:00"}), "schema_violation"),
        (orjson.dumps({**GOOD, "extra": 1}), "schema_violation"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "event_id"}), "schema_violation"),
        (b"{" + b'"a":"' + b"x" * 70_000 + b'"}', "oversized"),
    ],
)
def test_each_rejection_reason(payload, reason):
    result = decode(SALES, payload, NOW, TOL)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert result.reason in REASONS and result.detail


def test_within_future_tolerance_is_accepted():
    five_min_ahead = (NOW + timedelta(minutes=4)).isoformat()
    assert isinstance(decode(SALES, orjson.dumps({**GOOD, "event_time": five_min_ahead}), NOW, TOL), dict)


@pytest.mark.parametrize("feed", list(FEEDS))
def test_injected_bad_events_get_the_reason_they_promise(feed):
    for reason, payload in bad_events(load("baseline"), 7, date(2024, 10, 1), feed, 10):
        result = decode(FEEDS[feed], payload, NOW, TOL)
        assert isinstance(result, Rejection) and result.reason == reason


def test_producer_refuses_invalid_events_before_sending():
    from producers.kafka import FeedProducer

    producer = FeedProducer.__new__(FeedProducer)  # validation happens before any network use
    producer.validate = True
    producer.future_tolerance = timedelta(seconds=300)
    with pytest.raises(InvalidEvent, match="negative_amount"):
        producer.send("sales", {**GOOD, "amount": "-1"})
