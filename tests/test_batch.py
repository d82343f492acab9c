from datetime import UTC, date, datetime, timedelta

import orjson

from schemas.feeds import FOOTFALL, SALES
from streams.batch import Record, prepare
from streams.rollups import recompute_statements

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOL = timedelta(minutes=5)


def sale(i: int, hhmm: str) -> Record:
    event = {
        "event_id": f"e{i}",
        "event_time": f"2024-10-01T{hhmm}:00+08:00",
        "district": "daping",
        "sector": "retail",
        "merchant_group": "g",
        "amount": "1.00",
        "txn_count": 1,
    }
    return Record(SALES.topic, i % 2, 100 + i, orjson.dumps(event))


def test_late_events_are_counted_per_partition_and_still_accepted():
    marks: dict[int, datetime] = {}
    first = prepare(SALES, [sale(0, "12:00"), sale(1, "12:30")], NOW, TOL, marks, timedelta(minutes=10))
    assert first.late == 0 and len(marks) == 2
    second = prepare(
        SALES, [sale(2, "11:55"), sale(3, "12:25"), sale(4, "12:31")], NOW, TOL, marks, timedelta(minutes=10)
    )
    # partition 0: watermark 12:00, 11:55 is within 10 min; 12:31 moves it. partition 1: 12:25 is 5 min behind 12:30
    assert second.late == 0
    third = prepare(SALES, [sale(6, "12:00")], NOW, TOL, marks, timedelta(minutes=10))
    assert third.late == 1 and third.accepted == 1  # 31 minutes behind partition 0's 12:31


def test_ingest_rows_cover_offsets_and_event_times():
    batch = prepare(SALES, [sale(0, "12:00"), sale(2, "12:07"), Record(SALES.topic, 0, 103, b"{")], NOW, TOL)
    (row,) = batch.ingest_rows()
    assert row[:8] == (SALES.topic, 0, 100, 103, 3, 2, 1, 0)
    assert (row[9] - row[8]) == timedelta(minutes=7)


def test_touched_windows_become_minute_keys_and_footfall_days():
    batch = prepare(SALES, [sale(0, "12:00"), sale(2, "12:00"), sale(4, "23:59")], NOW, TOL)
    statements = recompute_statements(SALES, batch.touched)
    assert [s.split()[2] for s, _ in statements] == ["sales_agg_1m", "sales_hourly", "sales_daily", "sales_monthly"]
    minute = statements[0][1]
    assert minute["districts"] == ["daping"] and len(minute["minutes"]) == 2
    assert minute["hi"] - minute["lo"] == 24 * 3600 * 1000
    assert len(statements[1][1]["hours"]) == 2 and [str(d) for _, d in statements[2][1]["days"]] == ["2024-10-01"]
    assert statements[3][1]["month_lo"] == date(2024, 10, 1) and statements[3][1]["month_hi"] == date(2024, 11, 1)
    footfall = recompute_statements(FOOTFALL, batch.touched)
    assert [str(d) for _, d in footfall[0][1]["bdays"]] == ["2024-10-01"]  # business days from 06:00
    assert recompute_statements(SALES, set()) == []


def test_bundles_of_two_districts_sharing_a_partition_are_not_late():
    """Lateness is per 商圈: a full-speed replay interleaves bundles of different 商圈 hours apart."""

    def bundle(offset: int, district: str, hours: range) -> Record:
        events = [
            {
                "event_id": f"{district}-{h}",
                "event_time": f"2024-10-01T{h:02d}:00:00+08:00",
                "district": district,
                "sector": "retail",
                "merchant_group": "g",
                "amount": "1.00",
                "txn_count": 1,
            }
            for h in hours
        ]
        return Record(SALES.topic, 0, offset, orjson.dumps(events))

    marks: dict = {}
    batch = prepare(SALES, [bundle(0, "daping", range(8, 20)), bundle(1, "eling", range(8, 12))], NOW, TOL, marks)
    assert batch.accepted == 16 and batch.late == 0
    again = prepare(SALES, [bundle(2, "eling", range(12, 13)), bundle(3, "daping", range(9, 10))], NOW, TOL, marks)
    assert again.late == 1  # daping 09:00 after daping 19:00: late; eling 12:00 after eling 11:00: in order


def test_a_refused_event_of_a_bundle_keeps_its_index_and_its_own_bytes():
    good = {
        "event_id": "g",
        "event_time": "2024-10-01T12:00:00+08:00",
        "district": "daping",
        "sector": "retail",
        "merchant_group": "g",
        "amount": "1.00",
        "txn_count": 1,
    }
    items = [good, {**good, "event_id": "x", "district": "atlantis"}, 7, {**good, "event_id": "h"}]
    batch = prepare(SALES, [Record(SALES.topic, 0, 5, orjson.dumps(items))], NOW, TOL)
    assert batch.accepted == 2 and batch.columns[0] == ["g", "h"]
    assert [(r.index, r.why.reason, orjson.loads(r.payload)) for r in batch.rejected] == [
        (1, "unknown_district", items[1]),
        (2, "malformed_json", 7),
    ]
    (row,) = batch.ingest_rows()
    assert row[4:7] == (1, 2, 2)  # one record, two events accepted, two refused
    empty = prepare(SALES, [Record(SALES.topic, 0, 6, b"[]")], NOW, TOL)
    assert [(r.index, r.why.reason) for r in empty.rejected] == [(-1, "malformed_json")]
