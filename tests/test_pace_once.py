"""Pace is defined once (sql/013_pace.sql: v_target, v_expected_daily, v_pace): the library query, the dashboards'
pace panels and variables, the pace alert rule and the commands select from those views. This test fails if the
formula appears anywhere else."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "sql" / "013_pace.sql"
FORMULA = {
    "the target carried forward at its last growth": re.compile(r"past\[-1\]"),
    "a day's expected share from the seasonal curve": re.compile(r"lagInFrame\(\s*model_(sales|visits)_share"),
    "actual ÷ (target × expected share) − 1": re.compile(r"actual\s*/\s*\(?\s*[\w.]*(target|expected)", re.I),
}
WHERE = ("sql/**/*.sql", "dashboards/*.json", "deploy/grafana/**/*.yaml", "yzmon/*.py", "yzcore/*.py", "streams/*.py")


def _files() -> list[Path]:
    return sorted({p for pattern in WHERE for p in ROOT.glob(pattern)})


def test_the_pace_formula_is_written_once():
    found = {name: [p.relative_to(ROOT).as_posix() for p in _files() if rx.search(p.read_text(encoding="utf-8"))]
             for name, rx in FORMULA.items()}  # fmt: skip
    assert found == {name: ["sql/013_pace.sql"] for name in FORMULA}


def test_the_pace_readers_select_from_the_definition():
    readers = {
        "sql/queries/pace_vs_target.sql": "v_pace(",
        "sql/panels/ytd_sales_vs_target.sql": "v_pace(",
        "dashboards/sales_targets.json": "v_pace(",
        "dashboards/footfall_live.json": "v_pace(",
        "deploy/grafana/provisioning/alerting/yzmon-alerts.yaml": "v_pace(",
        "sql/014_nowcast.sql": "v_target(",
        "sql/queries/nowcast.sql": "v_nowcast(",
        "sql/panels/nowcast_year.sql": "v_nowcast(",
    }
    for path, view in readers.items():
        assert view in (ROOT / path).read_text(encoding="utf-8"), path
