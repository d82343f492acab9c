"""Figures that know their coverage: dashboards, alerts, status, the live view and the briefing over stores that cover
only part of a year, with data exactly on the seasonal model (tests/synthetic_store.py), so a correct pace reads 0 %.

- 15 January 08:00, data from 1 January: the pace reads about 0 % (the old "share at the end of today" read −7 %).
- Two weeks in November, nothing before: no figure reads as behind or zero because data is missing; last year is
  blank (—), completion is withheld, pace is judged on the covered days; the briefing says what it covers.
- Alerts evaluated on data that should and should not fire: feed silence per cadence, crowd bands, pace.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from clickhouse_connect.driver.client import Client
from synthetic_store import load_on_model

from schemas import reference
from yzcore.migrate import migrate
from yzcore.store import DirectReader, connect
from yzmon.grafana_macros import expand
from yzmon.live import summary
from yzmon.report import BRIEFING, chromium_path, panel_queries_at
from yzmon.status import coverage_line, describe_pace, pace_rows

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
ALERTS = ROOT / "deploy" / "grafana" / "provisioning" / "alerting" / "yzmon-alerts.yaml"
ZONE = ZoneInfo("Asia/Shanghai")
JAN_15 = datetime(2026, 1, 15, 8, 0, tzinfo=ZONE)
NOV_30 = datetime(2026, 11, 30, 15, 0, tzinfo=ZONE)  # two weeks of data: 16–30 November
MAR_15 = datetime(2026, 3, 15, 8, 0, tzinfo=ZONE)
_stores: dict[str, float] = {}  # database → the factor it holds
JAN_1 = datetime(2026, 1, 1, 8, 0, tzinfo=ZONE)


def store(chdb_dir: Path, first: date, now: datetime, factor: float = 1.0) -> Client:
    """A migrated database holding the on-model data from ``first`` to ``now`` at ``factor`` × the model.

    One database per stretch of days for the whole session; another factor reloads it (the rollups are
    ReplacingMergeTree by computed_at, so the newer load replaces every row)."""
    name = f"cov_{os.getpid()}_{first:%Y%m%d}_{now:%Y%m%d%H}"
    dsn = f"chdb://{chdb_dir}?database={name}"
    if _stores.get(name) != factor:
        connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE IF NOT EXISTS {name}")
        client = connect(dsn)
        if name not in _stores:
            migrate(client)
        load_on_model(client, first, now, factor)
        _stores[name] = factor
    return connect(dsn)


def panels(client: Client, at: datetime, names: list[str]) -> dict[tuple[str, str], dict[str, list[Any]]]:
    """Every panel of the dashboards as Grafana shows them opened at ``at``: (board, title) → column → values."""
    out = {}
    for board, panel, title, sql in panel_queries_at(DirectReader(client), at, [DASHBOARDS / n for n in names]):
        result = client.query(sql)
        out[(board["uid"], title)] = {
            c: [r[i] for r in result.result_rows] for i, c in enumerate(result.column_names)
        } | {"__type": [panel["type"]]}
    return out


def _first(values: dict[str, list[Any]], column: str) -> Any:
    return values[column][0]


# --- pace --------------------------------------------------------------------------------------------------------

PACE_PANELS = [
    ("yzmon-sales-targets", "社零进度状态(渝中区)"),
    ("yzmon-sales-targets", "年累计社零 vs 年度目标(渝中区)"),
    ("yzmon-overview", "年累计社零 vs 年度目标(渝中区)"),
    ("yzmon-footfall-live", "解放碑年累计客流 vs 年度目标 22050万人次"),
]
ALL_BOARDS = sorted(p.name for p in DASHBOARDS.glob("*.json"))


def test_pace_at_eight_on_15_january_on_the_model_reads_about_zero(chdb_dir: Path):
    client = store(chdb_dir, date(2026, 1, 1), JAN_15)
    got = panels(client, JAN_15, ["sales_targets.json", "overview.json", "footfall_live.json"])
    for key in PACE_PANELS:
        assert abs(_first(got[key], "进度偏差")) < 0.01 and _first(got[key], "进度") == "符合进度", key
    status = got[PACE_PANELS[0]]
    assert _first(status, "评估区间") == "01-01—01-14 共 14 天"  # today, not over, is left out
    # what the old panel computed at this moment: the year to date against the model's share at the end of today
    old = client.query(
        "SELECT 100 * ((SELECT toFloat64(sum(amount)) FROM sales_daily FINAL) / (1575e8 * "
        "(SELECT model_sales_share FROM dim_calendar FINAL WHERE day = '2026-01-15')) - 1)"
    ).result_rows[0][0]
    assert old < -2, f"the old pace read {old:.1f}%: 落后 on data exactly on the model"
    reader = DirectReader(client)
    for label, p in pace_rows(reader, JAN_15.date()):
        assert abs(float(p["gap_pct"])) < 0.01 and p["status"] == "符合进度" and int(p["days"]) == 14, label
        assert "符合进度 +0.0%" in describe_pace(label, p)


def test_a_store_below_the_model_reads_behind_by_that_much(chdb_dir: Path):
    """The same moment with every figure at 88 % of the model: 落后, and the gap as a number (−12 %)."""
    client = store(chdb_dir, date(2026, 1, 1), JAN_15, factor=0.88)
    got = panels(client, JAN_15, ["sales_targets.json"])
    status = got[PACE_PANELS[0]]
    assert _first(status, "进度") == "落后" and _first(status, "进度偏差") == pytest.approx(-12.0, abs=0.01)


def test_pace_starts_from_the_first_covered_day(chdb_dir: Path):
    client = store(chdb_dir, date(2026, 11, 16), NOV_30)
    got = panels(client, NOV_30, ["sales_targets.json", "overview.json", "footfall_live.json"])
    for key in PACE_PANELS:
        assert abs(_first(got[key], "进度偏差")) < 0.01 and _first(got[key], "进度") == "符合进度", key
    ytd = got[PACE_PANELS[1]]
    assert _first(ytd, "完成率") is None, "58亿 of 1575亿 is not a completion rate when 10½ months are missing"
    assert _first(ytd, "数据覆盖") == "11-16—11-30 共 15 天(未覆盖全年至今)"
    assert _first(got[PACE_PANELS[0]], "评估区间") == "11-16—11-29 共 14 天"
    reader = DirectReader(client)
    assert coverage_line(reader, 2026) == (
        "社零 11-16—11-30 15 天 · 客流 11-16—11-30 15 天 · 游客 11-16—11-30 15 天;2026-01-01 至 11-15 无数据"
    )


def test_no_complete_day_withholds_the_pace(chdb_dir: Path):
    """The first morning of a year (midnight to 08:00): a year to date, no pace."""
    client = store(chdb_dir, date(2026, 1, 1), JAN_15)
    got = panels(client, JAN_1, ["sales_targets.json"])  # seen at 08:00 on 1 January
    status = got[PACE_PANELS[0]]
    assert _first(status, "进度") == "暂不评估" and _first(status, "进度偏差") is None
    for _, p in pace_rows(DirectReader(client), JAN_1.date()):
        assert p["gap_pct"] is None and "暂不评估" in describe_pace("社零", p)


# --- nothing reads as behind or zero because data is missing --------------------------------------------------


def test_every_panel_over_a_partial_store_reads_nothing_as_behind_or_zero(chdb_dir: Path):
    """Two weeks of on-model data and nothing else: every panel of every business dashboard, as opened now."""
    client = store(chdb_dir, date(2026, 11, 16), NOV_30)
    got = panels(client, NOV_30, [n for n in ALL_BOARDS if n != "pipeline.json"])
    assert len(got) >= 35
    for (board, title), values in got.items():
        kind = values.pop("__type")[0]
        for column, cells in values.items():
            where = f"{board} / {title} / {column}"
            assert "落后" not in cells, where
            if "偏差" in column:
                assert all(c is None or abs(c) < 0.5 for c in cells), f"{where}: {cells}"
            if ("去年" in column or "同比" in column) and not column.endswith("日期"):
                assert all(c is None for c in cells), f"{where}: last year is not in the store: {cells}"
            if column == "完成率":
                assert cells == [None], where
            if kind == "stat":
                assert all(c != 0 for c in cells if isinstance(c, int | float)), f"{where}: {cells}"


def test_the_monthly_view_combines_january_and_february_and_states_its_coverage(chdb_dir: Path):
    client = store(chdb_dir, date(2026, 1, 1), MAR_15)
    got = panels(client, MAR_15, ["sales_targets.json"])
    month = got[("yzmon-sales-targets", "月度社零(统计局口径,1—2月合并)")]
    assert month["月份"] == ["1—2月", "3月"]
    assert month["覆盖"] == ["59/59 天", "15/31 天"]
    assert month["去年同期"] == [None, None] and month["同比"] == [None, None]
    share = client.query("SELECT model_sales_share FROM dim_calendar FINAL WHERE day = '2026-02-28'").result_rows[0][0]
    assert month["本期社零"][0] == pytest.approx(1575 * share, rel=1e-6)
    assert month["本年累计"][1] == pytest.approx(month["本期社零"][0] + month["本期社零"][1])


def test_the_live_view_says_what_the_data_covers(chdb_dir: Path):
    from rich.console import Console

    client = store(chdb_dir, date(2026, 11, 16), NOV_30)
    console = Console(width=400, record=True)
    console.print(summary(DirectReader(client), NOV_30.date()))
    text = console.export_text()
    assert "数据覆盖 2026: 社零 11-16—11-30 15 天" in text and "2026-01-01 至 11-15 无数据" in text
    assert "落后" not in text and "符合进度 +0.0%" in text


def test_the_briefing_of_a_two_week_store_says_what_it_covers(chdb_dir: Path, tmp_path: Path, monkeypatch):
    """`yzmon report` over two weeks of data, seen at 15:00 on the last day: the HTML, its PNG and its PDF open with
    what the data covers and read nothing as behind or zero."""
    import typer
    from typer.testing import CliRunner

    from yzmon import dashboards_cli

    if chromium_path() is None:
        pytest.fail("headless Chromium is required for the briefing PNG and PDF (make browser)")
    client = store(chdb_dir, date(2026, 11, 16), NOV_30)
    monkeypatch.setattr("yzcore.store.query_reader", lambda settings: DirectReader(client))
    monkeypatch.setattr("yzmon.report.datetime", _FrozenDatetime)  # "today" is 30 November, 15:00
    app = typer.Typer()
    app.command("report")(dashboards_cli.report)
    app.command("noop")(lambda: None)
    html, png, out = tmp_path / "b.html", tmp_path / "b.png", tmp_path / "b.pdf"
    args = ["report", "--date", "2026-11-30", "--out", str(html), "--png", str(png), "--pdf", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    briefing = html.read_text(encoding="utf-8")
    coverage = briefing[briefing.index('<p class="coverage"') : briefing.index("</p>", briefing.index('"coverage"'))]
    assert "社零 2026-11-16 至 2026-11-30(共 15 天)" in coverage
    assert "2026-01-01 至 2026-11-15 没有数据" in coverage and "完成率不显示" in coverage
    assert briefing.index('id="coverage"') < briefing.index("核心指标")
    assert "数据截至 2026-11-30 15:00" in briefing
    headline = briefing[briefing.index("核心指标") : briefing.index("<h2>社零目标追踪")]
    assert "落后" not in headline and "符合进度" in headline and "—(未覆盖全年)" in headline
    assert "0.00 亿元" not in briefing, "a missing last year reads —, not 0"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    data = out.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 50_000


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOV_30 if tz is None else NOV_30.astimezone(tz)


# --- alerts evaluated on data that should and should not fire ------------------------------------------------


def _rule(uid: str) -> dict[str, Any]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return next(r for g in doc["groups"] for r in g["rules"] if r["uid"] == uid)


def evaluate_rule(client: Client, uid: str, now: datetime) -> dict[tuple, dict[str, Any]]:
    """Grafana's evaluation at ``now``: each query over its relative range, string columns as labels, the numeric
    column as the value; each threshold expression applied to its input. instance labels → {refId: value or bool}."""
    rule = _rule(uid)
    values: dict[str, dict[tuple, float]] = {}
    for d in rule["data"]:
        if d["datasourceUid"] == "__expr__":
            continue
        span = timedelta(seconds=d["relativeTimeRange"]["from"])
        sql = expand(d["model"]["rawSql"], time_from=now - span, time_to=now, interval_s=60, variables={})
        result = client.query(sql)
        if not result.result_rows:
            values[d["refId"]] = {}
            continue
        rows = result.result_rows
        label_cols = [i for i in range(len(result.column_names)) if all(isinstance(r[i], str) for r in rows)]
        (value_col,) = [i for i in range(len(result.column_names)) if i not in label_cols]
        values[d["refId"]] = {
            tuple(r[i] for i in label_cols): float(r[value_col]) for r in result.result_rows if r[value_col] is not None
        }
    out: dict[tuple, dict[str, Any]] = {}
    for d in rule["data"]:
        if d["datasourceUid"] != "__expr__":
            continue
        evaluator = d["model"]["conditions"][0]["evaluator"]
        test = {"gt": lambda v, p: v > p, "lt": lambda v, p: v < p}[evaluator["type"]]
        for labels, v in values[d["model"]["expression"]].items():
            out.setdefault(labels, {})[d["refId"]] = test(v, evaluator["params"][0])
            out[labels][d["model"]["expression"]] = v
    return out


SILENCES = {  # minutes since each topic's last batch → (fires, severe)
    "retail.sales.v1": [(3, False, False), (12, False, False), (20, True, False), (40, True, True)],
    "footfall.counts.v1": [(14, False, False), (16, True, False)],
    "tourism.arrivals.v1": [(11, False, False), (14, False, False), (29, False, False), (50, True, False)],
}


@pytest.mark.parametrize("topic", sorted(SILENCES))
def test_the_feed_silent_alert_follows_each_feed_cadence(chdb_dir: Path, topic: str):
    """Tourism events come every 15 minutes: 11 or 29 minutes of silence is normal there (the old 10-minute rule
    fired about 5 minutes in every 15); per-minute feeds fire after 15 minutes."""
    client = store(chdb_dir, date(2026, 11, 16), NOV_30)
    for minutes, fires, severe in SILENCES[topic]:
        client.command("TRUNCATE TABLE ingest_batches")
        landed = NOV_30 - timedelta(minutes=minutes)
        client.command(
            "INSERT INTO ingest_batches (topic, kafka_partition, first_offset, last_offset, records, accepted, "
            "rejected, late, min_event_time, max_event_time, landed_at) VALUES "
            "({t:String}, 0, 0, 9, 10, 10, 0, 0, {at:DateTime64(3)}, {at:DateTime64(3)}, {at:DateTime64(3)})",
            parameters={"t": topic, "at": landed},
        )
        got = evaluate_rule(client, "yzmon-feed-silent", NOV_30)
        assert got[(topic,)]["C"] is fires and got[(topic,)]["D"] is severe, (topic, minutes, got[(topic,)])
        others = {k[0] for k, v in got.items() if v["C"]}
        assert others == ({topic} if fires else set()) | (set(SILENCES) - {topic}), "the silent ones fire"


def test_the_crowd_alert_uses_each_districts_bands(chdb_dir: Path):
    """At 15:00 every 商圈 with data has 6万 people inside, judged against its own bands from the reference file:
    解放碑 below its warning, the others past their critical."""
    client = store(chdb_dir, date(2026, 11, 16), NOV_30)
    got = evaluate_rule(client, "yzmon-crowd-density", NOV_30)
    by = {labels[1]: v for labels, v in got.items()}  # (district_zh, district)
    bands = reference.capacities()
    assert by["jiefangbei"]["C"] is False
    assert by["jiefangbei"]["A"] == pytest.approx(100 * 60_000 / bands["jiefangbei"].warning)
    others = {d: v for d, v in by.items() if d != "jiefangbei" and v["A"] > 0}
    assert others and all(v["C"] and v["D"] for v in others.values())
    assert all(v["A"] == pytest.approx(100 * 60_000 / bands[d].warning) for d, v in others.items())
    quiet = evaluate_rule(client, "yzmon-crowd-density", NOV_30.replace(hour=0, minute=20))  # 2,400 people
    assert not any(v["C"] for v in quiet.values())


@pytest.mark.parametrize(
    ("first", "now", "factor", "fires", "severe"),
    [
        (date(2026, 1, 1), JAN_15, 1.0, False, False),  # the morning of 15 January, on the model
        (date(2026, 11, 16), NOV_30, 1.0, False, False),  # two weeks in November, nothing before
        (date(2026, 1, 1), JAN_15, 0.93, True, False),  # 7 % behind
        (date(2026, 1, 1), JAN_15, 0.88, True, True),  # 12 % behind
    ],
)
def test_the_pace_alert(chdb_dir: Path, first: date, now: datetime, factor: float, fires: bool, severe: bool):
    client = store(chdb_dir, first, now, factor)
    got = evaluate_rule(client, "yzmon-sales-pace-behind", now)
    assert got[("district",)]["C"] is fires and got[("district",)]["D"] is severe
    assert got[("district",)]["A"] == pytest.approx(100 * (factor - 1), abs=0.01)
    withheld = evaluate_rule(store(chdb_dir, date(2026, 1, 1), JAN_15, factor), "yzmon-sales-pace-behind", JAN_1)
    assert withheld == {}, "no complete covered day: no data, and the rule's noDataState is OK"
    assert _rule("yzmon-sales-pace-behind")["noDataState"] == "OK"


def test_briefing_dashboards_exist():
    assert all((DASHBOARDS / n).exists() for n in BRIEFING)
