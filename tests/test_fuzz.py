"""Property-based fuzzing of the decoders and validators: nothing a feed sends crashes the worker,
and every record is either accepted or rejected with a known reason."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from support import sale

from schemas.contracts import REASONS, Rejection, decode, to_row
from schemas.feeds import FEEDS, SALES
from streams.batch import Record, prepare

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOL = timedelta(minutes=5)
GOOD = sale(district="jiefangbei", merchant_group="g1", amount="12.30", txn_count=2)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _check(feed, payload: bytes) -> None:
    result = decode(feed, payload, NOW, TOL)
    if isinstance(result, Rejection):
        assert result.reason in REASONS and isinstance(result.detail, str)
    else:
        row = to_row(feed, result)
        assert row[0] == result["event_id"]


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(payload):
    for feed in FEEDS.values():
        _check(feed, payload)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(GOOD)), value=json_values)
def test_any_value_in_any_field_is_accepted_or_rejected(field, value):
    _check(SALES, json.dumps({**GOOD, field: value}).encode())  # stdlib: also ints beyond 64 bits


@settings(max_examples=100, deadline=None)
@given(name=st.text(min_size=1, max_size=64), district=st.text(max_size=40))
def test_unicode_names_and_districts(name, district):
    _check(SALES, orjson.dumps({**GOOD, "merchant_group": name, "district": district}))


def test_nan_infinity_duplicate_keys_and_huge_payloads():
    for raw in (
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"txn_count": -Infinity}',
        orjson.dumps(GOOD)[:-1] + b', "amount": "-1.00"}',  # duplicated key: the last one wins
        b'{"a": "' + b"x" * 200_000 + b'"}',
        b"9" * 100_000,
        b"[" * 10_000,
    ):
        _check(SALES, raw)
    dup = decode(SALES, orjson.dumps(GOOD)[:-1] + b', "amount": "-1.00"}', NOW, TOL)
    assert isinstance(dup, Rejection) and dup.reason == "negative_amount"
    floaty = decode(SALES, orjson.dumps({**GOOD, "txn_count": math.inf}), NOW, TOL)
    assert isinstance(floaty, Rejection)


@settings(max_examples=50, deadline=None)
@given(
    payloads=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.builds(
                lambda a, n: orjson.dumps({**GOOD, "amount": a, "txn_count": n}),
                st.from_regex(r"-?\d{1,6}(\.\d{1,3})?", fullmatch=True),
                st.integers(-5, 5),
            ),
        ),
        max_size=60,
    )
)
def test_accepted_plus_rejected_equals_produced(payloads):
    records = [Record(SALES.topic, 0, i, p) for i, p in enumerate(payloads)]
    batch = prepare(SALES, records, NOW, TOL)
    events = sum(_events_in(p) for p in payloads)
    assert batch.accepted + len(batch.rejected) == events
    stats = batch.partitions.get(0)
    if payloads:
        assert (stats.accepted, stats.rejected, stats.records) == (batch.accepted, len(batch.rejected), len(payloads))


def _events_in(payload: bytes) -> int:
    """Events a record carries: the items of a non-empty JSON array (a bundle), else one."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return 1
    return len(value) if payload.startswith(b"[") and isinstance(value, list) and value else 1


@settings(max_examples=100, deadline=None)
@given(
    items=st.lists(
        st.one_of(
            json_values,
            st.builds(
                lambda a, n: {**GOOD, "amount": a, "txn_count": n},
                st.from_regex(r"-?\d{1,6}(\.\d{1,3})?", fullmatch=True),
                st.integers(-5, 5),
            ),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_every_event_of_a_bundle_is_accepted_or_refused_alone(items):
    payload = json.dumps(items).encode()  # stdlib: also ints beyond 64 bits
    batch = prepare(SALES, [Record(SALES.topic, 0, 0, payload)], NOW, TOL)
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError:  # not parseable as a whole (an int beyond 64 bits): refused as one record
        assert [(r.index, r.why.reason) for r in batch.rejected] == [(-1, "malformed_json")]
        return
    assert batch.accepted + len(batch.rejected) == len(items)
    for refused in batch.rejected:
        assert refused.why.reason in REASONS and orjson.loads(refused.payload) == items[refused.index]
    refused_at = {r.index for r in batch.rejected}
    accepted = [item for i, item in enumerate(items) if i not in refused_at]
    assert [Decimal(item["amount"]) for item in accepted] == [Decimal(e["amount"]) for e in batch.events()]
