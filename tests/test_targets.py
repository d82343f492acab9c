import re
from decimal import Decimal
from pathlib import Path

import pytest

from schemas import reference
from yzcore.targets import TargetFileError, TargetRow, import_targets, parse, seed_targets

GOOD = """year,scope,metric,value,unit,source
2027,district,retail_sales,1580,亿元,区政府工作报告2026
2027,jiefangbei,visits,2.2,亿人次,解放碑管委会
"""


def test_a_good_csv_converts_units(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(GOOD, encoding="utf-8")
    rows = parse(path)
    assert [(r.scope, r.value, r.unit) for r in rows] == [
        ("district", Decimal("158000000000"), "元"),
        ("jiefangbei", Decimal("220000000.0"), "人次"),
    ]


def test_bad_files_are_refused_with_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "year,scope,metric,value,unit,source\n"
        "2026,district,retail_sales,1580,亿元,ok\n"
        "20x6,district,retail_sales,1,元,s\n"
        "2026,mars,visits,1,人次,s\n"
        "2026,district,visits,1,亿元,s\n"
        "2026,district,tourists,-3,人次,s\n"
        "2026,district,tourists,NaN,人次,s\n"
        "2026,daping,retail_sales,1,元,\n",
        encoding="utf-8",
    )
    with pytest.raises(TargetFileError) as err:
        parse(path)
    lines = str(err.value).splitlines()
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5", "6", "7", "8"]
    assert "year '20x6'" in lines[0] and "scope 'mars'" in lines[1] and "unit '亿元'" in lines[2]
    assert "≥ 0" in lines[3] and "finite" in lines[4] and "missing source" in lines[5]


def test_yaml_files_work_too(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "targets:\n  - {year: 2026, scope: hualongqiao, metric: retail_sales, value: 120, unit: 亿元,"
        " source: 化龙桥规划}\n",
        encoding="utf-8",
    )
    assert parse(path)[0].value == Decimal("12000000000")


def test_imports_never_overwrite_silently_and_keep_versions(store, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert import_targets(store, parse(path)).added == 2
    assert import_targets(store, parse(path)).unchanged == 2  # idempotent
    path.write_text(GOOD.replace("1580", "1600"), encoding="utf-8")
    with pytest.raises(TargetFileError, match="already set; --replace"):
        import_targets(store, parse(path))
    assert import_targets(store, parse(path), replace=True).replaced == 1
    current = store.query(
        "SELECT value, latest_version FROM v_targets WHERE year = 2027 AND scope = 'district' "
        "AND metric = 'retail_sales'"
    ).result_rows
    assert current == [(Decimal("160000000000"), 2)]
    assert store.query("SELECT count() FROM targets WHERE year = 2027 AND scope = 'district'").result_rows == [(2,)]


def test_the_targets_table_has_one_writer():
    """Imports and the seeded targets of `yzmon db migrate` both write through yzcore/targets.py."""
    root = Path(__file__).resolve().parent.parent
    writes = re.compile(r"""insert\(\s*["']targets["']|INSERT\s+INTO\s+targets\b""", re.IGNORECASE)
    writers = [
        str(path.relative_to(root))
        for package in ("yzcore", "streams", "producers", "yzmon", "simulators", "schemas")
        for path in sorted((root / package).rglob("*.py"))
        if writes.search(path.read_text(encoding="utf-8"))
    ]
    assert writers == ["yzcore/targets.py"]


def test_seeding_adds_only_missing_targets_as_version_one(store):
    before = store.query("SELECT count() FROM targets").result_rows[0][0]
    assert before > 0  # migrating seeded them
    assert seed_targets(store, reference.seeded_targets()) == 0
    row = TargetRow(2031, "district", "visits", Decimal("5"), "人次", "test")
    assert seed_targets(store, [row]) == 1
    assert store.query("SELECT version FROM targets WHERE year = 2031").result_rows == [(1,)]
