"""The analyst query library runs on replayed data and returns its documented columns; pace and
holiday alignment are checked by hand."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from schemas.feeds import FEEDS
from simulators.generate import day_events
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.sink import ClickHouseSink
from yzcore.migrate import migrate
from yzcore.pace import expected_share
from yzcore.queries import QueryError, get, library
from yzcore.settings import Settings
from yzcore.store import DirectReader, connect, rows

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

DISTRICTS = ["daping", "hualongqiao", "eling"]
DAYS = [date(2023, 10, 1), date(2023, 10, 2), date(2024, 9, 1), date(2024, 10, 1), date(2024, 10, 2)]
PARAMS = {
    "yoy_mom": {"month": "2024-10-01"},
    "sales_per_visitor": {"start": "2024-10-01", "end": "2024-10-03"},
    "night_share": {"start": "2024-10-01", "end": "2024-10-02"},
    "origin_mix": {"start": "2024-09-01", "end": "2024-11-01"},
    "holiday_vs_last_year": {"holiday": "national_day", "year": "2024"},
    "district_ranking": {"start": "2024-10-01", "end": "2024-10-03"},
    "pace_vs_target": {"day": "2024-10-02", "scope": "district", "metric": "retail_sales"},
    "coverage": {},
    "footfall_freshness": {"now": "2024-10-02 12:00:00"},
    "comparable_growth": {"from": "2024-10-01", "to": "2024-10-02"},
    "nowcast": {"as_of": "2024-10-02"},
    "visits_nowcast": {"as_of": "2025-06-01", "scope": "jiefangbei"},  # on the seed: 2024 超2亿人次
}


def _database(chdb_dir, name: str) -> str:
    connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE IF NOT EXISTS {name}")
    dsn = f"chdb://{chdb_dir}?database={name}"
    migrate(connect(dsn))
    return dsn


@pytest.fixture(scope="module")
def replayed(chdb_dir):
    dsn = _database(chdb_dir, "queries_replayed")
    sink = ClickHouseSink(dsn)
    now = datetime.now(UTC)
    for feed in FEEDS:
        events = [e for d in DAYS for _, e in day_events(load("baseline"), 3, d, DISTRICTS, [feed])]
        for i in range(0, len(events), 5000):
            chunk = [Record(FEEDS[feed].topic, 0, i + j, orjson.dumps(e)) for j, e in enumerate(events[i : i + 5000])]
            asyncio.run(sink.land(prepare(FEEDS[feed], chunk, now, timedelta(minutes=5))))
    return DirectReader(connect(dsn, readonly=True, settings=Settings()))


def test_every_query_is_documented_and_covered_here():
    assert set(library()) == set(PARAMS)
    for q in library().values():
        assert q.description and q.columns and set(q.params) == set(PARAMS[q.name])


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_each_query_runs_and_returns_its_documented_columns(replayed, name):
    q = get(name)
    data = json.loads(replayed.raw(q.sql, q.bind(PARAMS[name]), "JSON"))
    assert [c["name"] for c in data["meta"]] == list(q.columns)
    assert data["rows"] > 0


def test_holiday_days_align_and_match_the_raw_totals(replayed):
    q = get("holiday_vs_last_year")
    result = rows(replayed, q.sql, PARAMS["holiday_vs_last_year"])
    # 2024's seven-day 国庆 against 2023's eight-day 中秋国庆 (9-29 to 10-06), by day of holiday.
    assert [r["holiday_day"] for r in result] == list(range(1, 9))
    assert [(r["day"], r["last_year_day"]) for r in (result[0], result[2], result[7])] == [
        ("2024-10-01", "2023-09-29"),
        ("2024-10-03", "2023-10-01"),
        (None, "2023-10-06"),
    ]
    raw = {
        r["d"]: Decimal(str(r["a"]))
        for r in rows(
            replayed, "SELECT toString(toDate(event_time)) AS d, sum(amount) AS a FROM sales_raw FINAL GROUP BY d"
        )
    }
    assert Decimal(str(result[0]["amount"])) == raw["2024-10-01"]
    assert Decimal(str(result[2]["last_year_amount"])) == raw["2023-10-01"]
    assert result[2]["amount"] == 0  # 2024-10-03 was not replayed
    assert result[7]["amount_change_pct"] is None  # day 8 has no counterpart in 2024
    assert (result[0]["days"], result[0]["last_year_days"]) == (7, 8)
    this = sum(Decimal(str(r["amount"])) for r in result) / 7
    last = sum(Decimal(str(r["last_year_amount"])) for r in result) / 8
    assert float(result[0]["avg_amount_change_pct"]) == pytest.approx(
        float(round(100 * (this / last - 1), 2)), abs=0.01
    )


def test_bad_parameters_name_what_the_query_takes():
    with pytest.raises(QueryError, match="takes --param start:Date, end:Date; missing end"):
        get("district_ranking").bind({"start": "2024-10-01"})
    with pytest.raises(QueryError, match="no query 'nope'"):
        get("nope")


@pytest.fixture
def pace_store(store_dsn):
    client = connect(store_dsn)

    districts = [r[0] for r in client.query("SELECT district FROM dim_district FINAL").result_rows]

    def daily(day: date, yuan: float) -> None:
        """Every 商圈 reports the day (a fully covered day), ``yuan`` in all."""
        client.insert(
            "sales_daily",
            [(day, d, "retail", Decimal(round(yuan / len(districts), 2)), 1, datetime.now(UTC)) for d in districts],
            column_names=["day", "district", "sector", "amount", "txn_count", "computed_at"],
        )

    return DirectReader(connect(store_dsn, readonly=True, settings=Settings())), daily


def _pace(reader, day: str) -> dict:
    row = rows(reader, get("pace_vs_target").sql, {"day": day, "scope": "district", "metric": "retail_sales"})[0]
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def test_pace_without_history_uses_the_model_curve(pace_store):
    reader, daily = pace_store
    day = date(2025, 1, 1)
    while day <= date(2025, 6, 30):  # every day at 90 % of the model's share of the 1500亿 target
        before = expected_share(day - timedelta(days=1)) if day > date(2025, 1, 1) else 0.0
        daily(day, 0.9 * 1500e8 * (expected_share(day) - before))
        day += timedelta(days=1)
    p = _pace(reader, "2025-06-30")
    assert p["curve"] == "model" and p["target"] == 150_000_000_000 and p["days"] == 181
    assert p["expected_share"] == pytest.approx(expected_share(date(2025, 6, 30)), abs=1e-6)
    assert p["gap_pct"] == pytest.approx(-10, abs=0.01) and p["status"] == "落后"


def test_pace_is_judged_on_covered_days_only(pace_store):
    """A store from 16 November: on the model from there, so on pace; a lone 商圈's day does not count."""
    reader, daily = pace_store
    day = date(2025, 11, 16)
    while day <= date(2025, 11, 29):
        daily(day, 1500e8 * (expected_share(day) - expected_share(day - timedelta(days=1))))
        day += timedelta(days=1)
    p = _pace(reader, "2025-11-29")
    assert p["days"] == 14 and (p["first_day"], p["last_day"]) == ("2025-11-16", "2025-11-29")
    assert p["gap_pct"] == pytest.approx(0, abs=0.01) and p["status"] == "符合进度"
    early = _pace(reader, "2025-11-15")
    assert early["gap_pct"] is None and early["status"] == "暂不评估" and early["days"] == 0


def test_pace_with_a_full_last_year_uses_its_curve(pace_store):
    reader, daily = pace_store
    day = date(2024, 1, 1)
    while day.year == 2024:  # an even last year: every day 1亿, so 1 July 2024 is day 183 of 366
        daily(day, 100_000_000)
        day += timedelta(days=1)
    day = date(2025, 1, 1)
    while day <= date(2025, 7, 2):  # 750亿 over days 1..183 of 2025, evenly
        daily(day, 750e8 / 183)
        day += timedelta(days=1)
    p = _pace(reader, "2025-07-02")  # day 183 of 2025
    assert p["curve"] == "last_year"
    assert p["expected_share"] == pytest.approx(183 / 366, abs=1e-6)
    assert p["expected"] == pytest.approx(1500e8 * 183 / 366, rel=1e-9)
    assert p["gap"] == pytest.approx(750e8 - 750e8, abs=100)
    assert p["status"] == "符合进度"


def test_comparable_growth_of_a_census_is_the_growth_of_the_same_days(replayed):
    """Every merchant group of the census reports in both years, so comparable growth is the raw growth."""
    got = {r["sector"]: r for r in rows(replayed, get("comparable_growth").sql, PARAMS["comparable_growth"])}
    raw = rows(
        replayed,
        "SELECT sector, toFloat64(sumIf(amount, toYear(day) = 2024)) / toFloat64(sumIf(amount, toYear(day) = 2023))"
        " AS r"
        " FROM sales_daily FINAL WHERE (day BETWEEN '2024-10-01' AND '2024-10-02') OR (day BETWEEN '2023-10-01' AND"
        " '2023-10-02') GROUP BY sector",
    )
    assert raw and {r["sector"] for r in raw} | {""} == set(got)
    for r in raw:
        assert float(got[r["sector"]]["growth_pct"]) == pytest.approx(100 * (float(r["r"]) - 1), abs=0.01)
        assert float(got[r["sector"]]["amount"]) == pytest.approx(float(got[r["sector"]]["sample_amount"]), rel=1e-9)
