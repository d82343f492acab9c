"""推算社零: the library query nowcast over a drifting sample and the bureau's releases. A provider losing merchants
barely moves it, the 银联-shaped example alone reads as a plausible 社零, and the back-test keeps working."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from benchmarks.nowcast import backtest, load_store, summarise
from producers.files import Mapping, load_file
from schemas.feeds import FEEDS
from simulators.scenario import Outage, Sample
from yzcore.migrate import migrate
from yzcore.official import import_releases, parse_row
from yzcore.queries import get
from yzcore.store import DirectReader, connect, rows
from yzmon.nowcast_view import nowcast_rows

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "feeds"
_n = itertools.count()


def _fresh(chdb_dir: Path):
    name = f"nowcast{next(_n)}"
    connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE IF NOT EXISTS {name}")
    client = connect(f"chdb://{chdb_dir}?database={name}")
    migrate(client)
    return client


def rows_of(client, name: str, params: dict) -> list[dict]:
    return rows(DirectReader(client), get(name).sql, params)


def _estimates(client, as_of: date) -> dict[str, float]:
    return {r["period"]: float(r["estimate"]) for r in nowcast_rows(DirectReader(client), as_of)}


def test_a_provider_losing_a_fifth_of_its_merchants_for_a_month_moves_the_estimate_by_under_one_percent(chdb_dir):
    steady, broken = _fresh(chdb_dir), _fresh(chdb_dir)
    load_store(steady, 7, 2024, 2025, Sample(drift=False))
    load_store(broken, 7, 2024, 2025, Sample(drift=False, outages=(Outage(date(2025, 3, 1), date(2025, 3, 31), 0.2),)))
    for as_of in (date(2025, 3, 31), date(2025, 5, 31)):
        a, b = _estimates(steady, as_of), _estimates(broken, as_of)
        for period in ("quarter", "year"):
            assert abs(b[period] / a[period] - 1) < 0.01, (as_of, period, a, b)
    # the raw sample does fall: a fifth of the merchants is silent for March
    march = "SELECT toFloat64(sum(amount)) FROM sales_raw WHERE toMonth(event_time) = 3 AND toYear(event_time) = 2025"
    assert broken.query(march).result_rows[0][0] < 0.9 * steady.query(march).result_rows[0][0]


def test_the_estimate_is_judged_on_the_bureaus_release_and_a_new_basis_is_not_growth(chdb_dir):
    client = _fresh(chdb_dir)
    data = load_store(client, 7, 2024, 2025, Sample(drift=True))
    rows = {r["period"]: r for r in nowcast_rows(DirectReader(client), date(2025, 9, 30))}
    official = data["official"]
    assert float(rows["quarter"]["estimate"]) == pytest.approx(official[(2025, 9)], rel=0.015)
    assert float(rows["year"]["estimate"]) == pytest.approx(official[(2025, 12)], rel=0.02)
    assert rows["quarter"]["method"] == "sample" and int(rows["quarter"]["release_end_month"]) == 6
    assert float(rows["quarter"]["low"]) < float(rows["quarter"]["estimate"]) < float(rows["quarter"]["high"])
    # each release was reconciled with the nowcast of its period as it stood before publication
    history = client.query(
        "SELECT year, end_month, method, error_pct FROM nowcast_reconciliation FINAL WHERE basis = 'sim-tjj-7'"
        " ORDER BY year, end_month"
    ).result_rows
    assert [(y, e) for y, e, _, _ in history] == [(2025, 3), (2025, 6), (2025, 9), (2025, 12)]  # 2024 had no base
    assert all(m == "sample" for _, _, m, _ in history)
    assert abs(history[0][3]) < 3  # 1—3月: no bridge yet (no 2023 sample to compare 2024's release with)
    assert all(abs(err) < 1 for _, _, _, err in history[1:]), history
    # a later release on a new, wider basis (its level 30 % above the old one): a new series. Without a level a year
    # earlier on that basis it cannot carry the estimate, which stays on the old basis: the jump is never growth
    wider = dict(metric="retail_sales", scope="district", year=2025, period="1—9月", basis="wider")
    wider |= dict(level=f"{1.3 * official[(2025, 9)] / 1e8:.1f}", growth_pct="5.0", unit="亿元", published="2025-09-30")
    import_releases(client, [parse_row(wider | {"source": "t"})])
    again = {r["period"]: r for r in nowcast_rows(DirectReader(client), date(2025, 9, 30))}
    assert again["year"]["basis"] == rows["year"]["basis"] == "sim-tjj-7"
    assert again["year"]["estimate"] == rows["year"]["estimate"]


def test_the_unionpay_example_alone_gives_a_plausible_estimate_not_a_collapse(store):
    path = EXAMPLES / "sales_unionpay.csv"
    events = load_file(path, Mapping.load(path.with_name("sales_unionpay.mapping.yaml"), "sales")).events
    columns = list(FEEDS["sales"].column_names)
    store.insert(
        "sales_raw",
        [
            [
                datetime.fromisoformat(e[c]) if c == "event_time" else Decimal(e[c]) if c == "amount" else e[c]
                for c in columns
            ]
            for e in events
        ],
        column_names=columns,
    )
    rows = nowcast_rows(DirectReader(store), date(2024, 10, 2))
    year = next(r for r in rows if r["period"] == "year")
    # the seeds only: 1—6月 2023 645.7亿 (+3.2 %) grown along the seasonal curve to the year, × 1.032
    assert 1200e8 < float(year["estimate"]) < 1600e8
    assert year["method"] == "carry" and float(year["growth_pct"]) == pytest.approx(3.2)
    sample = store.query("SELECT toFloat64(sum(amount)) FROM sales_raw").result_rows[0][0]
    assert sample < 1e6  # the file holds one minute of sales: its sum is a sample, not 社零


def test_the_back_test_runs_at_a_tiny_size(chdb_dir):
    result = backtest(_fresh(chdb_dir), seed=7, first=2024, last=2025, progress=False)
    summary = summarise(result)
    end = summary["table"]["quarter@3"]
    assert summary["quarters"] == 4
    assert end["nowcast"] < end["ratio"]  # comparable growth beats the raw sample × a fixed ratio
    assert set(summary["p90"]) >= {("quarter", "sample", 3), ("year", "sample", 9)}


def test_the_pace_alert_judges_the_estimate_not_the_sample(chdb_dir):
    """A sample covering a fifth of 社零 would read as −80 % against the target; the alert reads the estimate."""
    import yaml

    from yzmon.grafana_macros import expand

    client = _fresh(chdb_dir)
    load_store(client, 7, 2024, 2025, Sample(drift=True))
    districts = [r[0] for r in client.query("SELECT district FROM dim_district FINAL").result_rows]
    client.insert(  # two fully covered days of a small sample in the rollup the raw pace reads
        "sales_daily",
        [
            (date(2025, 9, d), k, "retail", Decimal("1000000.00"), 1, datetime(2025, 10, 1))
            for d in (28, 29)
            for k in districts
        ],
        column_names=["day", "district", "sector", "amount", "txn_count", "computed_at"],
    )
    path = (
        Path(__file__).resolve().parent.parent
        / "deploy"
        / "grafana"
        / "provisioning"
        / "alerting"
        / "yzmon-alerts.yaml"
    )
    rules = [r for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"] for r in g["rules"]]
    (rule,) = [r for r in rules if r["uid"] == "yzmon-sales-pace-behind"]
    now = datetime(2025, 9, 30, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    sql = expand(rule["data"][0]["model"]["rawSql"], time_from=now, time_to=now, interval_s=60, variables={})
    ((scope, gap),) = client.query(sql).result_rows
    (year,) = [r for r in nowcast_rows(DirectReader(client), date(2025, 9, 29)) if r["period"] == "year"]
    assert scope == "district" and gap == pytest.approx(float(year["target_gap_pct"]))
    assert gap > -5  # the raw sample's pace would be about −100 %


def test_visitors_are_estimated_from_the_counted_gates_against_the_published_count(chdb_dir):
    from simulators.generate import events_of
    from simulators.sample import visit_releases
    from simulators.scenario import load, with_sample

    client = _fresh(chdb_dir)
    import_releases(client, [parse_row(r) for r in visit_releases(7, range(2024, 2026))])
    scenario = with_sample(load("baseline"), "acquirer")  # counters on some gates only
    columns = list(FEEDS["footfall"].column_names)
    days = [date(y, 9, 2) + timedelta(days=i) for y in (2024, 2025) for i in range(14)]  # two weeks: rain evens out
    events = [
        e
        for day in days
        for d in ("jiefangbei", "hongyadong", "shibati")
        for e in events_of("footfall", scenario, 7, day, d)
    ]
    client.insert(
        "footfall_raw",
        [[datetime.fromisoformat(e[c]) if c == "event_time" else e[c] for c in columns] for e in events],
        column_names=columns,
    )
    rows = {
        r["period"]: r for r in rows_of(client, "visits_nowcast", {"as_of": date(2025, 9, 15), "scope": "jiefangbei"})
    }
    published = {int(r["period"]): float(r["level"]) * 1e4 for r in visit_releases(7, range(2025, 2026))}
    assert rows["quarter"]["method"] == "sample" and 0 < int(rows["quarter"]["gates"]) < 15  # not every gate counts
    assert float(rows["quarter"]["estimate"]) == pytest.approx(published[9], rel=0.02)
    assert float(rows["year"]["estimate"]) == pytest.approx(published[12], rel=0.03)
    sample = client.query("SELECT sum(entries) FROM footfall_raw WHERE toYear(event_time) = 2025").result_rows[0][0]
    assert sample < 0.05 * published[9]  # a fortnight at some gates is a sample of 客流
