"""Every dashboard in dashboards/ and every provisioned alert rule: structure for the pinned Grafana, and every
panel, variable and alert query run on chDB after macro expansion, for each template-variable value (All included).

Data: two days of the 国庆 holiday in 2023 and 2024 for three 商圈, landed through the worker's sink (raw tables,
minute aggregates, all rollups, ingest_batches with late events, rejected_events).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grafana_fields
import pytest
import yaml
from clickhouse_connect.driver.client import Client
from support import loaded_dsn

from schemas import reference
from schemas.feeds import FEEDS
from yzcore.settings import Settings
from yzcore.store import connect
from yzmon.grafana_macros import ALL, expand

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
ALERTS = ROOT / "deploy" / "grafana" / "provisioning" / "alerting" / "yzmon-alerts.yaml"
COMPOSE = ROOT / "docker-compose.yml"
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "yzmon-clickhouse"}
ZONE = ZoneInfo("Asia/Shanghai")
RANGE_FROM = datetime(2024, 10, 6, tzinfo=ZONE)
RANGE_TO = datetime(2024, 10, 7, 23, 59, 59, 999000, tzinfo=ZONE)
DATA_NOW = datetime(2024, 10, 7, 15, 0, tzinfo=ZONE)
NUMBER = (int, float, Decimal)
# the newest dashboard schemaVersion each Grafana major writes (10.x: 39, 11.x: 39-40, 12.x: 41)
MAX_SCHEMA = {10: 39, 11: 40, 12: 41}
PANEL_TYPES = {"stat", "timeseries", "barchart", "bargauge", "table", "piechart", "row", "gauge", "heatmap"}
SELECTIONS = {
    "district": [[ALL], ["jiefangbei"], ["jiefangbei", "daping"]],
    "sector": [[ALL], ["retail"], ["catering", "lodging"]],
}
DEFAULTS: dict[str, Any] = {"district": [ALL], "sector": [ALL], "holiday": "national_day"}


@pytest.fixture(scope="module")
def engine(chdb_dir: Path) -> Client:
    """A read-only client, as Grafana's datasource user is: a panel may not change settings."""
    return connect(loaded_dsn(chdb_dir), readonly=True, settings=Settings())


# --- the dashboards --------------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _grafana_major() -> int | None:
    if not COMPOSE.exists():
        return None
    found = re.search(r"GRAFANA_VERSION:\s*(\d+)\.(\d+)", COMPOSE.read_text())  # the yzmon Grafana image's build
    return int(found.group(1)) if found else None


def test_dashboards_have_unique_uids_and_titles():
    boards = [_load(p) for p in DASHBOARDS]
    expected = {
        "yzmon-overview",
        "yzmon-sales-targets",
        "yzmon-footfall-live",
        "yzmon-tourist-origins",
        "yzmon-holiday-compare",
        "yzmon-pipeline",
    }
    uids = [b["uid"] for b in boards]
    assert len(uids) == len(set(uids)) and expected <= set(uids)
    assert len({b["title"] for b in boards}) == len(boards)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", u) for u in uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_structure_for_the_pinned_grafana(path: Path):
    board = _load(path)
    major = _grafana_major()
    if major is not None:
        assert 36 <= board["schemaVersion"] <= MAX_SCHEMA.get(major, 41), f"Grafana {major}.x"
    assert board["timezone"] == "Asia/Shanghai"
    assert board["time"]["from"].startswith("now") and board["time"]["to"].startswith("now")
    assert board["refresh"] in board["timepicker"]["refresh_intervals"]
    assert re.search(r"[\u4e00-\u9fff]", board["title"]), "Simplified Chinese title"
    ids, cells = set(), set()
    for panel in _panels(board["panels"]):
        assert panel["type"] in PANEL_TYPES, panel["type"]
        assert panel["id"] not in ids
        ids.add(panel["id"])
        g = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(g) and g["x"] + g["w"] <= 24 and g["h"] > 0 and g["w"] > 0
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert re.search(r"[\u4e00-\u9fff]", panel["title"]) and panel.get("description")
        assert panel["datasource"] == DATASOURCE
        assert {"defaults", "overrides"} <= set(panel["fieldConfig"])
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for t in panel["targets"]:
            assert t["datasource"] == DATASOURCE and t["editorType"] == "sql" and t["format"] in (0, 1)
            assert "$__dateFilter" not in t["rawSql"] and "$__dt(" not in t["rawSql"]
        if panel["type"] == "barchart":
            assert panel["options"]["xField"]
    for var in board["templating"]["list"]:
        assert var["type"] == "query" and var["datasource"] == DATASOURCE and var["query"]["editorType"] == "sql"
        if var["name"] in ("district", "sector"):
            assert var["multi"] and var["includeAll"]


def test_units_are_the_committee_units():
    units: set[str] = set()
    for path in DASHBOARDS:
        for panel in _panels(_load(path)["panels"]):
            fc = panel.get("fieldConfig", {})
            units.add(fc.get("defaults", {}).get("unit", ""))
            for o in fc.get("overrides", []):
                units.update(p["value"] for p in o["properties"] if p["id"] == "unit")
    assert {"suffix:亿元", "suffix:万元", "suffix:万人次"} <= units


CROWD_GAUGES = [
    ("footfall_live.json", "当前在场人数(分商圈)", 1e4),
    ("overview.json", "当前在场人数", 1e4),
    ("crowd_kiosk.json", "在场人数占预警线(分商圈)", None),
]
# each 商圈's (warning, critical) people inside, by name, from the one reference file
BANDS = {reference.districts()[c.district].name_zh: (c.warning, c.critical) for c in reference.capacities().values()}


@pytest.mark.parametrize(("name", "title", "scale"), CROWD_GAUGES)
def test_crowd_bands_apply_per_district_in_a_form_grafana_honours(engine: Client, name: str, title: str, scale):
    """Each 商圈 row carries its own bands; rowsToFields (as Grafana's source does it) turns rows into fields with
    per-field thresholds, so 解放碑 at 6万 is green while 大坪 at 6万 is red. A byName override could not do this:
    overrides match field names, and a table with one row per 商圈 has one value field."""
    board = _load(ROOT / "dashboards" / name)
    (gauge,) = [p for p in _panels(board["panels"]) if p["title"] == title]
    assert gauge["type"] == "bargauge" and not gauge["fieldConfig"]["overrides"]
    assert "schemas/reference/capacity.json" in gauge["description"], "says where the bands come from"
    assert gauge["options"]["reduceOptions"]["values"] is False, "one bar per field, after rowsToFields"
    (transform,) = gauge["transformations"]
    assert transform["id"] == "rowsToFields"
    assert {m["handlerKey"] for m in transform["options"]["mappings"]} <= grafana_fields.HANDLERS
    options = _variable_options(engine, board)
    columns, rows = run(engine, gauge["targets"][0]["rawSql"], DEFAULTS, options, RANGE_FROM, DATA_NOW)
    fields = grafana_fields.rows_to_fields(transform["options"], grafana_fields.frame(columns, rows))
    assert {f.name for f in fields} == set(r[0] for r in rows) and all(f.type == "number" for f in fields)
    for f in fields:
        district = f.name.split(" · ")[0]  # the name carries the data age and counters reporting after " · "
        assert " · 计数点 " in f.name
        warning, critical = BANDS[district]
        unit = scale if scale else warning / 100  # the kiosk shows percent of the warning band
        steps = f.config["thresholds"]["steps"]
        assert [s["color"] for s in steps] == ["green", "orange", "red"]
        assert [s["value"] for s in steps] == pytest.approx([0, warning / unit, critical / unit])
        assert f.config["max"] == pytest.approx(1.25 * critical / unit) and not f.labels
        # the colour each bar gets just below, at and past each band
        for people, colour in (
            (warning - 1, "green"),
            (warning, "orange"),
            (critical - 1, "orange"),
            (critical, "red"),
        ):
            assert grafana_fields.active_color(people / unit, f.config["thresholds"]) == colour, (district, people)
    # bands differ by 商圈: one set of steps for all (a byName override or a typed number) would fail above
    assert len({BANDS[f.name.split(" · ")[0]] for f in fields}) > 1


def test_the_overview_colours_crowds_by_bands_not_by_rank():
    board = _load(ROOT / "dashboards" / "overview.json")
    (gauge,) = [p for p in board["panels"] if p["title"] == "当前在场人数"]
    assert gauge["fieldConfig"]["defaults"]["color"]["mode"] == "thresholds"  # not continuous-GrYlRd


# --- queries on the engine ---------------------------------------------------------------------------------


def _variable_options(engine: Client, board: dict[str, Any]) -> dict[str, list[str]]:
    out = {}
    for var in board["templating"]["list"]:
        sql = expand(var["query"]["rawSql"], time_from=RANGE_FROM, time_to=RANGE_TO, interval_s=300, variables={})
        out[var["name"]] = [r[0] for r in engine.query(sql).result_rows]
    return out


def _cases(board: dict[str, Any], options: dict[str, list[str]]) -> Iterator[dict[str, Any]]:
    """The defaults, then each variable through its values (All included) with the others at their defaults."""
    names = [v["name"] for v in board["templating"]["list"]]
    base = {n: DEFAULTS.get(n) or options[n][0] for n in names}  # hidden variables: their (only) value
    yield base
    for name in (v["name"] for v in board["templating"]["list"] if v.get("hide") != 2):
        values = SELECTIONS.get(name) or options[name]
        for value in values:
            if value != base[name]:
                yield {**base, name: value}


def _range(panel: dict[str, Any], sql: str) -> tuple[datetime, datetime]:
    if "ingest_batches" in sql or "rejected_events" in sql:  # landed now, by the sink
        now = datetime.now(UTC)
        return now - timedelta(hours=1), now
    start = RANGE_FROM
    if panel.get("timeFrom"):
        amount = int(panel["timeFrom"][:-1])
        start = RANGE_TO - timedelta(days=amount) if panel["timeFrom"].endswith("d") else start
    return start, RANGE_TO


def run(
    engine: Client,
    sql: str,
    variables: dict[str, Any],
    options: dict[str, list[str]],
    time_from: datetime,
    time_to: datetime,
    interval_s: int = 300,
) -> tuple[list[str], list[tuple]]:
    expanded = expand(
        sql, time_from=time_from, time_to=time_to, interval_s=interval_s, variables=variables, all_values=options
    )
    result = engine.query(expanded)
    return list(result.column_names), [tuple(r) for r in result.result_rows]


def _is_number(v: Any) -> bool:
    return isinstance(v, NUMBER) and not isinstance(v, bool)


def check_shape(panel: dict[str, Any], fmt: int, columns: list[str], rows: list[tuple], strict: bool) -> None:
    """The columns a panel of this type needs; ``strict``: no missing values in stat panels."""
    title = panel["title"]
    assert rows, f"{title}: no rows"
    assert len(set(columns)) == len(columns), f"{title}: duplicate columns {columns}"
    kinds = {c: {type(r[i]) for r in rows if r[i] is not None} for i, c in enumerate(columns)}
    numeric = [c for c in columns if kinds[c] and all(issubclass(k, NUMBER) for k in kinds[c])]
    maybe_numeric = [c for c in columns if all(issubclass(k, NUMBER) for k in kinds[c])]
    text = [c for c in columns if kinds[c] == {str}]
    ptype = panel["type"]
    if ptype == "stat":
        labels = {c for c in columns if kinds[c] == {str}}  # status and coverage texts shown beside the numbers
        assert len(rows) == 1 and set(maybe_numeric) | labels == set(columns), f"{title}: one row, got {kinds}"
        assert labels <= {"目标来源", "进度", "评估区间", "数据覆盖"}, f"{title}: {labels}"
        if strict:
            assert rows[0][0] is not None, f"{title}: {dict(zip(columns, rows[0], strict=True))}"
    elif fmt == 0:
        assert all(isinstance(r[0], datetime) for r in rows), f"{title}: first column must be the time"
        assert set(columns[1:]) - set(maybe_numeric) <= {"name"} and set(numeric) - {"name"}, f"{title}: {kinds}"
        assert "name" not in columns or kinds["name"] == {str}
    elif ptype == "barchart":
        x = panel["options"]["xField"]
        assert x in text and [c for c in maybe_numeric if c != x], f"{title}: x field {x} and numbers, got {kinds}"
    elif ptype in ("bargauge", "piechart"):
        assert len(text) == 1 and numeric and columns[0] == text[0], f"{title}: a name and values, got {kinds}"
    else:
        assert columns and (numeric or text), f"{title}: {kinds}"


def _dashboard_cases() -> list[tuple[str, str]]:
    return [
        (p.name, panel["title"]) for p in DASHBOARDS for panel in _panels(_load(p)["panels"]) if panel.get("targets")
    ]


@pytest.mark.parametrize(("name", "title"), _dashboard_cases())
def test_every_panel_query_runs_for_every_variable_value(engine: Client, name: str, title: str):
    board = _load(ROOT / "dashboards" / name)
    (panel,) = [p for p in _panels(board["panels"]) if p["title"] == title]
    options = _variable_options(engine, board)
    for variables in _cases(board, options):
        for target in panel["targets"]:
            time_from, time_to = _range(panel, target["rawSql"])
            columns, rows = run(engine, target["rawSql"], variables, options, time_from, time_to)
            strict = all(variables[n] == DEFAULTS[n] for n in variables if n in DEFAULTS)
            try:
                check_shape(panel, target["format"], columns, rows, strict)
            except AssertionError as exc:
                raise AssertionError(f"{name} / {title} with {variables}: {exc}") from exc


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_variable_query_returns_value_and_text(engine: Client, path: Path):
    for var in _load(path)["templating"]["list"]:
        sql = expand(var["query"]["rawSql"], time_from=RANGE_FROM, time_to=RANGE_TO, interval_s=300, variables={})
        result = engine.query(sql)
        assert len(result.column_names) in (1, 2) and result.result_rows, var["name"]
        assert all(isinstance(v, str) and v for r in result.result_rows for v in r)


def test_sales_pace_is_withheld_when_no_day_is_fully_covered(engine: Client):
    """Three of seven 商圈 loaded for two days: the year to date is shown, but neither pace nor completion, and the
    cumulative chart has no line before the data begins (it used to read 落后 −90%)."""
    board = _load(ROOT / "dashboards" / "sales_targets.json")
    panels = {p["title"]: p for p in board["panels"]}
    options = _variable_options(engine, board)
    ytd = float(
        engine.query(
            "SELECT sum(amount) FROM sales_raw FINAL WHERE toYear(event_time, 'Asia/Shanghai') = 2024"
        ).result_rows[0][0]
    )
    cols, rows = run(
        engine,
        panels["年累计社零 vs 年度目标(渝中区)"]["targets"][0]["rawSql"],
        DEFAULTS,
        options,
        RANGE_FROM,
        RANGE_TO,
    )
    got = dict(zip(cols, rows[0], strict=True))
    assert got["年累计"] == pytest.approx(ytd / 1e8) and got["年度目标"] == pytest.approx(1430)
    assert got["进度偏差"] is None and got["完成率"] is None and got["进度"].startswith("暂不评估")
    assert got["数据覆盖"] == "本年尚无完整覆盖的日"
    cols, status = run(
        engine, panels["社零进度状态(渝中区)"]["targets"][0]["rawSql"], DEFAULTS, options, RANGE_FROM, RANGE_TO
    )
    assert dict(zip(cols, status[0], strict=True)) == {
        "进度": "暂不评估",
        "进度偏差": None,
        "评估区间": "尚无完整日数据",
    }
    cols, rows = run(
        engine,
        panels["累计社零:实际 vs 目标进度(渝中区)"]["targets"][0]["rawSql"],
        DEFAULTS,
        options,
        RANGE_FROM,
        RANGE_TO,
    )
    assert len(rows) == 281  # 1 Jan .. 7 Oct 2024
    assert all(r[1] is None and r[2] is None and r[3] == pytest.approx(1430) for r in rows)
    _, daily = run(
        engine, panels["每日社零:本期 vs 去年同期"]["targets"][0]["rawSql"], DEFAULTS, options, RANGE_FROM, RANGE_TO
    )
    assert len(daily) == 2 and all(r[1] > 0 and r[2] > 0 for r in daily)  # 2024-10-06/07 and 2023-10-06/07


def test_holiday_compare_aligns_by_holiday_day(engine: Client):
    board = _load(ROOT / "dashboards" / "holiday_compare.json")
    panel = next(p for p in board["panels"] if p["title"] == "每日社零:今年 vs 去年")
    options = _variable_options(engine, board)
    end = datetime(2024, 12, 31, 23, 59, 59, tzinfo=ZONE)
    _, rows = run(engine, panel["targets"][0]["rawSql"], DEFAULTS, options, datetime(2024, 1, 1, tzinfo=ZONE), end)
    by_day = {r[0]: r for r in rows}
    assert list(by_day) == [f"第{i}天" for i in range(1, 9)]  # 2024: 7 days; 2023's 中秋国庆: 8
    truth = defaultdict(float)
    for day, amount in engine.query(
        "SELECT toDate(event_time, 'Asia/Shanghai') d, toFloat64(sum(amount)) FROM sales_raw FINAL GROUP BY d"
    ).result_rows:
        truth[day] = amount / 1e8
    # columns: 今年 (complete days), 今日(进行中) (today's partial day), 去年; the range ends 2024-12-31 23:59:59
    assert by_day["第7天"][1:] == (
        pytest.approx(truth[date(2024, 10, 7)]),
        None,
        pytest.approx(truth[date(2023, 10, 5)]),
    )
    assert by_day["第8天"][1:] == (None, None, pytest.approx(truth[date(2023, 10, 6)]))  # 2024's window has 7 days
    assert by_day["第1天"][1:] == (None, None, None)  # not loaded: no data, not zero


# --- alert rules -----------------------------------------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert doc["apiVersion"] == 1
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_alert_rules_are_well_formed():
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        assert group["folder"] and group["name"] and re.fullmatch(r"\d+[smh]", group["interval"])
    rules = _rules()
    assert {r["uid"] for r in rules} == {
        "yzmon-crowd-density",
        "yzmon-footfall-silent",
        "yzmon-sales-pace-behind",
        "yzmon-feed-silent",
    }
    for rule in rules:
        refs = {d["refId"]: d for d in rule["data"]}
        assert rule["condition"] in refs and rule["title"] and rule["for"] is not None
        assert "level" not in rule["labels"] and "severity" not in rule["labels"], (
            "severity is a threshold, not a label"
        )
        for d in rule["data"]:
            if d["datasourceUid"] == "__expr__":
                model = d["model"]
                assert model["type"] in ("threshold", "math", "reduce") and model["expression"].lstrip("$") in refs
            else:
                assert d["datasourceUid"] == "yzmon-clickhouse" and d["model"]["datasource"] == DATASOURCE
                assert d["model"]["editorType"] == "sql" and d["model"]["format"] == 1
                assert d["relativeTimeRange"]["from"] > d["relativeTimeRange"]["to"]
    pace = next(r for r in rules if r["uid"] == "yzmon-sales-pace-behind")
    evaluators = {
        d["refId"]: d["model"]["conditions"][0]["evaluator"] for d in pace["data"] if d["datasourceUid"] == "__expr__"
    }
    assert evaluators == {"C": {"type": "lt", "params": [-5]}, "D": {"type": "lt", "params": [-10]}}


@pytest.mark.parametrize(
    "uid", ["yzmon-crowd-density", "yzmon-footfall-silent", "yzmon-sales-pace-behind", "yzmon-feed-silent"]
)
def test_alert_queries_run_and_return_labels_and_one_value(engine: Client, uid: str):
    rule = next(r for r in _rules() if r["uid"] == uid)
    for query in (d for d in rule["data"] if d["datasourceUid"] == "yzmon-clickhouse"):
        sql = query["model"]["rawSql"]
        now = datetime.now(UTC) if "ingest_batches" in sql else DATA_NOW
        span = timedelta(seconds=query["relativeTimeRange"]["from"])
        columns, rows = run(engine, sql, {}, {}, now - span, now)
        if uid == "yzmon-sales-pace-behind":
            assert rows == [], "no fully covered day in this store: no data, nothing to judge (noDataState OK)"
            assert rule["noDataState"] == "OK"
            continue
        assert rows, f"{uid}: no rows"
        values = [c for i, c in enumerate(columns) if all(_is_number(r[i]) for r in rows)]
        labels = [c for i, c in enumerate(columns) if all(isinstance(r[i], str) for r in rows)]
        assert len(values) == 1 and len(labels) == len(columns) - 1, f"{uid}: {columns}"
        assert len({tuple(r[columns.index(c)] for c in labels) for r in rows}) == len(rows), (
            "one instance per label set"
        )
        if uid == "yzmon-feed-silent":
            assert {r[0] for r in rows} == {f.topic for f in FEEDS.values()}
        else:  # every 商圈, reporting or not: a silent one keeps its instance (no MissingSeries resolution)
            districts = {r[columns.index("district")] for r in rows}
            assert districts == {r[0] for r in engine.query("SELECT district FROM dim_district FINAL").result_rows}


# --- what committee staff expect ---------------------------------------------------------------------------

BUSINESS = [p for p in DASHBOARDS if p.name != "pipeline.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_links_between_dashboards_carry_the_district_selection(path: Path):
    links = [link for link in _load(path)["links"] if link["type"] == "dashboards"]
    assert links and all(link["includeVars"] and link["keepTime"] and "yzmon" in link["tags"] for link in links)
    assert "yzmon" in _load(path)["tags"], "every dashboard is reachable from the others' link menu"


@pytest.mark.parametrize("path", BUSINESS, ids=lambda p: p.name)
def test_business_time_series_carry_holiday_annotations_from_the_calendar(engine: Client, path: Path):
    board = _load(path)
    (holidays,) = [a for a in board["annotations"]["list"] if a.get("name") == "节假日"]
    assert holidays["enable"] and holidays["datasource"] == DATASOURCE
    target = holidays["target"]
    assert target["editorType"] == "sql" and "dim_calendar" in target["rawSql"]
    start, end = datetime(2024, 9, 20, tzinfo=ZONE), datetime(2024, 10, 20, tzinfo=ZONE)
    columns, rows = run(engine, target["rawSql"], {}, {}, start, end)
    assert columns == ["time", "timeEnd", "text", "tags"]  # Grafana's default annotation field names: a region
    national = [r for r in rows if r[2] == "国庆节"]
    assert len(national) == 1 and national[0][1] - national[0][0] == timedelta(days=7)


def test_the_crowd_kiosk_view_is_linked_for_the_duty_room():
    live = _load(ROOT / "dashboards" / "footfall_live.json")
    (link,) = [x for x in live["links"] if x["type"] == "link"]
    assert link["url"].startswith("/d/yzmon-crowd-kiosk?kiosk")
    kiosk = _load(ROOT / "dashboards" / "crowd_kiosk.json")
    assert kiosk["uid"] == "yzmon-crowd-kiosk" and kiosk["refresh"] == "30s"
    assert [p["type"] for p in kiosk["panels"]] == ["bargauge", "table", "timeseries"]


def test_titles_take_targets_from_the_target_table_not_the_json():
    for path in DASHBOARDS:
        for panel in _panels(_load(path)["panels"]):
            assert not re.search(r"\d+(\.\d+)?\s*亿(人次|元)", panel["title"]), f"{path.name}: {panel['title']}"
