"""Grafana dashboards: static checks of the JSON, the macro expander, and every panel query run on chDB.

The engine tests load one simulated day (2024-10-01, baseline, seed 7) into raw and minute-aggregate tables,
expand each panel's SQL as Grafana and grafana-clickhouse-datasource would, run it, and check the shape the
panel needs and the numbers against totals computed in Python from the same events.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from schemas.feeds import FEEDS
from schemas.reference import districts
from simulators.generate import day_events
from simulators.model import MODELS
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.sink import ClickHouseSink
from yzcore.migrate import migrate
from yzcore.settings import Settings
from yzcore.store import connect
from yzmon.grafana_macros import ALL, MacroError, expand

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "yzmon-clickhouse"}
ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2024, 10, 1)
DAY_FROM = datetime(2024, 10, 1, tzinfo=ZONE)  # Grafana "today": now/d .. now/d
DAY_TO = datetime(2024, 10, 1, 23, 59, 59, 999000, tzinfo=ZONE)
AFTERNOON = datetime(2024, 10, 1, 15, 0, tzinfo=ZONE)
COUNTERS_RESET = datetime(2024, 10, 1, 6, 0, tzinfo=ZONE)  # occupancy re-zeroes at 06:00
BACKEND_MACROS = (
    "timeFilter",
    "timeFilter_ms",
    "dateFilter",
    "dateTimeFilter",
    "dt",
    "timeInterval",
    "timeInterval_ms",
    "fromTime",
    "toTime",
    "fromTime_ms",
    "toTime_ms",
    "interval_s",
)
NUMBER = (int, float, Decimal)
# a calendar function and its arguments (one level of nested brackets): each must name the Beijing zone
DAY_FUNCTION = re.compile(
    r"\b(toStartOfDay|toDate|toStartOfYear|toYear|toStartOfMonth|toStartOfWeek)"
    r"\(([^()]*(?:\([^()]*\))?[^()]*)\)"
)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, rawSql) of every panel target and query variable."""
    for panel in _panels(dashboard["panels"]):
        for t in panel.get("targets", []):
            yield f"panel {panel['title']!r} {t['refId']}", t["rawSql"]
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            yield f"variable {var['name']!r}", var["query"]["rawSql"]


OVERVIEW = _load(DASHBOARD_DIR / "overview.json")
PANELS = {p["title"]: p for p in _panels(OVERVIEW["panels"]) if p.get("targets")}
(DISTRICT_VARIABLE,) = [v for v in OVERVIEW["templating"]["list"] if v["name"] == "district"]


# --- the dashboard JSON ------------------------------------------------------------------------------------


def test_there_are_dashboards_with_unique_uids():
    assert DASHBOARDS, "no dashboards/*.json"
    uids = [_load(p).get("uid") for p in DASHBOARDS]
    assert all(uids), f"every dashboard needs a stable uid: {dict(zip(DASHBOARDS, uids, strict=True))}"
    assert len(set(uids)) == len(uids), f"duplicate uids: {uids}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_and_variable_uses_the_provisioned_clickhouse(path: Path):
    dashboard = _load(path)
    assert dashboard["schemaVersion"] >= 39 and dashboard["title"]
    for panel in _panels(dashboard["panels"]):
        if panel.get("type") == "row":
            continue
        assert panel.get("datasource", {}).get("uid") == "yzmon-clickhouse", panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for t in panel["targets"]:
            assert t["datasource"] == DATASOURCE, panel["title"]
            assert t["editorType"] == "sql" and t["refId"] and t["rawSql"].strip(), panel["title"]
            assert t["format"] in (0, 1), f"{panel['title']}: format is an integer (0 time series, 1 table)"
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            assert var["datasource"] == DATASOURCE, var["name"]
            assert var["query"]["editorType"] == "sql", var["name"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_queries_keep_commas_out_of_macro_arguments_and_days_in_beijing(path: Path):
    """Plugin v4.18 and older split macro arguments on every comma; $__dateFilter uses the server's zone."""
    for where, sql in _queries(_load(path)):
        for name in BACKEND_MACROS:
            for args in re.findall(rf"\$__{name}\(([^)]*)\)", sql):
                assert "," not in args, f"{where}: comma in $__{name}({args})"
        assert "$__dateFilter" not in sql and "$__dt(" not in sql, f"{where}: day boundaries must be Asia/Shanghai"
        for func, args in DAY_FUNCTION.findall(sql):
            assert "'Asia/Shanghai'" in args, f"{where}: {func}({args}) needs the Asia/Shanghai zone"
        for table in (
            "sales_agg_1m",
            "footfall_agg_1m",
            "tourists_agg_1m",
            "sales_raw",
            "footfall_raw",
            "tourists_raw",
            "targets",
            "dim_district",
        ):
            for tail in re.findall(rf"\b{table}\b(\s+\w+)?", sql):
                assert tail.strip() == "FINAL", f"{where}: read {table} with FINAL (or a v_* view)"


def test_overview_has_the_district_variable_and_the_panels():
    assert OVERVIEW["uid"] == "yzmon-overview" and OVERVIEW["timezone"] == "Asia/Shanghai"
    var = DISTRICT_VARIABLE
    assert var["type"] == "query" and var["multi"] and var["includeAll"]
    types = sorted(p["type"] for p in PANELS.values())
    assert types.count("stat") >= 2 and {"timeseries", "table"} <= set(types)
    assert len({p["id"] for p in PANELS.values()}) == len(PANELS)


# --- the macro expander ------------------------------------------------------------------------------------

F, T = 1727712000, 1727798399  # DAY_FROM, DAY_TO in Unix seconds


def _x(sql: str, interval_s: int = 300, **kw: Any) -> str:
    variables = kw.pop("variables", {"district": ["jiefangbei", "daping"]})
    return expand(sql, time_from=DAY_FROM, time_to=DAY_TO, interval_s=interval_s, variables=variables, **kw)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__timeFilter(minute)", f"minute >= toDateTime({F}) AND minute <= toDateTime({T})"),
        ("$__timeFilter( minute )", f"minute >= toDateTime({F}) AND minute <= toDateTime({T})"),
        (
            "$__timeFilter_ms(event_time)",
            f"event_time >= fromUnixTimestamp64Milli({F}000) AND event_time <= fromUnixTimestamp64Milli({T}999)",
        ),
        ("$__dateFilter(day)", "day >= toDate('2024-09-30') AND day <= toDate('2024-10-01')"),  # the UTC trap
        ("$__fromTime", f"toDateTime({F})"),
        ("$__toTime", f"toDateTime({T})"),
        ("$__fromTime_ms < $__toTime_ms", f"fromUnixTimestamp64Milli({F}000) < fromUnixTimestamp64Milli({T}999)"),
        ("$__timeInterval(minute)", "toStartOfInterval(toDateTime(minute), INTERVAL 300 second)"),
        ("$__interval_s", "300"),
        ("$__timeFilter(toDateTime(x))", f"toDateTime(x) >= toDateTime({F}) AND toDateTime(x) <= toDateTime({T})"),
        (
            "$__timeFilter(a) OR $__timeFilter_ms(a)",
            f"a >= toDateTime({F}) AND a <= toDateTime({T}) OR "
            f"a >= fromUnixTimestamp64Milli({F}000) AND a <= fromUnixTimestamp64Milli({T}999)",
        ),
        ("$__unknownMacro(x)", "$__unknownMacro(x)"),
    ],
)
def test_backend_macros(sql: str, expected: str):
    assert _x(sql) == expected


def test_date_filter_formats_in_the_grafana_server_zone():
    assert _x("$__dateFilter(day)", date_zone=ZONE) == "day >= toDate('2024-10-01') AND day <= toDate('2024-10-01')"


def test_interval_is_at_least_one_second():
    expected = "1 toStartOfInterval(toDateTime(m), INTERVAL 1 second)"
    assert _x("$__interval_s $__timeInterval(m)", interval_s=0) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["$__all"], "WHERE 1=1"),
        ("$__all", "WHERE 1=1"),
        ([], "WHERE 1=1"),
        (["jiefangbei"], "WHERE district IN ('jiefangbei')"),
        (["jiefangbei", "daping"], "WHERE district IN ('jiefangbei','daping')"),
    ],
)
def test_conditional_all(value: Any, expected: str):
    sql = "WHERE $__conditionalAll(district IN ($district), $district)"
    assert _x(sql, variables={"district": value}, all_values={"district": ["x"]}) == expected
    braces = "WHERE $__conditionalAll(district IN (${district}),${district})"
    assert _x(braces, variables={"district": value}, all_values={"district": ["x"]}) == expected


def test_conditional_all_of_an_unknown_variable_keeps_the_condition():
    assert _x("$__conditionalAll(a = 1, $nope)") == "a = 1"
    with pytest.raises(MacroError):
        _x("$__conditionalAll(a = 1)")


@pytest.mark.parametrize(
    ("sql", "variables", "all_values", "expected"),
    [
        ("IN ($district)", {"district": ["a", "b"]}, None, "IN ('a','b')"),
        ("IN (${district})", {"district": ["a"]}, None, "IN ('a')"),
        ("IN ([[district]])", {"district": ["a"]}, None, "IN ('a')"),
        ("= '$district'", {"district": "a"}, None, "= 'a'"),  # a single-value variable is inserted as it is
        ("IN (${district:csv})", {"district": ["a", "b"]}, None, "IN (a,b)"),
        ("IN (${district:sqlstring})", {"district": ["o'k"]}, None, "IN ('o''k')"),
        ("IN ($district)", {"district": [ALL]}, {"district": ["a", "b", "c"]}, "IN ('a','b','c')"),
        (
            "IN ($district)",
            {"district": [ALL]},
            {"district": "SELECT district FROM dim_district"},
            "IN (SELECT district FROM dim_district)",
        ),  # a custom all value is not formatted
        ("$districts $__timeFilter_x $other", {"district": ["a"]}, None, "$districts $__timeFilter_x $other"),
    ],
)
def test_template_variables(sql: str, variables: dict, all_values: dict | None, expected: str):
    assert _x(sql, variables=variables, all_values=all_values) == expected


@pytest.mark.parametrize("sql", ["$__timeFilter", "$__timeFilter(a, b)", "$__dateTimeFilter(d)", "$__timeFilter(a"])
def test_bad_macro_calls_are_refused(sql: str):
    with pytest.raises(MacroError):
        _x(sql)


def test_all_without_its_values_and_naive_times_are_refused():
    with pytest.raises(MacroError, match="all_values"):
        _x("IN ($district)", variables={"district": [ALL]})
    with pytest.raises(ValueError, match="aware"):
        expand("$__fromTime", time_from=datetime(2024, 10, 1), time_to=DAY_TO, interval_s=1, variables={})


# --- every query on the engine -----------------------------------------------------------------------------


class Day:
    """One simulated day loaded into a migrated store, with the truth computed from the events."""

    def __init__(self, client: Client, events: list[tuple[str, dict]]):
        self.client = client
        self.sales: dict[str, Decimal] = defaultdict(Decimal)
        self.txns: dict[str, int] = defaultdict(int)
        self.entries: dict[str, int] = defaultdict(int)
        self.afternoon_occupancy: dict[str, int] = defaultdict(int)
        self.night_occupancy: dict[str, int] = defaultdict(int)  # still inside at 23:59
        for feed, ev in events:
            d = ev["district"]
            if feed == "sales":
                self.sales[d] += Decimal(ev["amount"])
                self.txns[d] += ev["txn_count"]
            elif feed == "footfall":
                self.entries[d] += ev["entries"]
                t = datetime.fromisoformat(ev["event_time"])
                if t >= COUNTERS_RESET:  # occupancy counts from 06:00; earlier minutes close the night before
                    self.night_occupancy[d] += ev["entries"] - ev["exits"]
                    if t <= AFTERNOON:
                        self.afternoon_occupancy[d] += ev["entries"] - ev["exits"]
        # the options of the district variable, as Grafana loads them: what All stands for
        self.ids = [r[0] for r in client.query(DISTRICT_VARIABLE["query"]["rawSql"]).result_rows]
        self.names = {r[0]: r[1] for r in client.query("SELECT district, name_zh FROM dim_district FINAL").result_rows}

    def run(
        self,
        sql: str,
        selection: list[str],
        *,
        time_from: datetime = DAY_FROM,
        time_to: datetime = DAY_TO,
        interval_s: int = 300,
    ) -> tuple[list[str], list[tuple]]:
        expanded = expand(
            sql,
            time_from=time_from,
            time_to=time_to,
            interval_s=interval_s,
            variables={"district": selection},
            all_values={"district": self.ids},
        )
        result = self.client.query(expanded)
        return list(result.column_names), [tuple(r) for r in result.result_rows]

    def selected(self, selection: list[str]) -> list[str]:
        return self.ids if selection == [ALL] else selection


@pytest.fixture(scope="module")
def day(chdb_dir: Path) -> Day:
    """A fresh database in the session's chDB directory (one chDB path per process), loaded with the day."""
    name = "dashboards_day"
    connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE IF NOT EXISTS {name}")
    dsn = f"chdb://{chdb_dir}?database={name}"
    client = connect(dsn)
    migrate(client)
    events = day_events(load("baseline"), 7, DAY, list(MODELS))
    by_feed: dict[str, list[dict]] = defaultdict(list)
    for feed, ev in events:
        by_feed[feed].append(ev)
    sink = ClickHouseSink(dsn)  # the worker's own write path: raw rows and every rollup level
    now = datetime.now(UTC)
    for feed, evs in by_feed.items():
        for i in range(0, len(evs), 5000):
            records = [Record(FEEDS[feed].topic, 0, i + j, orjson.dumps(ev)) for j, ev in enumerate(evs[i : i + 5000])]
            asyncio.run(sink.land(prepare(FEEDS[feed], records, now, timedelta(minutes=5))))
    return Day(connect(dsn, readonly=True, settings=Settings()), events)  # panels run as Grafana's read-only user


SELECTIONS = {"all": [ALL], "one": ["jiefangbei"], "two": ["jiefangbei", "daping"]}
CASES = [(title, sel) for title in PANELS for sel in SELECTIONS]


def test_the_district_variable_query(day: Day):
    columns, rows = day.run(DISTRICT_VARIABLE["query"]["rawSql"], [ALL])
    assert len(columns) == 2, "value = district id, text = name_zh"
    assert {r[0]: r[1] for r in rows} == {d.id: d.name_zh for d in districts().values()}


def _numeric(rows: list[tuple], columns: list[str], skip: set[str]) -> None:
    for row in rows:
        for col, value in zip(columns, row, strict=True):
            if col not in skip:
                assert isinstance(value, NUMBER) and not isinstance(value, bool), f"{col}={value!r} is not numeric"


@pytest.mark.parametrize(("title", "selection"), CASES, ids=[f"{t}-{s}" for t, s in CASES])
def test_every_panel_returns_what_its_type_needs(day: Day, title: str, selection: str):
    panel = PANELS[title]
    chosen = SELECTIONS[selection]
    names = {day.names[d] for d in day.selected(chosen)}
    for target in panel["targets"]:
        columns, rows = day.run(target["rawSql"], chosen)
        assert rows, f"{title} ({selection}) returned no rows"
        assert len(set(columns)) == len(columns)
        if panel["type"] == "stat":
            assert len(rows) == 1
            text = {c for c, v in zip(columns, rows[0], strict=True) if isinstance(v, str)}
            _numeric(
                [tuple(v for c, v in zip(columns, rows[0], strict=True) if c not in text and v is not None)],
                [c for c, v in zip(columns, rows[0], strict=True) if c not in text and v is not None],
                set(),
            )
            assert rows[0][0] is not None and text <= {"目标来源", "进度", "数据覆盖"}
        elif target["format"] == 0:  # time series, long form: time, label, values
            assert isinstance(rows[0][0], datetime), columns
            labels = [c for c, v in zip(columns, rows[0], strict=True) if isinstance(v, str)]
            assert labels == ["name"] and {r[columns.index("name")] for r in rows} == names
            _numeric(rows, columns, {columns[0], "name"})
        else:  # bar gauge, bar chart, table: one row per 商圈 with its Chinese name
            assert "商圈" in columns
            # a crowd gauge's name carries the data age and counters reporting after " · "
            assert sorted(r[columns.index("商圈")].split(" · ")[0] for r in rows) == sorted(names)
            _numeric(rows, columns, {"商圈", "片区"})


def _one(day: Day, title: str, selection: list[str], **kw: Any) -> dict[str, list]:
    columns, rows = day.run(PANELS[title]["targets"][0]["rawSql"], selection, **kw)
    return {c: [r[i] for r in rows] for i, c in enumerate(columns)}


def _approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("selection", SELECTIONS.values(), ids=SELECTIONS.keys())
def test_today_sales_in_100m_yuan(day: Day, selection: list[str]):
    result = _one(day, "今日社零", selection)
    expected = sum(day.sales[d] for d in day.selected(selection))
    assert result["今日社零"] == [_approx(float(expected) / 1e8)]


def test_year_to_date_against_the_target(day: Day):
    """One day of data in October: the year to date is that day, but neither completion nor pace is claimed."""
    result = _one(day, "年累计社零 vs 年度目标(渝中区)", SELECTIONS["one"])  # the whole district, any selection
    ytd = float(sum(day.sales.values())) / 1e8
    assert result["年累计"] == [_approx(ytd)]
    assert result["年度目标"] == [_approx(1430.0)] and result["目标来源"] == ["已公布"]
    assert result["完成率"] == [None], "the store does not cover 1 January to today"
    assert result["进度偏差"] == [None] and result["进度"] == ["暂不评估(无完整覆盖的日)"]  # today is not complete
    assert result["数据覆盖"] == ["10-01—10-01 共 1 天(未覆盖全年至今)"]


def test_a_year_after_the_published_targets_carries_the_last_one_forward(day: Day):
    """2031: the last published target (2026, 1575亿) grown at its own rate (2026/2025 = 1.05) and marked 推算."""
    later = datetime(2031, 1, 2, tzinfo=ZONE)
    result = _one(day, "年累计社零 vs 年度目标(渝中区)", [ALL], time_from=later, time_to=later + timedelta(hours=1))
    assert result["年度目标"] == [pytest.approx(1575.0 * 1.05**5)] and result["目标来源"] == [
        "推算(按上年目标增速顺延)"
    ]
    assert result["完成率"] == [None] and result["年累计"] == [None]


def test_a_year_before_any_target_says_so(day: Day):
    early = datetime(2020, 6, 2, tzinfo=ZONE)
    result = _one(day, "年累计社零 vs 年度目标(渝中区)", [ALL], time_from=early, time_to=early + timedelta(hours=1))
    assert result["年度目标"] == [None] and result["目标来源"] == ["无目标"] and result["进度"] == ["无目标"]


@pytest.mark.parametrize("selection", SELECTIONS.values(), ids=SELECTIONS.keys())
def test_occupancy_is_the_latest_minute_of_the_beijing_day(day: Day, selection: list[str]):
    result = _one(day, "当前在场人数", selection, time_to=AFTERNOON)
    assert all(" · 刚刚 · 计数点 " in n for n in result["商圈"])  # fresh: every counter reported this minute
    got = dict(zip((n.split(" · ")[0] for n in result["商圈"]), result["在场人数"], strict=True))
    expected = {day.names[d]: day.afternoon_occupancy[d] / 1e4 for d in day.selected(selection)}
    assert got == {k: _approx(v) for k, v in expected.items()}
    assert all(v > 0 for v in got.values())
    assert set(result) == {"商圈", "在场人数", "正常", "预警", "严重", "刻度上限"}  # the bands travel with each row
    end_of_day = _one(day, "当前在场人数", selection)  # people inside at 23:59 stay inside past midnight
    got = dict(zip((n.split(" · ")[0] for n in end_of_day["商圈"]), end_of_day["在场人数"], strict=True))
    assert got == {day.names[d]: _approx(day.night_occupancy[d] / 1e4) for d in day.selected(selection)}
    assert all(v > 0 for v in got.values())


def test_footfall_of_the_day_in_10k_visits(day: Day):
    result = _one(day, "今日客流", [ALL])
    got = dict(zip(result["商圈"], result["今日客流"], strict=True))
    assert got == {day.names[d]: _approx(n / 1e4) for d, n in day.entries.items()}
    assert result["今日客流"] == sorted(result["今日客流"], reverse=True)


def test_the_next_beijing_day_is_empty(day: Day):
    """A range that is 'today' in UTC but the next day in Beijing sees none of the 2024-10-01 data."""
    start = datetime(2024, 10, 2, tzinfo=ZONE)
    _, rows = day.run(
        PANELS["今日客流"]["targets"][0]["rawSql"], [ALL], time_from=start, time_to=start + timedelta(hours=6)
    )
    assert rows == []


@pytest.mark.parametrize("selection", SELECTIONS.values(), ids=SELECTIONS.keys())
def test_sales_series_buckets_add_up(day: Day, selection: list[str]):
    result = _one(day, "社零走势(分商圈)", selection)
    assert sum(result["社零"]) == pytest.approx(float(sum(day.sales[d] for d in day.selected(selection))) / 1e4)
    times = {t if t.tzinfo else t.astimezone() for t in result["time"]}  # chDB returns naive process-zone times
    assert min(times) == DAY_FROM and all(t.timestamp() % 300 == 0 for t in times)


def test_a_one_day_time_interval_starts_at_eight_in_beijing(day: Day):
    """The trap that keeps day panels off $__timeInterval: second-based intervals are aligned to the epoch."""
    result = _one(day, "社零走势(分商圈)", [ALL], interval_s=86400)
    starts = {(t if t.tzinfo else t.astimezone()).astimezone(ZONE) for t in result["time"]}
    assert starts == {datetime(2024, 9, 30, 8, tzinfo=ZONE), datetime(2024, 10, 1, 8, tzinfo=ZONE)}


def test_ranking_table(day: Day):
    result = _one(day, "商圈今日社零排名", [ALL])
    assert result["排名"] == list(range(1, len(day.ids) + 1))
    assert result["今日社零"] == sorted(result["今日社零"], reverse=True)
    by_name = {day.names[d]: float(v) / 1e8 for d, v in day.sales.items()}
    assert dict(zip(result["商圈"], result["今日社零"], strict=True)) == {k: _approx(v) for k, v in by_name.items()}
    assert sum(result["占比"]) == pytest.approx(100)
    txns = {day.names[d]: n for d, n in day.txns.items()}
    assert dict(zip(result["商圈"], result["交易笔数"], strict=True)) == txns
    assert all(isinstance(a, str) and a for a in result["片区"])


@pytest.mark.parametrize("attack", ["jiefangbei') OR 1=1 OR district IN ('x", "x' OR '1'='1", "daping\\' OR 1=1 --"])
def test_a_crafted_district_value_never_widens_a_query(day: Day, attack: str):
    """Variables are rendered with ${var:sqlstring} (quotes doubled), so a value from a crafted
    dashboard URL matches no 商圈 (or, with a backslash, fails to parse) instead of widening the
    query; and the datasource user is read-only besides."""
    sql = PANELS["今日客流"]["targets"][0]["rawSql"]
    assert len(day.run(sql, ["jiefangbei"])[1]) == 1
    try:
        _, rows = day.run(sql, [attack])
    except Exception as exc:  # noqa: BLE001 - a syntax error is a refusal too
        assert "Syntax error" in str(exc)
        return
    assert rows == []
