"""The landing path against the real engine: raw rows, rejections, and minute aggregates = raw."""

import asyncio
import random
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from support import sale

from schemas.feeds import FEEDS
from simulators.generate import bad_events, day_events
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.drill import OutageDrill
from streams.retry import Retrying
from streams.sink import ClickHouseSink

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOL = timedelta(minutes=5)


def _records(feed: str, events: list[dict], start_offset: int = 0) -> list[Record]:
    return [Record(FEEDS[feed].topic, 0, start_offset + i, orjson.dumps(e)) for i, e in enumerate(events)]


def _land(sink: ClickHouseSink, feed: str, records: list[Record], batch: int = 700) -> None:
    for i in range(0, len(records), batch):
        asyncio.run(sink.land(prepare(FEEDS[feed], records[i : i + batch], NOW, TOL)))


COMPARE = {
    "sales": (
        "SELECT district, sector, toStartOfMinute(event_time) m, sum(amount), sum(txn_count), count() "
        "FROM sales_raw FINAL GROUP BY ALL ORDER BY ALL",
        "SELECT district, sector, minute, amount, txn_count, events FROM sales_agg_1m FINAL ORDER BY ALL",
    ),
    "tourists": (
        "SELECT district, origin, toStartOfMinute(event_time) m, sum(arrivals), sum(spend), count() "
        "FROM tourists_raw FINAL GROUP BY ALL ORDER BY ALL",
        "SELECT district, origin, minute, arrivals, spend, events FROM tourists_agg_1m FINAL ORDER BY ALL",
    ),
    "footfall": (
        "SELECT district, toStartOfMinute(event_time) m, sum(entries), sum(exits), count() "
        "FROM footfall_raw FINAL GROUP BY ALL ORDER BY ALL",
        "SELECT district, minute, entries, exits, events FROM footfall_agg_1m FINAL ORDER BY ALL",
    ),
}


@pytest.mark.parametrize("feed", list(FEEDS))
def test_aggregates_equal_raw_after_duplicates_and_out_of_order(store, store_dsn, feed):
    events = [e for f, e in day_events(load("baseline"), 11, date(2024, 10, 2), ["hongyadong", "daping"], [feed])]
    rng = random.Random(4)
    shuffled = events[:]
    rng.shuffle(shuffled)  # out of order across the whole day
    dupes = rng.sample(events, len(events) // 5)  # redelivered with new offsets
    sink = ClickHouseSink(store_dsn)
    # batches of 2000: each still holds minutes from all over the day, and each refreshes the whole day
    _land(sink, feed, _records(feed, shuffled), batch=2000)
    _land(sink, feed, _records(feed, dupes, start_offset=10**6), batch=2000)
    raw_sql, agg_sql = COMPARE[feed]
    raw, agg = store.query(raw_sql).result_rows, store.query(agg_sql).result_rows
    assert len(raw) > 100
    assert [tuple(r) for r in raw] == [tuple(r) for r in agg]
    assert store.query(f"SELECT count() FROM {FEEDS[feed].raw_table} FINAL").result_rows[0][0] == len(events)


def test_occupancy_is_running_entries_minus_exits_since_six_in_the_morning(store, store_dsn):
    days = (date(2024, 10, 3), date(2024, 10, 4))
    events = [e for d in days for _, e in day_events(load("baseline"), 2, d, ["shibati"], ["footfall"])]
    _land(ClickHouseSink(store_dsn), "footfall", _records("footfall", list(reversed(events))))
    rows = store.query(
        "SELECT toString(minute), entries, exits, occupancy FROM footfall_agg_1m FINAL "
        "WHERE district = 'shibati' ORDER BY minute"
    ).result_rows
    running, bday, closing = 0, None, None
    for minute, entries, exits, occupancy in rows:
        stamp = datetime.fromisoformat(minute)
        this_bday = (stamp - timedelta(hours=6)).date()  # the counters re-zero at 06:00
        if this_bday != bday:
            running, bday = 0, this_bday
        running += entries - exits
        assert occupancy == running, minute
        if this_bday == date(2024, 10, 3):  # a whole business day: nobody leaves before coming in
            assert running >= 0, minute
            closing = minute
    assert closing is not None and rows  # people inside at midnight stayed: the day ends empty at 06:00
    inside = {m: o for m, _, _, o in rows}
    assert inside[closing] == 0 and inside["2024-10-04 00:00:00"] > 0 and max(inside.values()) > 1000


def test_rejected_events_are_stored_with_payload_and_reason_once(store, store_dsn):
    bad = bad_events(load("baseline"), 7, date(2024, 10, 1), "sales", 10)
    records = [Record("retail.sales.v1", 1, 500 + i, payload) for i, (_, payload) in enumerate(bad)]
    sink = ClickHouseSink(store_dsn)
    asyncio.run(sink.land(prepare(FEEDS["sales"], records, NOW, TOL)))
    replayed = [Record(r.topic, 2, 9000 + i, r.value) for i, r in enumerate(records)]  # same bytes, new offsets
    asyncio.run(sink.land(prepare(FEEDS["sales"], replayed, NOW, TOL)))
    stored = store.query("SELECT reason, payload FROM rejected_events FINAL").result_rows
    assert sorted((r[0], r[1].encode()) for r in stored) == sorted(bad)
    assert store.query("SELECT count() FROM sales_raw").result_rows[0][0] == 0


def test_a_failing_store_is_retried_without_losing_the_batch(store, store_dsn):
    events = [e for _, e in day_events(load("baseline"), 3, date(2024, 10, 4), ["eling"], ["tourists"])][:50]
    sink = ClickHouseSink(store_dsn)
    drill = OutageDrill()
    drill.fail_for(0.5)  # every attempt within the next half second fails before it reaches the store
    asyncio.run(
        Retrying(sink, drill, max_backoff_s=0.05).land(
            prepare(FEEDS["tourists"], _records("tourists", events), NOW, TOL)
        )
    )
    assert sink.stats.write_errors >= 3 and not sink.stats.retrying and sink.stats.batches == 1
    assert "outage drill" in sink.stats.last_error
    assert store.query("SELECT count() FROM tourists_raw FINAL").result_rows[0][0] == len(events)


def test_one_attempt_raises_and_counts_nothing(store, store_dsn):
    """The sink writes once: a store error reaches the caller, and the batch is not counted as landed."""
    events = [e for _, e in day_events(load("baseline"), 3, date(2024, 10, 4), ["eling"], ["sales"])][:5]
    sink = ClickHouseSink(store_dsn.split("?")[0] + "?database=never_migrated")  # the store refuses
    with pytest.raises(Exception):  # noqa: B017 - whatever the store raises reaches the caller
        asyncio.run(sink.land(prepare(FEEDS["sales"], _records("sales", events), NOW, TOL)))
    assert sink.stats.batches == 0 and not sink.stats.landed


LEVELS = {
    "sales": [
        (
            "SELECT district, sector, toStartOfHour(event_time) b, sum(amount), sum(txn_count) FROM sales_raw FINAL "
            "GROUP BY ALL ORDER BY ALL",
            "SELECT district, sector, hour, amount, txn_count FROM sales_hourly FINAL ORDER BY ALL",
        ),
        (
            "SELECT district, sector, toDate(event_time) b, sum(amount), sum(txn_count) FROM sales_raw FINAL "
            "GROUP BY ALL ORDER BY ALL",
            "SELECT district, sector, day, amount, txn_count FROM sales_daily FINAL ORDER BY ALL",
        ),
        (
            "SELECT district, sector, toStartOfMonth(event_time) b, sum(amount), sum(txn_count) FROM sales_raw FINAL "
            "GROUP BY ALL ORDER BY ALL",
            "SELECT district, sector, month, amount, txn_count FROM sales_monthly FINAL ORDER BY ALL",
        ),
    ],
    "footfall": [
        (
            "SELECT district, toDate(event_time) b, sum(entries), sum(exits) FROM footfall_raw FINAL "
            "GROUP BY ALL ORDER BY ALL",
            "SELECT district, day, entries, exits FROM footfall_daily FINAL ORDER BY ALL",
        ),
        (
            "SELECT district, toStartOfMonth(event_time) b, sum(entries), sum(exits) FROM footfall_raw FINAL "
            "GROUP BY ALL ORDER BY ALL",
            "SELECT district, month, entries, exits FROM footfall_monthly FINAL ORDER BY ALL",
        ),
        (
            "SELECT district, toDate(minute) d, max(occupancy) FROM footfall_agg_1m FINAL GROUP BY ALL ORDER BY ALL",
            "SELECT district, day, peak_occupancy FROM footfall_daily FINAL ORDER BY ALL",
        ),
    ],
    "tourists": [
        (
            "SELECT district, origin, toDate(event_time) b, sum(arrivals), sum(spend) FROM tourists_raw FINAL "
            "GROUP BY ALL ORDER BY ALL",
            "SELECT district, origin, day, arrivals, spend FROM tourists_daily FINAL ORDER BY ALL",
        ),
        (
            "SELECT district, origin, toStartOfMonth(event_time) b, sum(arrivals), sum(spend) FROM tourists_raw FINAL "
            "GROUP BY ALL ORDER BY ALL",
            "SELECT district, origin, month, arrivals, spend FROM tourists_monthly FINAL ORDER BY ALL",
        ),
    ],
}


@pytest.mark.parametrize("feed", list(FEEDS))
def test_every_rollup_level_equals_raw_across_a_month_boundary(store, store_dsn, feed):
    events = [
        e
        for day in (date(2024, 9, 30), date(2024, 10, 1))
        for _, e in day_events(load("baseline"), 5, day, ["eling", "hualongqiao"], [feed])
    ]
    rng = random.Random(9)
    rng.shuffle(events)
    sink = ClickHouseSink(store_dsn)
    _land(sink, feed, _records(feed, events), batch=1500)
    _land(sink, feed, _records(feed, rng.sample(events, 300), start_offset=10**6), batch=100)  # redeliveries
    for raw_sql, rollup_sql in LEVELS[feed]:
        raw, rollup = store.query(raw_sql).result_rows, store.query(rollup_sql).result_rows
        assert len(raw) >= 2
        assert [tuple(r) for r in raw] == [tuple(r) for r in rollup], rollup_sql


def test_the_store_reads_each_field_as_python_would(store, store_dsn):
    """ClickHouse parses the validated JSON: integral floats, escapes, zone offsets, fractions, defaults."""
    base = sale(amount="1.05", txn_count=2)
    events = [
        {**base, "event_id": "float-count", "txn_count": 3.0},
        {**base, "event_id": "escapes", "merchant_group": '中文 "q" \\ \u0001 tab\t'},
        {**base, "event_id": "utc-fraction", "event_time": "2024-10-01T04:00:59.999999Z"},
        {**base, "event_id": "west", "event_time": "2024-10-01T12:00:00-05:30", "channel": "delivery", "source": "s"},
        {**base, "event_id": "padded", "amount": "00012.5"},
    ]
    batch = prepare(FEEDS["sales"], [Record(FEEDS["sales"].topic, 3, 42, orjson.dumps(events))], NOW, TOL)
    assert batch.accepted == len(events) and not batch.rejected
    asyncio.run(ClickHouseSink(store_dsn).land(batch))
    got = {
        r[0]: r[1:]
        for r in store.query(
            "SELECT event_id, toUnixTimestamp64Milli(event_time), merchant_group, channel, amount, txn_count, source, "
            "kafka_partition, kafka_offset FROM sales_raw FINAL"
        ).result_rows
    }
    want = dict(zip(batch.column_names, batch.raw_columns(), strict=True))  # the same events as Python reads them
    for i, event_id in enumerate(want["event_id"]):
        expected = (
            int(want["event_time"][i].timestamp() * 1000),
            *(want[c][i] for c in ("merchant_group", "channel", "amount", "txn_count", "source")),
            3,
            42,
        )
        assert got[event_id] == expected, event_id


def test_each_statement_of_a_write_takes_the_lock_alone_raw_rows_first(store, store_dsn):
    """Another feed's raw rows may land between this batch's statements (the lock is free between them);
    every statement runs under the lock, and only the raw rows' statement is urgent."""
    sink = ClickHouseSink(store_dsn)
    sink.call(lambda c: None)
    lock, held, taken = sink._lock, [], []
    hold = lock.hold

    def counting_hold(urgent=False, **kwargs):
        taken.append(urgent)
        return hold(urgent, **kwargs)

    lock.hold = counting_hold
    client = sink._ensure()
    real_command, real_insert = client.command, client.insert
    client.command = lambda *a, **k: held.append(lock._busy) or real_command(*a, **k)
    client.insert = lambda *a, **k: held.append(lock._busy) or real_insert(*a, **k)
    events = [e for _, e in day_events(load("baseline"), 11, date(2024, 10, 2), ["daping"], ["sales"])][:50]
    sink.write(prepare(FEEDS["sales"], _records("sales", events), NOW, TOL))
    levels = len(FEEDS["sales"].levels)
    assert taken == [True, False] + [False] * levels  # raw rows, ingest rows, one refresh per level
    assert len(held) == len(taken) and all(held)


def test_urgent_callers_of_the_writer_lock_go_first():
    """A waiting refresh yields to raw rows that came after it; without urgent waiters it goes next."""
    import threading
    import time

    from streams.sink import WriterLock

    lock, order = WriterLock(), []

    def take(name: str, urgent: bool) -> threading.Thread:
        def run():
            with lock.hold(urgent):
                order.append(name)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    with lock.hold():
        refresh = take("refresh", False)
        time.sleep(0.2)  # the refresh waits first
        raw = take("raw", True)
        deadline = time.monotonic() + 10
        while lock._urgent == 0 and time.monotonic() < deadline:  # until the raw rows wait too
            time.sleep(0.01)
    for thread in (refresh, raw):
        thread.join(5)
    assert order == ["raw", "refresh"]
    with lock.hold():
        later = take("refresh again", False)
        time.sleep(0.1)
    later.join(5)
    assert order[-1] == "refresh again"


def test_a_write_records_its_path_in_order_and_names_what_held_the_lock(store, store_dsn):
    """Each ingest row holds its batch's path: record time ≤ first arrival ≤ taken ≤ prepared ≤ write queued ≤
    lock taken ≤ raw rows landed ≤ the ingest row landed, the raw rows' ingested_at inside the raw statement, and
    the statements that held the writer's lock while the write waited for it."""
    import threading
    import time

    sink = ClickHouseSink(store_dsn)
    sink.call(lambda c: None)
    events = [e for _, e in day_events(load("baseline"), 11, date(2024, 10, 2), ["daping"], ["sales"])][:20]
    sent = time.time() - 1.0  # the producer created the records a second ago
    records = [Record(FEEDS["sales"].topic, 5, 700 + i, orjson.dumps(e), sent + i / 1000) for i, e in enumerate(events)]
    taken = time.time()
    batch = prepare(FEEDS["sales"], records, NOW, TOL)
    batch.arrived_at, batch.taken_at, batch.prepared_at = sent + 0.5, taken, time.time()
    holding, release = threading.Event(), threading.Event()

    def refresh(client):  # another feed's statement holds the lock when the write begins
        holding.set()
        release.wait(10)

    other = threading.Thread(target=sink.call, args=(refresh, False, "footfall_agg_1m"))
    other.start()
    holding.wait(10)
    threading.Timer(0.2, release.set).start()
    sink.write(batch)
    other.join(10)
    row = store.query(
        "SELECT min_record_time, max_record_time, first_arrived_at, taken_at, prepared_at, write_queued_at, "
        "write_started_at, raw_landed_at, landed_at, lock_held_by FROM ingest_batches WHERE kafka_partition = 5"
    ).named_results()
    (row,) = list(row)
    path = [row[c].timestamp() for c in list(row)[:9]]
    assert path == sorted(path) and path[0] > 0, dict(row)
    assert path[:5] == pytest.approx([sent, sent + 0.019, sent + 0.5, taken, batch.prepared_at], abs=1e-3)
    assert row["lock_held_by"].split(", ")[0].startswith("footfall_agg_1m ")
    ingested = store.query(
        "SELECT min(toUnixTimestamp64Milli(ingested_at)), max(toUnixTimestamp64Milli(ingested_at)) FROM sales_raw "
        "WHERE kafka_partition = 5"
    ).result_rows[0]
    started, landed = (round(row[c].timestamp() * 1000) for c in ("write_started_at", "raw_landed_at"))
    assert started - 1 <= ingested[0] <= ingested[1] <= landed + 1  # within the raw statement, to the millisecond


def test_the_worker_lands_every_kind_of_row_without_importing_pandas(tmp_path):
    """clickhouse-connect's insert imports pandas to test for a DataFrame; the worker declares it absent
    (``insert_without_pandas``) and still lands raw rows, refusals, ingest rows and rollups."""
    import subprocess
    import sys

    script = """
import asyncio, sys
from datetime import date, datetime, timedelta, UTC
import orjson
from schemas.feeds import FEEDS
from simulators.generate import bad_events, day_events
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.sink import ClickHouseSink, insert_without_pandas
from yzcore.migrate import migrate
from yzcore.store import connect

insert_without_pandas()
dsn = "chdb://" + sys.argv[1]
migrate(connect(dsn))
good = [orjson.dumps(e) for _, e in day_events(load("baseline"), 3, date(2024, 10, 2), ["daping"], ["sales"])][:300]
bad = [payload for _, payload in bad_events(load("baseline"), 3, date(2024, 10, 2), "sales", 5)]
records = [Record("retail.sales.v1", 0, i, value) for i, value in enumerate(good + bad)]
now = datetime(2026, 11, 23, tzinfo=UTC)
asyncio.run(ClickHouseSink(dsn).land(prepare(FEEDS["sales"], records, now, timedelta(minutes=5))))
store = connect(dsn)
counts = [store.query(f"SELECT count() FROM {t}").result_rows[0][0] for t in
          ("sales_raw", "rejected_events", "ingest_batches", "sales_agg_1m")]
print(orjson.dumps({"pandas": "pandas" in sys.modules, "counts": counts}).decode())
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "store")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = orjson.loads(done.stdout.strip().splitlines()[-1])
    raw, rejected, ingest, minutes = out["counts"]
    assert (raw, rejected, ingest) == (300, 5, 1) and minutes > 0
    assert out["pandas"] is False
