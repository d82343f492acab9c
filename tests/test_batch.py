import re
from datetime import UTC, datetime, timedelta

import orjson
from support import sale

from schemas.feeds import FEEDS, FOOTFALL, SALES
from streams.batch import Record, WriteTimes, merge, prepare
from streams.rollups import MAX_WINDOWS, recompute_statements

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOL = timedelta(minutes=5)


def sale_record(i: int, hhmm: str) -> Record:
    event = sale(f"e{i}", event_time=f"2024-10-01T{hhmm}:00+08:00")
    return Record(SALES.topic, i % 2, 100 + i, orjson.dumps(event))


def test_late_events_are_counted_per_partition_and_still_accepted():
    marks: dict[tuple[int, str], float] = {}
    first = prepare(SALES, [sale_record(0, "12:00"), sale_record(1, "12:30")], NOW, TOL, marks, timedelta(minutes=10))
    assert first.late == 0 and len(marks) == 2
    second = prepare(
        SALES,
        [sale_record(2, "11:55"), sale_record(3, "12:25"), sale_record(4, "12:31")],
        NOW,
        TOL,
        marks,
        timedelta(minutes=10),
    )
    # partition 0: watermark 12:00, 11:55 is within 10 min; 12:31 moves it. partition 1: 12:25 is 5 min behind 12:30
    assert second.late == 0
    third = prepare(SALES, [sale_record(6, "12:00")], NOW, TOL, marks, timedelta(minutes=10))
    assert third.late == 1 and third.accepted == 1  # 31 minutes behind partition 0's 12:31


def test_ingest_rows_cover_offsets_and_event_times():
    batch = prepare(
        SALES, [sale_record(0, "12:00"), sale_record(2, "12:07"), Record(SALES.topic, 0, 103, b"{")], NOW, TOL
    )
    (row,) = batch.ingest_rows()
    assert (row.topic, row.kafka_partition, row.first_offset, row.last_offset) == (SALES.topic, 0, 100, 103)
    assert (row.records, row.accepted, row.rejected, row.late) == (3, 2, 1, 0)
    assert (row.max_event_time - row.min_event_time) == timedelta(minutes=7)


def _windows(params: dict) -> list[tuple[str, int, int]]:
    """The (商圈, from, to) windows a refresh's parameters name (``d<i>``, ``lo<i>``, ``hi<i>``)."""
    return [(params[f"d{i}"], params[f"lo{i}"], params[f"hi{i}"]) for i in range(len(params) // 3)]


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_touched_windows_become_ranges_per_level_and_footfall_days():
    batch = prepare(
        SALES,
        [sale_record(0, "12:00"), sale_record(2, "12:00"), sale_record(4, "12:03"), sale_record(6, "23:59")],
        NOW,
        TOL,
    )
    statements = recompute_statements(SALES, batch.touched)
    assert [s.split()[2] for s, _ in statements] == ["sales_agg_1m", "sales_hourly", "sales_daily", "sales_monthly"]
    minute, hour, day, month = (_windows(params) for _, params in statements)
    # 12:00-12:04 and 23:59 lie more than MERGE_GAP_S apart: two windows
    assert minute == [
        ("daping", _epoch("2024-10-01T12:00:00+08:00"), _epoch("2024-10-01T12:04:00+08:00")),
        ("daping", _epoch("2024-10-01T23:59:00+08:00"), _epoch("2024-10-02T00:00:00+08:00")),
    ]
    assert hour == [
        ("daping", _epoch("2024-10-01T12:00:00+08:00"), _epoch("2024-10-01T13:00:00+08:00")),
        ("daping", _epoch("2024-10-01T23:00:00+08:00"), _epoch("2024-10-02T00:00:00+08:00")),
    ]
    assert day == [("daping", _epoch("2024-10-01T00:00:00+08:00"), _epoch("2024-10-02T00:00:00+08:00"))]
    assert month == [("daping", _epoch("2024-10-01T00:00:00+08:00"), _epoch("2024-11-01T00:00:00+08:00"))]
    footfall = recompute_statements(FOOTFALL, batch.touched)
    # occupancy runs over the business day from 06:00: whole business days, at the day level the calendar days
    assert _windows(footfall[0][1]) == [
        ("daping", _epoch("2024-10-01T06:00:00+08:00"), _epoch("2024-10-02T06:00:00+08:00"))
    ]
    assert _windows(footfall[2][1]) == [
        ("daping", _epoch("2024-10-01T00:00:00+08:00"), _epoch("2024-10-03T00:00:00+08:00"))
    ]
    assert recompute_statements(SALES, set()) == []


def test_a_batch_touching_more_windows_than_a_statement_names_refreshes_each_districts_span():
    """Past MAX_WINDOWS, a 商圈's windows become one from its first to its last, so the statement stays small."""
    day = _epoch("2024-10-01T00:00:00+08:00")
    sparse = {("daping", day + i * 86400, day + i * 86400 + 60) for i in range(MAX_WINDOWS + 1)}
    sparse.add(("jiefangbei", day, day + 60))
    minute = recompute_statements(SALES, sparse)[0]
    assert _windows(minute[1]) == [
        ("daping", day, day + MAX_WINDOWS * 86400 + 60),
        ("jiefangbei", day, day + 60),
    ]
    assert minute[0].count("district = {d") == 2
    few = recompute_statements(SALES, set(list(sorted(sparse))[:MAX_WINDOWS]))[0]
    assert len(_windows(few[1])) == MAX_WINDOWS  # up to the bound, each window is named


def test_a_bundle_touches_one_range_from_its_first_to_its_last_minute_and_a_mixed_one_each_minute():
    times = ["12:00:30", "12:07:00", "12:03:59"]
    bundle = [sale(f"b{i}", event_time=f"2024-10-01T{t}+08:00") for i, t in enumerate(times)]
    one = prepare(SALES, [Record(SALES.topic, 0, 1, orjson.dumps(bundle))], NOW, TOL)
    assert one.accepted == 3
    assert one.touched == {("daping", _epoch("2024-10-01T12:00:00+08:00"), _epoch("2024-10-01T12:08:00+08:00"))}
    bundle[1]["district"] = "jiefangbei"  # two 商圈 in one record: each event its own minute
    mixed = prepare(SALES, [Record(SALES.topic, 0, 1, orjson.dumps(bundle))], NOW, TOL)
    assert mixed.touched == {
        ("daping", _epoch("2024-10-01T12:00:00+08:00"), _epoch("2024-10-01T12:01:00+08:00")),
        ("jiefangbei", _epoch("2024-10-01T12:07:00+08:00"), _epoch("2024-10-01T12:08:00+08:00")),
        ("daping", _epoch("2024-10-01T12:03:00+08:00"), _epoch("2024-10-01T12:04:00+08:00")),
    }


def test_every_rollup_statement_names_the_registry_measures():
    for feed in FEEDS.values():
        for sql, params in recompute_statements(
            feed, {("daping", _epoch("2024-10-01T12:00:00+08:00"), _epoch("2024-10-01T12:01:00+08:00"))}
        ):
            target = sql[sql.index("(") + 1 : sql.index(")")].split(", ")
            assert [m for m in feed.measures if m in target] == list(feed.measures), sql
            assert set(re.findall(r"\{(\w+):", sql)) == set(params) == {"d0", "lo0", "hi0"}, sql


def test_bundles_of_two_districts_sharing_a_partition_are_not_late():
    """Lateness is per 商圈: a full-speed replay interleaves bundles of different 商圈 hours apart."""

    def bundle(offset: int, district: str, hours: range) -> Record:
        events = [
            sale(f"{district}-{h}", event_time=f"2024-10-01T{h:02d}:00:00+08:00", district=district) for h in hours
        ]
        return Record(SALES.topic, 0, offset, orjson.dumps(events))

    marks: dict = {}
    batch = prepare(SALES, [bundle(0, "daping", range(8, 20)), bundle(1, "eling", range(8, 12))], NOW, TOL, marks)
    assert batch.accepted == 16 and batch.late == 0
    again = prepare(SALES, [bundle(2, "eling", range(12, 13)), bundle(3, "daping", range(9, 10))], NOW, TOL, marks)
    assert again.late == 1  # daping 09:00 after daping 19:00: late; eling 12:00 after eling 11:00: in order


def test_a_refused_event_of_a_bundle_keeps_its_index_and_its_own_bytes():
    good = sale("g")
    items = [good, {**good, "event_id": "x", "district": "atlantis"}, 7, {**good, "event_id": "h"}]
    batch = prepare(SALES, [Record(SALES.topic, 0, 5, orjson.dumps(items))], NOW, TOL)
    assert batch.accepted == 2 and [e["event_id"] for e in batch.events()] == ["g", "h"]
    assert [(r.index, r.why.reason, orjson.loads(r.payload)) for r in batch.rejected] == [
        (1, "unknown_district", items[1]),
        (2, "malformed_json", 7),
    ]
    (row,) = batch.ingest_rows()
    assert (row.records, row.accepted, row.rejected) == (1, 2, 2)  # one record, two events accepted, two refused
    empty = prepare(SALES, [Record(SALES.topic, 0, 6, b"[]")], NOW, TOL)
    assert [(r.index, r.why.reason) for r in empty.rejected] == [(-1, "malformed_json")]


def test_merged_batches_hold_every_row_refusal_window_and_partition_count():
    marks: dict = {}
    first = prepare(
        SALES, [sale_record(0, "12:00"), sale_record(1, "12:01"), Record(SALES.topic, 0, 102, b"{")], NOW, TOL, marks
    )
    second = prepare(SALES, [sale_record(2, "12:30"), sale_record(4, "11:00")], NOW, TOL, marks)
    merged = merge([first, second])
    assert merged.accepted == 4 and [e["event_id"] for e in merged.events()] == ["e0", "e1", "e2", "e4"]
    assert [r.record.offset for r in merged.rejected] == [102]
    assert merged.touched == first.touched | second.touched and merged.late == first.late + second.late == 1
    parts = merged.partitions
    assert (parts[0].first_offset, parts[0].last_offset, parts[0].records, parts[0].accepted) == (100, 104, 4, 3)
    assert (parts[1].first_offset, parts[1].records, parts[1].accepted) == (101, 1, 1)
    assert parts[0].max_stamp - parts[0].min_stamp == 90 * 60
    assert merge([first]) is first


def test_a_merged_batch_keeps_one_ingest_row_per_batch_taken_with_its_own_take_times():
    """Batches that waited during a write land in one, but each keeps its rows and when it was taken: a row's
    times hold for every offset in it."""
    first = prepare(SALES, [sale_record(0, "12:00"), sale_record(1, "12:01")], NOW, TOL)
    second = prepare(SALES, [sale_record(2, "12:30"), sale_record(4, "11:00")], NOW, TOL)
    third = prepare(SALES, [sale_record(6, "12:40")], NOW, TOL)
    for i, batch in enumerate((first, second, third)):
        batch.arrived_at, batch.taken_at, batch.prepared_at = 999.5 + i, 1000.0 + i, 1000.5 + i
    merged = merge([merge([first, second]), third])  # merging merged batches flattens them
    assert merged.takes == [first, second, third]
    merged.wrote(WriteTimes(1010.0, 1011.0, 1012.0, "footfall_raw 900"))
    rows = [
        (
            r.kafka_partition,
            r.first_offset,
            r.last_offset,
            r.records,
            *(t.timestamp() for t in (r.first_arrived_at, r.taken_at, r.prepared_at)),
        )
        for r in merged.ingest_rows()
    ]
    assert rows == [
        (0, 100, 100, 1, 999.5, 1000.0, 1000.5),
        (1, 101, 101, 1, 999.5, 1000.0, 1000.5),
        (0, 102, 104, 2, 1000.5, 1001.0, 1001.5),
        (0, 106, 106, 1, 1001.5, 1002.0, 1002.5),
    ]
    write = {(r.write_queued_at, r.write_started_at, r.raw_landed_at, r.lock_held_by) for r in merged.ingest_rows()}
    assert [(q.timestamp(), s.timestamp(), r.timestamp(), w) for q, s, r, w in write] == [
        (1010.0, 1011.0, 1012.0, "footfall_raw 900")
    ]
    assert sum(r.accepted for r in merged.ingest_rows()) == merged.accepted == 5


def test_record_timestamps_bound_each_partition_and_are_epoch_zero_when_absent():
    records = [
        Record(SALES.topic, 0, 100, orjson.dumps(sale("a")), 1700000000.25),
        Record(SALES.topic, 0, 101, orjson.dumps(sale("b")), 1700000000.125),
        Record(SALES.topic, 1, 102, orjson.dumps(sale("c"))),
    ]
    rows = {r.kafka_partition: r for r in prepare(SALES, records, NOW, TOL).ingest_rows()}
    assert (rows[0].min_record_time.timestamp(), rows[0].max_record_time.timestamp()) == (1700000000.125, 1700000000.25)
    assert rows[1].min_record_time.timestamp() == rows[1].taken_at.timestamp() == 0  # not recorded


def test_lateness_shortcuts_count_what_the_running_maximum_counts():
    """The shortcuts of ``_late`` (no stamp can be late; stamps in order) agree with the definition:
    a stamp is late when older than the running maximum before it, watermark included, minus the lateness."""
    import random

    from streams.batch import _late

    rng = random.Random(17)
    for _ in range(3000):
        n = rng.randint(1, 12)
        stamps = [float(rng.randint(0, 3600)) for _ in range(n)]
        if rng.random() < 0.5:
            stamps.sort()
        mark = rng.choice([None, float(rng.randint(0, 3600))])
        behind = float(rng.choice([0, 60, 600]))
        expected, running = 0, stamps[0] if mark is None else mark
        for s in stamps:
            expected += s < running - behind
            running = max(running, s)
        marks = {} if mark is None else {(0, "d"): mark}
        assert _late(marks, (0, "d"), stamps, min(stamps), max(stamps), behind) == expected
        assert marks[(0, "d")] == running
