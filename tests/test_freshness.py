"""A duty room that a dead counter cannot fool: the 跨年夜 replay with 解放碑—朝天门's counters dying at 23:50
(simulators/scenarios/new_years_eve_counter_death.yaml), landed through the worker's sink into chDB, read by the
kiosk's panel SQL, the live view, `yzmon status` and the provisioned alert rules evaluated minute by minute the way
Grafana's state manager does (tests/grafana_alert_state.py, ported from grafana/grafana)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from clickhouse_connect.driver.client import Client
from counter_death_store import DEATH, REVIVAL, ZONE, counter_death_dsn
from grafana_alert_state import ALERTING, NORMAL, Rule, StateManager
from rich.console import Console

from schemas.feeds import FEEDS
from simulators.scenario import load
from yzcore.queries import get
from yzcore.settings import Settings
from yzcore.store import DirectReader, connect
from yzmon.freshness import footfall_freshness
from yzmon.grafana_macros import ALL, expand
from yzmon.live import summary
from yzmon.status import freshness_rows

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "grafana" / "provisioning" / "alerting" / "yzmon-alerts.yaml"
JFB = "jiefangbei"


@pytest.fixture(scope="module")
def engine(chdb_dir: Path) -> Client:
    return connect(counter_death_dsn(chdb_dir), readonly=True, settings=Settings(_env_file=None))


def _rule(uid: str) -> tuple[dict, str]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule["uid"] == uid:
                return rule, group["interval"]
    raise AssertionError(uid)


def _evaluate(engine: Client, rule: dict, at: datetime, ref: str | None = None) -> list[tuple[frozenset, str]]:
    """The rule's condition (or threshold ``ref``) at ``at``: the threshold over its query, per series (string
    columns are the labels)."""
    refs = {d["refId"]: d for d in rule["data"]}
    cond = refs[ref or rule["condition"]]["model"]
    query = refs[cond["expression"]]
    limit = cond["conditions"][0]["evaluator"]["params"][0]
    span = timedelta(seconds=query["relativeTimeRange"]["from"])
    sql = expand(query["model"]["rawSql"], time_from=at - span, time_to=at, interval_s=60, variables={})
    result = engine.query(sql)
    if not result.result_rows:
        return [(frozenset(), "NoData")]
    out = []
    for row in result.result_rows:
        labels = frozenset((c, v) for c, v in zip(result.column_names, row, strict=True) if isinstance(v, str))
        value = next(v for v in row if not isinstance(v, str))
        out.append((labels, ALERTING if value > limit else NORMAL))
    return out


def _district(labels: frozenset) -> str:
    return dict(labels)["district"]


def test_the_scenario_silences_every_jiefangbei_counter_from_2350_to_0200():
    scenario = load("new_years_eve_counter_death")
    silent = [e for e in scenario.effects if e.factor == 0]
    assert {e.districts for e in silent} == {(JFB,)} and all(e.feeds == ("footfall",) for e in silent)
    assert [e.minutes(e.start) for e in silent] == [(23 * 60 + 50, 24 * 60), (0, 2 * 60)]


def test_counters_report_every_minute_so_silence_means_a_dead_counter(engine: Client):
    """Known counters per 商圈 and a heartbeat: every live counter has a report in every minute of the evening."""
    per_minute = engine.query(
        "SELECT district, uniqExact(gate) AS gates, count() / uniqExact(toStartOfMinute(event_time)) AS per_minute "
        "FROM footfall_raw FINAL WHERE event_time >= '2024-12-31 20:00:00' AND event_time < '2024-12-31 23:50:00' "
        "GROUP BY district ORDER BY district"
    ).result_rows
    assert {(d, g, p) for d, g, p in per_minute} == {("daping", 4, 4.0), ("hongyadong", 4, 4.0), (JFB, 8, 8.0)}


def test_freshness_marks_a_dead_districts_number_as_interrupted_with_its_last_value(engine: Client):
    reader = DirectReader(engine)
    before = {f.district: f for f in footfall_freshness(reader, DEATH - timedelta(minutes=5))}
    assert not before[JFB].stale and (before[JFB].reporting, before[JFB].known) == (8, 8)
    after = {f.district: f for f in footfall_freshness(reader, DEATH + timedelta(minutes=20))}
    jfb = after[JFB]
    assert jfb.stale and (jfb.reporting, jfb.known) == (0, 8)
    assert jfb.occupancy_at == DEATH - timedelta(minutes=1) and jfb.age_s == 21 * 60
    last = engine.query(
        "SELECT argMax(occupancy, minute) FROM footfall_agg_1m FINAL WHERE district = 'jiefangbei' "
        "AND minute <= '2024-12-31 23:49:00'"
    ).result_rows[0][0]
    assert jfb.occupancy == last
    assert not after["hongyadong"].stale and after["hongyadong"].reporting == 4
    # a 商圈 that never reported is in the list too, as interrupted, with nothing to show
    assert after["eling"].stale and after["eling"].known == 0 and after["eling"].occupancy is None
    back = {f.district: f for f in footfall_freshness(reader, REVIVAL + timedelta(minutes=3))}
    assert not back[JFB].stale and back[JFB].reporting == 8


def test_the_kiosk_shows_interrupted_not_the_frozen_number(engine: Client):
    board = json.loads((ROOT / "dashboards" / "crowd_kiosk.json").read_text(encoding="utf-8"))
    panels = {p["title"]: p for p in board["panels"]}
    at = DEATH + timedelta(minutes=20)
    options = {"district": [r[0] for r in engine.query("SELECT district FROM dim_district FINAL").result_rows]}

    def run(title: str) -> list[dict]:
        sql = expand(
            panels[title]["targets"][0]["rawSql"],
            time_from=at - timedelta(hours=6),
            time_to=at,
            interval_s=60,
            variables={"district": [ALL]},
            all_values=options,
        )
        result = engine.query(sql)
        return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]

    gauge = run("在场人数占预警线(分商圈)")
    (jfb,) = [r for r in gauge if r["商圈"].startswith("解放碑—朝天门")]
    assert jfb["占预警线"] is None  # Grafana shows the null mapping's text, 数据中断
    assert re.fullmatch(r"解放碑—朝天门 · 数据中断 · 最后 12-31 23:49 为 .+ 人 · 计数点 0/8", jfb["商圈"]), jfb
    mappings = panels["在场人数占预警线(分商圈)"]["fieldConfig"]["defaults"]["mappings"]
    assert mappings[0]["type"] == "special" and mappings[0]["options"]["match"] == "null"
    assert mappings[0]["options"]["result"]["text"] == "数据中断"
    (hyd,) = [r for r in gauge if r["商圈"].startswith("洪崖洞")]
    assert hyd["占预警线"] > 0 and hyd["商圈"].endswith("· 刚刚 · 计数点 4/4")
    assert gauge[0] is jfb or gauge[0]["商圈"].split(" · ")[1] == "数据中断"  # interrupted rows come first

    table = {r["商圈"]: r for r in run("各商圈在场人数与阈值")}
    row = table["解放碑—朝天门"]
    assert row["状态"] == "数据中断" and row["在场人数"] is None and row["占预警线"] is None
    assert row["最后值时间"] == "12-31 23:49" and row["最后值"] > 0 and row["计数点(上报/已知)"] == "0/8"
    assert row["数据年龄"] == "21 分钟前"
    assert table["洪崖洞"]["状态"] in ("正常", "预警", "严重") and table["洪崖洞"]["在场人数"] is not None
    trend = panels["在场人数占预警线走势(分商圈)"]
    assert trend["fieldConfig"]["defaults"]["displayName"] == "${__field.labels.name}"


def test_the_live_view_and_status_say_interrupted(engine: Client):
    reader = DirectReader(engine)
    at = DEATH + timedelta(minutes=20)
    console = Console(width=200, record=True)
    console.print(summary(reader, at.date(), now=at))
    text = console.export_text()
    (line,) = [x for x in text.splitlines() if "解放碑—朝天门" in x]
    assert "数据中断" in line and "最后值" in line and "(12-31 23:49)" in line and "计数点 0/8" in line
    (other,) = [x for x in text.splitlines() if "洪崖洞" in x]
    assert "数据中断" not in other and "计数点 4/4" in other
    status = dict(freshness_rows(reader, at))
    assert "数据中断" in status["客流 解放碑—朝天门"] and "(12-31 23:49)" in status["客流 解放碑—朝天门"]
    assert status["客流 洪崖洞"].startswith("在场 ") and "计数点 4/4" in status["客流 洪崖洞"]


def test_new_years_eve_dead_counters_raise_silence_and_send_no_crowd_resolved(engine: Client):
    """Evaluated every minute from 23:30 to 00:40 the way Grafana evaluates: the crowd alert of 解放碑 keeps firing
    (its row never leaves the query), no RESOLVED goes out while the counters are silent, and the footfall-silence
    alert of 解放碑 fires within the feed's silence window."""
    crowd_rule, interval = _rule("yzmon-crowd-density")
    silence_rule, silence_interval = _rule("yzmon-footfall-silent")
    crowd = StateManager(Rule.from_provisioning(crowd_rule, interval))
    silence = StateManager(Rule.from_provisioning(silence_rule, silence_interval))
    assert crowd_rule["labels"]["category"] == silence_rule["labels"]["category"] == "crowd"
    at = datetime(2024, 12, 31, 23, 30, tzinfo=ZONE)
    firing_at_death = None
    while at <= DEATH + timedelta(minutes=50):
        crowd.process(at, _evaluate(engine, crowd_rule, at))
        silence.process(at, _evaluate(engine, silence_rule, at))
        if at == DEATH:
            firing_at_death = {_district(k) for k in crowd.firing()}
        at += timedelta(minutes=1)
    assert JFB in firing_at_death, "the countdown crowd is over 解放碑's band before the counters die"
    assert not [n for n in crowd.sent if n.status == "resolved" and _district(n.labels) == JFB]
    assert JFB in {_district(k) for k in crowd.firing()}
    window = timedelta(seconds=FEEDS["footfall"].silence_window_s)
    raised = [n for n in silence.sent if n.status == "firing" and _district(n.labels) == JFB]
    assert raised and DEATH + window - timedelta(minutes=1) <= raised[0].at <= DEATH + window + timedelta(minutes=1)
    assert not [n for n in silence.sent if n.status == "resolved" and _district(n.labels) == JFB]
    # 洪崖洞 and 大坪 reported throughout: no silence alert for them
    assert not [n for n in silence.sent if _district(n.labels) in ("hongyadong", "daping")]


def test_the_port_resolves_a_series_that_leaves_the_query_as_grafana_did():
    """The old crowd query dropped a silent 商圈's row; Grafana then resolved it after two intervals
    (processMissingSeriesStates, reason MissingSeries): the all-clear the dead counter used to send."""
    labels = frozenset({("district", JFB)})
    manager = StateManager(Rule(interval=timedelta(minutes=1), pending=timedelta(minutes=2)))
    t = datetime(2024, 12, 31, 23, 40, tzinfo=ZONE)
    for i in range(4):
        manager.process(t + timedelta(minutes=i), [(labels, ALERTING)])
    assert labels in manager.firing()
    for i in range(4, 7):
        manager.process(t + timedelta(minutes=i), [(frozenset({("district", "daping")}), NORMAL)])
    resolved = [n for n in manager.sent if n.status == "resolved"]
    assert [(n.reason, n.at - t) for n in resolved] == [("MissingSeries", timedelta(minutes=5))]


def test_the_library_query_is_the_one_the_screens_and_rules_run():
    """One definition of freshness: the kiosk, overview and footfall_live gauges and both crowd rules embed
    sql/queries/footfall_freshness.sql with Grafana's $__toTime for its {now}; its thresholds are the registry's."""
    body = "\n".join(x for x in get("footfall_freshness").sql.splitlines() if not x.startswith("--")).strip()
    lines = [x.strip() for x in body.replace("{now:DateTime}", "$__toTime").splitlines()]
    footfall = FEEDS["footfall"]
    assert f"> {footfall.stale_after_s}, 1)" in body and f"INTERVAL {footfall.stale_after_s} SECOND" in body

    def embeds(sql: str) -> bool:
        got = [x.strip() for x in sql.splitlines()]
        return any(got[i : i + len(lines)] == lines for i in range(len(got)))

    for name, title in (
        ("crowd_kiosk.json", "在场人数占预警线(分商圈)"),
        ("crowd_kiosk.json", "各商圈在场人数与阈值"),
        ("overview.json", "当前在场人数"),
        ("footfall_live.json", "当前在场人数(分商圈)"),
    ):
        board = json.loads((ROOT / "dashboards" / name).read_text(encoding="utf-8"))
        (panel,) = [p for p in board["panels"] if p["title"] == title]
        assert embeds(panel["targets"][0]["rawSql"]), f"{name} / {title}"
    for uid in ("yzmon-crowd-density", "yzmon-footfall-silent"):
        rule, _ = _rule(uid)
        queries = [d for d in rule["data"] if d["datasourceUid"] != "__expr__"]
        assert queries and all(embeds(d["model"]["rawSql"]) for d in queries), uid
    silence, _ = _rule("yzmon-footfall-silent")
    assert f"/ {footfall.silence_window_s} AS" in silence["data"][0]["model"]["rawSql"]


def test_crowd_rules_never_resolve_on_silence_and_are_never_muted():
    crowd, _ = _rule("yzmon-crowd-density")
    silence, _ = _rule("yzmon-footfall-silent")
    assert crowd["noDataState"] in ("Alerting", "KeepLast") and crowd["execErrState"] in ("Alerting", "KeepLast")
    assert silence["noDataState"] == "Alerting" and silence["execErrState"] == "Alerting"
    for rule in (crowd, silence):
        assert rule["annotations"]["runbook_url"].startswith("${GF_SERVER_ROOT_URL}d/yzmon-crowd-kiosk")
    policies = yaml.safe_load(
        (ROOT / "deploy" / "grafana" / "provisioning" / "alerting" / "policies.yaml").read_text(encoding="utf-8")
    )
    (route,) = [r for r in policies["policies"][0]["routes"] if ["category", "=", "crowd"] in r["object_matchers"]]
    assert "district" in route["group_by"] and not route.get("mute_time_intervals")
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert re.search(r"GF_SERVER_ROOT_URL: \$\{GRAFANA_ROOT_URL:-http://[^}]+/\}", compose), "root URL ends with /"


def test_pipeline_lag_thresholds_follow_each_feeds_cadence(engine: Client):
    """距最近入库: each feed its own bands from the registry (游客 every 15 min is not red a third of the time), as
    Grafana applies them after rowsToFields; the feed-silence rule uses the same windows."""
    import grafana_fields

    board = json.loads((ROOT / "dashboards" / "pipeline.json").read_text(encoding="utf-8"))
    (panel,) = [p for p in board["panels"] if p["title"] == "距最近入库(消费滞后)"]
    now = datetime.now(ZONE)
    sql = expand(
        panel["targets"][0]["rawSql"], time_from=now - timedelta(hours=1), time_to=now, interval_s=60, variables={}
    )
    result = engine.query(sql)
    fields = grafana_fields.rows_to_fields(
        panel["transformations"][0]["options"],
        grafana_fields.frame(list(result.column_names), [tuple(r) for r in result.result_rows]),
    )
    names = {"销售": "sales", "客流": "footfall", "游客": "tourists"}
    assert {f.name for f in fields} == set(names)
    for f in fields:
        feed = FEEDS[names[f.name]]
        steps = f.config["thresholds"]["steps"]
        assert [s["value"] for s in steps] == [0, feed.stale_after_s, feed.silence_window_s]
        assert grafana_fields.active_color(feed.cadence_s, f.config["thresholds"]) == "green"
    assert "600" not in panel["description"] and "15 分钟" in panel["description"]
    rule, _ = _rule("yzmon-feed-silent")
    windows = dict(re.findall(r"\('([a-z.0-9]+)', (\d+)\)", rule["data"][0]["model"]["rawSql"]))
    assert {t: int(m) * 60 for t, m in windows.items()} == {f.topic: f.silence_window_s for f in FEEDS.values()}


def test_the_briefing_says_interrupted_for_a_dead_districts_counters(engine: Client):
    from yzmon.report import freshness_summary

    text = freshness_summary(DirectReader(engine), DEATH + timedelta(minutes=20))
    assert text.startswith("客流计数点(截至 01-01 00:10):")
    (jfb,) = [p for p in text.split(";") if p.startswith("解放碑—朝天门")]
    assert "数据中断" in jfb and "(12-31 23:49)" in jfb and "计数点 0/8" in jfb


def test_status_says_it_once_when_no_counter_reported_at_all(engine: Client):
    assert freshness_rows(DirectReader(engine), datetime(2025, 3, 1, tzinfo=ZONE)) == [
        ("客流", "[yellow]近 7 天没有任何计数点上报:在场人数不可知[/]")
    ]


def test_one_dead_counter_raises_the_silence_alert_and_shows_7_of_8(chdb_dir: Path):
    """counter_outage: jiefangbei-gate-03 silent 14:00–16:00 on 2024-10-02. One dead counter of eight: the 商圈's
    number stays (7 counters report) with 计数点 7/8, and its silence alert fires at 14:15, not as 严重."""
    from counter_death_store import landed_dsn

    client = connect(
        landed_dsn(chdb_dir, "counter_outage", "counter_outage", [date(2024, 10, 1), date(2024, 10, 2)], [JFB]),
        readonly=True,
        settings=Settings(_env_file=None),
    )
    at = datetime(2024, 10, 2, 14, 20, tzinfo=ZONE)
    (jfb,) = [f for f in footfall_freshness(DirectReader(client), at) if f.district == JFB]
    assert not jfb.stale and (jfb.reporting, jfb.known) == (7, 8) and jfb.age_s < 60
    rule, interval = _rule("yzmon-footfall-silent")
    manager = StateManager(Rule.from_provisioning(rule, interval))
    t = datetime(2024, 10, 2, 13, 55, tzinfo=ZONE)
    while t <= datetime(2024, 10, 2, 14, 20, tzinfo=ZONE):
        manager.process(t, _evaluate(client, rule, t))
        t += timedelta(minutes=1)
    (raised,) = [n for n in manager.sent if n.status == "firing" and _district(n.labels) == JFB]
    assert raised.at == datetime(2024, 10, 2, 14, 15, tzinfo=ZONE)  # last report 13:59, silent > 15 min at 14:15
    severe = {_district(labels): state for labels, state in _evaluate(client, rule, at, "D")}
    assert severe[JFB] == NORMAL  # not every counter is silent
