"""Crowd capacities as reference data: one cited file (schemas/reference/capacity.json), loaded into dim_district,
read by every crowd panel and rule; no band typed anywhere else."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from schemas import reference
from schemas.reference import CapacityError, parse_capacities
from yzmon.grafana_macros import ALL, expand

ROOT = Path(__file__).resolve().parent.parent
FILE = ROOT / "schemas" / "reference" / "capacity.json"
ZONE = ZoneInfo("Asia/Shanghai")

# Where a band could be typed: dashboards, provisioning and compose files, the code and SQL, the docs.
SCANNED = [
    *ROOT.glob("dashboards/**/*.json"),
    *ROOT.glob("deploy/**/*.y*ml"),
    *ROOT.glob("deploy/**/*.json"),
    *ROOT.glob("deploy/**/.env*"),
    *ROOT.glob("docker-compose*.yml"),
    *ROOT.glob("sql/**/*.sql"),
    *[p for d in ("yzmon", "yzcore", "schemas", "streams") for p in ROOT.glob(f"{d}/**/*.py")],
    *[p for p in ROOT.glob("schemas/**/*.json") if p != FILE],
    ROOT / "README.md",
    *ROOT.glob("docs/*.md"),
]


def _patterns() -> dict[int, re.Pattern[str]]:
    """Each capacity and band of the file, as it could be typed: 80000, 80_000, 80,000, 8 万 / 8万, 8.0万."""
    out = {}
    for c in reference.capacities().values():
        for people in (c.capacity, c.warning, c.critical):
            digits = f"{people:,}".replace(",", "[,_]?")
            wan = format(Decimal(people) / 10_000, "f").rstrip("0").rstrip(".").replace(".", r"\.")
            out[people] = re.compile(
                rf"(?<![\d.,_]){digits}(?![\d]|[,_.]\d)|(?<![\d.]){wan}(?:\.0+)?\s*万(?!分)", re.UNICODE
            )
    return out


def test_no_band_or_capacity_is_typed_outside_the_reference_file():
    """A number of the file anywhere else (a dashboard, an alert rule, code, SQL, docs) would drift from it."""
    patterns = _patterns()
    assert len(patterns) >= 3, "capacity, warning and critical of each 商圈, from the file"
    hits = []
    for path in SCANNED:
        text = path.read_text(encoding="utf-8")
        for people, pattern in patterns.items():
            hits += [f"{path.relative_to(ROOT)}: {people} as {m.group(0)!r}" for m in pattern.finditer(text)]
    assert not hits, "\n".join(hits)
    # nor a band chosen by naming a 商圈 in SQL (the old if(district = 'jiefangbei', …, …) form)
    typed = re.compile(r"if\(\s*\w*\.?district\s*=\s*'\w+'\s*,\s*\d")
    assert not [p for p in SCANNED if typed.search(p.read_text(encoding="utf-8"))]


def test_no_dashboard_threshold_step_is_a_band():
    """Threshold steps cannot read SQL: a step at a band (in people or in 万人) would be a typed copy of it."""
    bands = {v / scale for c in reference.capacities().values() for v in (c.warning, c.critical) for scale in (1, 1e4)}

    def steps(node: object) -> list[float]:
        if isinstance(node, dict):
            own = [s["value"] for s in node.get("steps", []) if isinstance(s, dict) and s.get("value") is not None]
            return own + [v for child in node.values() for v in steps(child)]
        return [v for child in node for v in steps(child)] if isinstance(node, list) else []

    found = {p.name: steps(json.loads(p.read_text(encoding="utf-8"))) for p in ROOT.glob("dashboards/**/*.json")}
    assert any(found.values()), "the boards have threshold steps to check"
    assert not {name: set(v) & bands for name, v in found.items() if set(v) & bands}


def test_the_scan_would_see_a_typed_band():
    patterns = _patterns()
    jfb = reference.capacities()["jiefangbei"]
    for typed in (str(jfb.warning), f"{jfb.warning:,}", f"{jfb.warning:_}", f"预警 {jfb.warning // 10_000} 万人"):
        assert patterns[jfb.warning].search(typed), typed
    shibati = reference.capacities()["shibati"]
    assert patterns[shibati.capacity].search("上限1.6万人") and not patterns[shibati.capacity].search("11.6万")
    assert not patterns[jfb.warning].search("800000") and not patterns[jfb.warning].search("session 80000000")


def test_each_capacity_is_cited_or_plainly_an_operating_setting():
    raw = json.loads(FILE.read_text(encoding="utf-8"))
    for entry in raw["districts"]:
        source = entry["source"]
        if entry["basis"] == "published":
            assert {"outlet", "title", "date", "url", "quote"} <= set(source), entry["district"]
            assert source["url"].startswith("http")
            wan = format(Decimal(entry["capacity"]) / 10_000, "f").rstrip("0").rstrip(".")
            assert f"{wan}万" in source["quote"], "the quote states the figure used"
            assert (entry["warning_share"], entry["critical_share"]) == ("0.8", "1.0"), "the 导则's 80 % and 100 %"
        else:
            assert "运行设定" in source["note"] and "非公布" in source["note"], entry["district"]
    assert "80%" in raw["shares_source"]["rule"] and raw["shares_source"]["url"].startswith("http")
    kinds = {d.id: d.kind for d in reference.districts().values()}
    assert any(kinds[d] == "景区街区" for d, c in reference.capacities().items() if c.basis == "published")


def test_bands_are_shares_of_capacity_in_whole_people():
    for c in reference.capacities().values():
        assert c.warning == c.capacity * c.warning_share and c.critical == c.capacity * c.critical_share
        assert 0 < c.warning < c.critical


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(warning_share="0.33333"), "whole people"),
        (lambda e: e.update(warning_share="1.5"), "0 < warning"),
        (lambda e: e.update(basis="guess"), "basis must be one of"),
        (lambda e: e.update(district="jiefangbei"), "listed twice"),
        (lambda e: e.update(district="chaotianmen"), "no capacity for"),
    ],
)
def test_a_contradictory_reference_file_is_refused_with_what_to_fix(change, message: str):
    raw = json.loads(FILE.read_text(encoding="utf-8"))
    change(raw["districts"][-1])
    with pytest.raises(CapacityError, match=message):
        parse_capacities(raw, set(reference.districts()))


def test_migrate_loads_the_bands_into_the_district_table(store):
    got = {
        r[0]: r[1:]
        for r in store.query(
            "SELECT district, capacity, warning, critical, warning_share, critical_share, capacity_basis, "
            "capacity_source FROM dim_district FINAL"
        ).result_rows
    }
    assert got == {
        c.district: (c.capacity, c.warning, c.critical, c.warning_share, c.critical_share, c.basis, c.source)
        for c in reference.capacities().values()
    }
    assert json.loads(got["shibati"][-1])["url"].startswith("http")


def test_the_jiefangbei_chart_draws_the_bands_of_the_district_table(store):
    """解放碑在场人数与安全阈值: its warning and critical lines are series from dim_district, not threshold steps."""
    board = json.loads((ROOT / "dashboards" / "footfall_live.json").read_text(encoding="utf-8"))
    (panel,) = [p for p in board["panels"] if p["title"] == "解放碑在场人数与安全阈值"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None], "no band typed as a step"
    assert {o["matcher"]["options"] for o in panel["fieldConfig"]["overrides"]} == {"预警线", "严重线"}
    at = datetime(2024, 12, 31, 23, 0, tzinfo=ZONE)
    store.command(
        "INSERT INTO footfall_agg_1m (minute, district, entries, exits, occupancy, events) "
        "VALUES ({m:DateTime('Asia/Shanghai')}, 'jiefangbei', 900, 100, 54321, 8)",
        parameters={"m": at.replace(tzinfo=None)},
    )
    sql = expand(
        panel["targets"][0]["rawSql"], time_from=at - timedelta(hours=1), time_to=at, interval_s=60, variables={}
    )
    result = store.query(sql)
    rows = [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
    jfb = reference.capacities()["jiefangbei"]
    assert len(rows) == 1 and rows[0]["在场人数"] == pytest.approx(5.4321)
    assert (rows[0]["预警线"], rows[0]["严重线"]) == pytest.approx((jfb.warning / 1e4, jfb.critical / 1e4))


def test_the_kiosk_table_lists_each_districts_capacity_bands_and_basis(store):
    """各商圈在场人数与阈值: the values in force and whether the capacity is published or an operating setting."""
    board = json.loads((ROOT / "dashboards" / "crowd_kiosk.json").read_text(encoding="utf-8"))
    (panel,) = [p for p in board["panels"] if p["title"] == "各商圈在场人数与阈值"]
    options = {"district": [r[0] for r in store.query("SELECT district FROM dim_district FINAL").result_rows]}
    at = datetime(2024, 12, 31, 23, 0, tzinfo=ZONE)
    sql = expand(
        panel["targets"][0]["rawSql"],
        time_from=at - timedelta(hours=6),
        time_to=at,
        interval_s=60,
        variables={"district": [ALL]},
        all_values=options,
    )
    result = store.query(sql)
    table = {r[0]: dict(zip(result.column_names, r, strict=True)) for r in result.result_rows}
    names = {d.id: d.name_zh for d in reference.districts().values()}
    basis = {"published": "公布的景区承载量", "operating_setting": "值班室运行设定"}
    assert {
        names[c.district]: (c.capacity, c.warning, c.critical, basis[c.basis]) for c in reference.capacities().values()
    } == {n: (r["承载量"], r["预警线"], r["严重线"], r["承载量依据"]) for n, r in table.items()}
