"""The column-wise replay path sends, byte for byte, what the per-event (dict) path sends.

`simulators.columnar.Day` against `simulators.run.records` (the dicts, serialised by orjson as the
producer serialised each event), `FeedProducer.send_run` against `FeedProducer.send` of each event,
a resumed replay against the records after its position, and the year benchmark's accounting of runs
against its accounting of events.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import orjson
import pytest
from support import FakeKafka

import producers.kafka as kafka_mod
from producers.replay import Position, ReplaySource
from schemas.wire import EventRun
from simulators.columnar import NOON, Day
from simulators.run import RunSpec, SimRecord, records
from simulators.scenario import load, with_sample
from yzcore.settings import Settings

BASE = load("baseline")

DAYS = [
    pytest.param(BASE, date(2024, 10, 1), id="national-day-holiday"),
    pytest.param(BASE, date(2024, 3, 5), id="workday"),
    pytest.param(BASE, date(2024, 2, 9), id="chuxi"),
    pytest.param(load("new_years_eve"), date(2025, 1, 1), id="new-years-night"),
    pytest.param(load("counter_outage"), date(2024, 10, 3), id="counter-outage"),
    pytest.param(with_sample(BASE, "acquirer"), date(2024, 10, 2), id="sample-acquirer"),
]


def _spec(scenario, day: date, **kw) -> RunSpec:
    return RunSpec(scenario, 7, day, day + timedelta(days=1), bad_per_day=3, **kw)


def _flat(day: Day, step: int, first: int = 0) -> list[tuple[str, bytes] | SimRecord]:
    """The day's records from ``first`` as the chunks hand them over: (feed, event JSON) or the bad record."""
    out: list[tuple[str, bytes] | SimRecord] = []
    for _, _, _, what in day.chunks(step, first):
        if isinstance(what, SimRecord):
            out.append(what)
        else:
            out += [(run.feed, event) for run in what for event in run.events()]
    return out


def _reference(spec: RunSpec, day: date) -> list[tuple[str, bytes] | SimRecord]:
    return [(r.feed, orjson.dumps(r.event)) if r.event is not None else r for r in records(spec, day)]


@pytest.mark.parametrize(("scenario", "day"), DAYS)
def test_a_day_column_wise_is_the_dict_paths_records_byte_for_byte(scenario, day):
    """Minute by minute, the runs of each key in key order are exactly the records in event-time order:
    the same events, fields, values and bytes, and the bad records at the same place (noon)."""
    spec = _spec(scenario, day)
    want = _reference(spec, day)
    got = Day(spec, day)
    assert got.records == len(want)
    assert _flat(got, 1) == want
    bad = [i for i, r in enumerate(want) if isinstance(r, SimRecord)]
    assert bad == list(range(got.noon(), got.noon() + 9))
    assert all(orjson.loads(e)["event_time"][11:16] < "12:00" for _, e in want[: bad[0]])
    assert got.start(NOON) == bad[-1] + 1


def test_hour_chunks_keep_each_keys_events_in_order():
    spec = _spec(BASE, date(2024, 10, 1))
    want, got = defaultdict(list), defaultdict(list)
    for r in records(spec, spec.start):
        if r.event is not None:
            want[(r.feed, r.event["district"])].append(orjson.dumps(r.event))
    for _, _, _, what in Day(spec, spec.start).chunks(60):
        for run in what if isinstance(what, list) else ():
            got[(run.feed, run.district)] += run.events()
    assert got == want


@pytest.mark.parametrize("first", [0, 1, 4_321, "noon", "noon+2", "noon+9", "last"])
def test_a_day_resumed_at_any_record_sends_exactly_the_records_after_it(first):
    """A checkpoint may stand anywhere in a day (a stop mid-way, or a replay of the per-event path)."""
    spec = _spec(BASE, date(2024, 10, 1), districts=("eling", "jiefangbei"))
    day = Day(spec, spec.start)
    if first == "last":
        first = day.records - 1
    elif isinstance(first, str):
        first = day.noon() + (int(first[5:]) if "+" in first else 0)
    assert first < day.records
    assert _flat(day, 1, first) == _reference(spec, spec.start)[first:]


def test_a_resumed_replay_source_counts_records_like_the_checkpoint():
    spec = RunSpec(BASE, 7, date(2024, 10, 1), date(2024, 10, 3), districts=("eling",), bad_per_day=2)
    everything = [r for day in spec.days for r in _reference(spec, day)]
    source = ReplaySource(spec, Position(day=0, record=1000))
    got: list = []
    for item in source.items():
        got += [item.raw] if item.runs is None else [e for run in item.runs for e in run.events()]
        source.sent()
        assert len(got) == source.pos.sent  # what the checkpoint says was sent
    assert source.pos.day == 2
    want = everything[1000:]
    assert len(got) == len(want) == source.pos.sent
    assert sorted(got) == sorted(r.bad if isinstance(r, SimRecord) else r[1] for r in want)


def _producer(monkeypatch, bundle_events: int) -> tuple[kafka_mod.FeedProducer, FakeKafka]:
    fake = FakeKafka()
    monkeypatch.setattr(kafka_mod.FeedProducer, "_connect", lambda self: fake)
    producer = kafka_mod.FeedProducer(
        Settings(_env_file=None, kafka_bootstrap="kafka.invalid:9092"),
        validate=False,
        linger_ms=0,
        bundle_events=bundle_events,
    )
    return producer, fake


def _per_key(fake: FakeKafka) -> dict[tuple[str, bytes | None], list[bytes]]:
    out = defaultdict(list)
    for topic, key, value in fake.records:
        out[(topic, key)].append(value)
    return out


@pytest.mark.parametrize(("bundle_events", "max_bytes"), [(500, kafka_mod.MAX_BUNDLE_BYTES), (7, 1800), (50, 4000)])
@pytest.mark.parametrize("step", [1, 60, 1440])
def test_runs_make_the_same_records_as_each_event_sent_alone(monkeypatch, bundle_events, max_bytes, step):
    """Same keys, same bundle boundaries (by count and by size), same bytes, whatever the runs' lengths."""
    monkeypatch.setattr(kafka_mod, "MAX_BUNDLE_BYTES", max_bytes)
    spec = RunSpec(BASE, 7, date(2024, 10, 1), date(2024, 10, 3), districts=("eling", "shibati"))
    by_event, events = _producer(monkeypatch, bundle_events)
    for day in spec.days:
        for r in records(spec, day):
            by_event.send(r.feed, r.event)
    by_event.flush()
    by_run, runs = _producer(monkeypatch, bundle_events)
    for day in spec.days:
        for _, _, _, what in Day(spec, day).chunks(step):
            for run in what:
                by_run.send_run(run)
    by_run.flush()
    assert _per_key(runs) == _per_key(events)
    assert sorted(runs.records) == sorted(events.records)
    assert by_run.sent == by_event.sent
    if max_bytes < kafka_mod.MAX_BUNDLE_BYTES:
        assert any(len(orjson.loads(v)) < bundle_events and len(v) >= max_bytes for _, _, v in events.records)


def test_a_validating_producer_checks_every_event_of_a_run(monkeypatch):
    from schemas.contracts import InvalidEvent

    producer, fake = _producer(monkeypatch, 500)
    producer.validate = True
    spec = _spec(BASE, date(2024, 10, 1), districts=("eling",))
    run = Day(spec, spec.start).runs(0, 50)[0]
    producer.send_run(run)
    assert len(fake.records) == 0  # 50 valid events wait in their bundle
    events = run.events()[:4]
    events[3] = events[3].replace(b'"district":"eling"', b'"district":"atlantis"')
    ends = np.cumsum([len(e) + 1 for e in events])
    with pytest.raises(InvalidEvent, match="unknown_district"):
        producer.send_run(EventRun(run.feed, "eling", b",".join(events), ends, {}))


def test_the_year_accounting_of_runs_equals_its_accounting_of_events(monkeypatch):
    """The year benchmark's totals (to the fen) from each run's totals equal those summed event by event."""
    from benchmarks.year import CountingProducer

    monkeypatch.setattr(kafka_mod.FeedProducer, "_connect", lambda self: FakeKafka())
    spec = _spec(BASE, date(2024, 10, 1), districts=("eling", "jiefangbei"))
    settings = Settings(_env_file=None, kafka_bootstrap="kafka.invalid:9092")
    by_event = CountingProducer(settings, {}, validate=False)
    for r in records(spec, spec.start):
        if r.event is not None:
            by_event.send(r.feed, r.event)
    by_run = CountingProducer(settings, {}, validate=False)
    for _, _, _, what in Day(spec, spec.start).chunks(60):
        for run in what if isinstance(what, list) else ():
            by_run.send_run(run)
    assert by_run.events == by_event.events
    assert by_run.totals == by_event.totals
    assert by_run.totals[("sales", "amount")] > Decimal("1e6")  # money, in yuan with its fen
    assert by_run.totals[("sales", "amount")].as_tuple().exponent == -2
