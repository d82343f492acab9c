"""Panels written once (sql/panels/): the dashboards hold what their sources render, the shared 年累计 panel is
one source in two boards, and the 推算社零 panel reads the same figures as `yzmon status` (one definition)."""

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from yzcore.migrate import migrate
from yzcore.store import DirectReader, connect
from yzmon.grafana_macros import expand
from yzmon.nowcast_view import nowcast_rows
from yzmon.panel_sources import DASHBOARDS_DIR, PLACES, dump, panel, render

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("path", sorted(DASHBOARDS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_dashboards_are_rendered_from_their_panel_sources(path: Path):
    text = path.read_text(encoding="utf-8")
    assert dump(render(json.loads(text), path.name)) == text, "run `python -m yzmon.panel_sources` and commit"


def test_a_shared_panel_is_one_source_in_every_board_that_shows_it():
    for name, files in PLACES.items():
        fresh = panel(name)
        for f in files:
            board = json.loads((DASHBOARDS_DIR / f).read_text(encoding="utf-8"))
            (placed,) = [p for p in board["panels"] if p["title"] == fresh["title"]]
            assert placed["targets"] == fresh["targets"] and placed["fieldConfig"] == fresh["fieldConfig"]


def test_the_nowcast_panel_shows_the_estimate_status_shows(chdb_dir):
    from benchmarks.nowcast import load_store
    from simulators.scenario import Sample

    connect(f"chdb://{chdb_dir}").command("CREATE DATABASE IF NOT EXISTS panel_nowcast")
    client = connect(f"chdb://{chdb_dir}?database=panel_nowcast")
    migrate(client)
    load_store(client, 7, 2024, 2025, Sample(drift=True))
    end = datetime(2025, 10, 1, 12, tzinfo=ZONE)  # the range ends on 1 October: the estimate as of 30 September
    sql = expand(panel("nowcast_year")["targets"][0]["rawSql"], time_from=end, time_to=end, interval_s=60, variables={})
    (row,) = client.query(sql).named_results()
    (year,) = [r for r in nowcast_rows(DirectReader(client), date(2025, 9, 30)) if r["period"] == "year"]
    assert row["推算社零"] == pytest.approx(float(year["estimate"]) / 1e8)
    assert row["区间下限"] < row["推算社零"] < row["区间上限"]
    assert row["推算同比"] == pytest.approx(float(year["growth_pct"]))
