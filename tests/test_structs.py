"""The generated Structs against the JSON Schema files: the fast path (``schemas.structs``) vouches for a
bundle only when the precise path (``schemas.contracts``, jsonschema-rs) accepts every event of it, accepts
every bundle of valid events the producers send, and lands the same rows."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.batch
from schemas.contracts import decode_record, load_schema
from schemas.feeds import FEEDS, FOOTFALL, INTEGER, SALES, TOURISTS
from schemas.reference import districts
from schemas.structs import decode_bundle, event_struct
from simulators.generate import day_events
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.sink import _sql_string, raw_insert, raw_structure

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOL = timedelta(minutes=5)
LATEST = (NOW + TOL).timestamp()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)

# strings near the edges of the contracts' patterns and lengths
EDGE_STRINGS = [
    "",
    "e1\n",
    "\ne1",
    "e 1",
    "١٢.٣٤",  # Arabic-Indic digits: \d in some regex dialects
    "12.30\n",
    "-1.00",
    "1.234",
    "00000000000001.00",
    "123456789012345.00",
    "x" * 64,
    "x" * 65,
    "渝中" * 32,
    "渝中" * 33,
    "jiefangbei",
    "atlantis",
    "JIEFANGBEI",
    "in_store",
    "delivery",
    "2024-10-01T12:00:00+08:00",
    "2024-10-01T12:00:00Z",
    "2024-10-01T12:00:00.123456+08:00",
    "2024-10-01T12:00:00.1234567+08:00",
    "2024-10-01T12:00:00",
    "2024-10-01 12:00:00+08:00",
    "2024-02-30T12:00:00+08:00",
    "2024-10-01T24:00:00+08:00",
    "2024-10-01T23:59:60+08:00",
    "2024-10-01T12:00:00+24:00",
    "2024-10-01T12:00:00+08:60",
    "2024-10-01T12:00:00z",
    "2026-11-23T08:04:59+08:00",  # inside the future tolerance of NOW
    "2026-11-23T08:05:01+08:00",  # just past it
    "\ud83d\ude00",  # a surrogate pair as two code points: invalid UTF-8 unless escaped
    "😀",
    "a\u0000b",
    'quote"and\\backslash',
]
EDGE_VALUES = [*EDGE_STRINGS, 0, 1, -1, 10_000_000, 10_000_001, 1_000_000, 1_000_001, 2**63, -(2**64)]
EDGE_VALUES += [1.0, 3.0, 2.5, 1e2, True, None, [], {}]
edge_values = st.one_of(st.sampled_from(EDGE_VALUES), json_values)


def _time(stamp: datetime, form: int) -> str:
    if form == 0:
        return stamp.isoformat(timespec="seconds")
    if form == 1:
        return stamp.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return stamp.isoformat(timespec="microseconds" if form == 2 else "milliseconds")


def _value(name: str, spec: dict):
    """A strategy of values the property ``spec`` of the contract admits (most of the time)."""
    if name == "district":
        return st.sampled_from(sorted(districts()))
    if name == "event_time":
        offsets = st.sampled_from([timezone(timedelta(hours=8)), UTC, timezone(timedelta(hours=-5, minutes=-30))])
        stamps = st.datetimes(datetime(2020, 1, 1), datetime(2026, 11, 24)).flatmap(
            lambda d: offsets.map(lambda tz, d=d: d.replace(tzinfo=tz))
        )
        return st.builds(_time, stamps, st.integers(0, 3))
    if "enum" in spec:
        return st.sampled_from(spec["enum"])
    if spec.get("type") == "integer":
        return st.integers(spec.get("minimum", -(2**31)), spec.get("maximum", 2**31))
    if "pattern" in spec:
        return st.from_regex(spec["pattern"].replace(r"\d", "[0-9]").rstrip("$") + r"\Z").filter(
            lambda s: spec.get("minLength", 0) <= len(s) <= spec.get("maxLength", 10**6)
        )
    return st.text(min_size=spec.get("minLength", 0), max_size=spec.get("maxLength", 80))


def valid_events(feed):
    schema = load_schema(feed)
    required = {k: _value(k, v) for k, v in schema["properties"].items() if k in schema["required"]}
    optional = {k: _value(k, v) for k, v in schema["properties"].items() if k not in schema["required"]}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def mutated(draw, feed):
    """A valid event, perhaps with a field changed, removed or added."""
    event = draw(valid_events(feed))
    action = draw(st.sampled_from(["keep", "change", "change", "remove", "add"]))
    if action == "change":
        event[draw(st.sampled_from(sorted(load_schema(feed)["properties"])))] = draw(edge_values)
    elif action == "remove":
        event.pop(draw(st.sampled_from(sorted(event))))
    elif action == "add":
        event[draw(st.sampled_from(["extra", "Amount", "event_id ", ""]))] = draw(edge_values)
    return event


def _encode(events: list, style: int) -> bytes:
    """Bundles as producers may write them: compact, spaced and ASCII-escaped, or with a duplicated key."""
    if style == 0:
        return json.dumps(events, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    if style == 1:
        return json.dumps(events, indent=1).encode()  # whitespace, line breaks, \\u escapes
    raw = json.dumps(events, ensure_ascii=False, separators=(",", ":"))
    return raw.replace('{"event_id":', '{"event_id":"dup","event_id":', 1).encode("utf-8", "surrogatepass")


def _no_key_twice(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)


def _agree(feed, payload: bytes) -> None:
    """The fast path accepts a bundle only when the precise path accepts all of it, with the same events,
    times and 商圈; it declines a fully valid bundle only for an integer written as a float."""
    fast = decode_bundle(feed, payload, LATEST)
    precise = decode_record(feed, payload, NOW, TOL)
    if fast is None:
        if not precise.rejected:
            ints = [c.name for c in feed.columns if c.kind == INTEGER]
            assert any(isinstance(e.get(k), float) for e in precise.events for k in ints), payload[:300]
        return
    assert precise.rejected == [], (payload[:300], precise.rejected)
    json.loads(fast.json, object_pairs_hook=_no_key_twice)  # ClickHouse refuses an object with a key twice
    assert orjson.loads(fast.json) == precise.events
    assert fast.stamps == precise.stamps
    assert fast.districts == [e["district"] for e in precise.events]


@pytest.mark.parametrize("feed", list(FEEDS.values()), ids=list(FEEDS))
def test_structs_are_generated_from_the_contract_files(feed):
    spec = event_struct(feed)
    schema = load_schema(feed)
    assert set(spec.struct.__struct_fields__) == set(schema["properties"])
    assert set(spec.optional) == set(schema["properties"]) - set(schema["required"])
    assert spec.struct.__struct_config__.forbid_unknown_fields


@pytest.mark.parametrize("feed", list(FEEDS))
def test_every_simulated_bundle_takes_the_fast_path_and_lands_the_same_rows(feed, monkeypatch):
    events = [e for _, e in day_events(load("baseline"), 3, date(2024, 10, 1), ["hongyadong", "daping"], [feed])]
    records = [Record(FEEDS[feed].topic, 0, i, orjson.dumps(events[i : i + 300])) for i in range(0, len(events), 300)]
    for record in records:
        assert decode_bundle(FEEDS[feed], record.value, LATEST) is not None
        _agree(FEEDS[feed], record.value)
    fast = prepare(FEEDS[feed], records, NOW, TOL)
    monkeypatch.setattr(streams.batch, "decode_bundle", lambda *_: None)
    precise = prepare(FEEDS[feed], records, NOW, TOL)
    assert fast.accepted == precise.accepted == len(events)
    assert fast.raw_columns() == precise.raw_columns()
    assert (fast.touched, fast.ingest_rows()) == (precise.touched, precise.ingest_rows())


def test_a_bundle_decodes_when_the_time_cache_fills_up_midway(monkeypatch):
    """A bundle of times partly cached, partly new, when the new ones overflow the cache: the cache starts again
    with all of the bundle's times (it used to keep only the new ones, and the lookup of the others failed)."""
    import schemas.structs as structs

    events = [e for _, e in day_events(load("baseline"), 3, date(2024, 10, 1), ["hongyadong"], ["footfall"])][:400]
    times = sorted({e["event_time"] for e in events})
    monkeypatch.setattr(structs, "_TIMES", {})
    monkeypatch.setattr(structs, "_TIMES_MAX", len(times) + 5)
    half = [e for e in events if e["event_time"] <= times[len(times) // 2]]
    assert decode_bundle(FOOTFALL, orjson.dumps(half), LATEST) is not None
    structs._TIMES.update({f"2024-09-30T00:{m:02d}:00+08:00": 0.0 for m in range(10)})  # the cache is nearly full
    bundle = decode_bundle(FOOTFALL, orjson.dumps(events), LATEST)
    assert bundle is not None
    assert bundle.stamps == [datetime.fromisoformat(e["event_time"]).timestamp() for e in events]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), feed=st.sampled_from(list(FEEDS.values())))
def test_valid_bundles_are_accepted_by_both_paths(data, feed):
    events = data.draw(st.lists(valid_events(feed), min_size=1, max_size=20))
    payload = orjson.dumps(events)
    precise = decode_record(feed, payload, NOW, TOL)
    fast = decode_bundle(feed, payload, LATEST)
    assert (fast is None) == bool(precise.rejected)  # no integer as a float here: the paths agree exactly
    _agree(feed, payload)


@settings(max_examples=250, deadline=None)
@given(data=st.data(), feed=st.sampled_from(list(FEEDS.values())), style=st.integers(0, 2))
def test_mutated_bundles_are_never_accepted_by_the_fast_path_alone(data, feed, style):
    events = data.draw(st.lists(st.one_of(mutated(feed), json_values), min_size=0, max_size=6))
    _agree(feed, _encode(events, style))


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=512))
def test_arbitrary_bytes_take_the_precise_path(payload):
    for feed in FEEDS.values():
        _agree(feed, b"[" + payload)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), feed=st.sampled_from([SALES, TOURISTS]))
def test_batches_of_mutated_bundles_land_the_same_rows_and_refusals(data, feed, monkeypatch_module):
    bundles = data.draw(st.lists(st.lists(mutated(feed), min_size=1, max_size=5), min_size=1, max_size=5))
    records = [Record(feed.topic, i % 2, i, _encode(b, i % 3)) for i, b in enumerate(bundles)]
    fast = prepare(feed, records, NOW, TOL, {})
    with monkeypatch_module.context() as m:
        m.setattr(streams.batch, "decode_bundle", lambda *_: None)
        precise = prepare(feed, records, NOW, TOL, {})
    assert fast.raw_columns() == precise.raw_columns()
    assert [(r.record, r.index, r.payload, r.why) for r in fast.rejected] == [
        (r.record, r.index, r.payload, r.why) for r in precise.rejected
    ]
    assert (fast.touched, fast.ingest_rows()) == (precise.touched, precise.ingest_rows())


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as m:
        yield m


@pytest.mark.parametrize("feed", [SALES, TOURISTS], ids=["sales", "tourists"])
def test_clickhouse_reads_the_same_rows_from_both_paths(store, feed, monkeypatch):
    """Both paths' JSON lines read by the store's own raw insert SELECT: unicode, escapes, absent fields."""
    events = [e for _, e in day_events(load("baseline"), 5, date(2024, 10, 1), ["jiefangbei"], [feed.name])][:200]
    events[0] = {**events[0], "source": '渝中 "quoted" \\ \u2028 😀 \u0000'}
    events[1] = {k: v for k, v in events[1].items() if k not in ("source", "channel", "spend")}
    records = [Record(feed.topic, 0, 0, _encode(events[:100], 0)), Record(feed.topic, 0, 1, _encode(events[100:], 1))]
    fast = prepare(feed, records, NOW, TOL)
    assert fast.accepted == 200
    monkeypatch.setattr(streams.batch, "decode_bundle", lambda *_: None)
    precise = prepare(feed, records, NOW, TOL)
    rows = []
    for batch in (fast, precise):
        fd, path = tempfile.mkstemp(suffix=".jsonl")
        with os.fdopen(fd, "wb") as out:
            out.writelines(batch.lines)
        try:
            insert = raw_insert(feed, f"file({_sql_string(path)}, 'JSONEachRow', {_sql_string(raw_structure(feed))})")
            rows.append(store.query(insert[insert.index("SELECT") :]).result_rows)
        finally:
            os.unlink(path)
    assert len(rows[0]) == 200 and rows[0] == rows[1]


@pytest.mark.parametrize("feed", list(FEEDS.values()), ids=list(FEEDS))
def test_every_field_with_every_edge_value_gets_the_same_verdict(feed):
    """Each field of a valid event replaced by each edge value, each field removed, one added: same verdict."""
    base = {
        "event_id": "e1",
        "event_time": "2024-10-01T12:00:00+08:00",
        "district": "jiefangbei",
        "sector": "retail",
        "merchant_group": "g1",
        "channel": "delivery",
        "amount": "12.30",
        "txn_count": 2,
        "gate": "g1",
        "entries": 3,
        "exits": 1,
        "origin": "chengdu",
        "arrivals": 4,
        "spend": "100.00",
        "source": "s",
    }
    event = {k: v for k, v in base.items() if k in load_schema(feed)["properties"]}
    accepted = 0
    for field in event:
        for value in EDGE_VALUES:
            payload = json.dumps([event, {**event, field: value}]).encode("utf-8", "surrogatepass")
            _agree(feed, payload)
            accepted += decode_bundle(feed, payload, LATEST) is not None
        _agree(feed, orjson.dumps([{k: v for k, v in event.items() if k != field}]))
    _agree(feed, orjson.dumps([{**event, "extra": "x"}]))
    assert decode_bundle(feed, orjson.dumps([event]), LATEST) is not None
    assert accepted > len(event)  # some edge values are valid, and accepted by both paths
