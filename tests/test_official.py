"""Official releases: units convert exactly, versions are kept, a changed value is refused without
--replace, a new basis is a new series (never growth), and the seeds are cited."""

from datetime import date
from decimal import Decimal

import pytest

from yzcore.official import OfficialFileError, Release, comparable_growth, import_releases, parse, seeded

GOOD = """metric,scope,year,period,sector,basis,level,growth_pct,unit,published,source
retail_sales,district,2024,1—3月,,yz-tjj,345.67,4.1,亿元,2024-04-25,区统计局
retail_sales,district,2024,1—3月,catering,yz-tjj,,9.8,亿元,2024-04-25,区统计局
visits,jiefangbei,2023,全年,,jfb-cbd,20012.5,,万人次,2024-01-20,管委会
"""


def test_units_convert_exactly_with_decimal(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(GOOD, encoding="utf-8")
    rows = parse(path)
    assert [(r.end_month, r.sector, r.level, r.growth_pct) for r in rows] == [
        (3, "", Decimal("34567000000.00"), Decimal("4.1")),
        (3, "catering", None, Decimal("9.8")),
        (12, "", Decimal("200125000.00"), None),
    ]


def test_bad_rows_are_listed_with_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        GOOD.splitlines()[0] + "\n"
        "retail_sales,district,2024,1—4月,,yz-tjj,1,,亿元,2024-05-01,s\n"
        "retail_sales,district,2024,1—3月,,yz-tjj,,,亿元,2024-05-01,s\n"
        "retail_sales,district,2024,1—3月,,yz-tjj,1,,万人次,2024-05-01,s\n"
        "retail_sales,district,2024,1—3月,,yz-tjj,1,,亿元,2023-05-01,s\n",
        encoding="utf-8",
    )
    with pytest.raises(OfficialFileError) as err:
        parse(path)
    lines = str(err.value).splitlines()
    assert [line.split(":")[1] for line in lines] == ["2", "3", "4", "5"]
    assert "period" in lines[0] and "level, a growth_pct" in lines[1] and "unit" in lines[2] and "before" in lines[3]


def test_a_changed_official_value_is_refused_without_replace(store, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert import_releases(store, parse(path)).added == 3
    assert import_releases(store, parse(path)).unchanged == 3  # idempotent
    path.write_text(GOOD.replace("345.67", "346.10"), encoding="utf-8")
    with pytest.raises(OfficialFileError, match="already set; --replace"):
        import_releases(store, parse(path))
    assert import_releases(store, parse(path), replace=True).replaced == 1
    current = store.query(
        "SELECT level, latest_version FROM v_official WHERE year = 2024 AND end_month = 3 AND sector = ''"
    ).result_rows
    assert current == [(Decimal("34610000000.00"), 2)]
    assert store.query("SELECT count() FROM official_releases WHERE year = 2024 AND end_month = 3").result_rows == [
        (3,)
    ]


def test_a_new_basis_is_a_new_series_and_never_growth(store, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(GOOD, encoding="utf-8")
    import_releases(store, parse(path))
    # 2025 on a wider basis (say, a census revision adds firms): the level jumps 30 %, the bureau says +5.0 %.
    wider = "retail_sales,district,2025,1—3月,,yz-tjj-2025,449.4,5.0,亿元,2025-04-24,区统计局\n"
    wider = GOOD.splitlines()[0] + "\n" + wider
    path.write_text(wider, encoding="utf-8")
    assert import_releases(store, parse(path)).added == 1  # a new key, not a conflict with 2024
    old, new = (
        Release("retail_sales", "district", y, 3, "", b, Decimal(v) * 10**8, g, "元", date(y + 1, 1, 1), "")
        for y, b, v, g in ((2024, "yz-tjj", "345.67", Decimal("4.1")), (2025, "yz-tjj-2025", "449.4", Decimal("5.0")))
    )
    assert comparable_growth(old, new) == Decimal("5.0")  # the published growth, not 449.4 / 345.67 − 1 = +30 %
    same_basis = Release(**{**new.__dict__, "basis": "yz-tjj", "growth_pct": None})
    assert round(comparable_growth(old, same_basis), 1) == Decimal("30.0")


def test_the_seeds_are_in_a_migrated_store_each_cited(store):
    rows = store.query("SELECT metric, year, end_month, sector, level, growth_pct, source FROM v_official").result_rows
    assert len(rows) == len(seeded()) >= 9
    assert all(r[6].startswith("seed 00") for r in rows)
    h1 = {(r[0], r[3]): (r[4], r[5]) for r in rows if r[1] == 2023 and r[2] == 6}
    assert h1[("retail_sales", "")] == (Decimal("64570000000.00"), Decimal("3.2"))
    assert h1[("retail_sales", "lodging")] == (None, Decimal("21.9"))
    assert h1[("tourists", "")][0] == Decimal("40879000.00")


def test_the_simulated_bureaus_releases_are_an_importable_file(tmp_path):
    from typer.testing import CliRunner

    from yzmon.cli import app

    out = tmp_path / "sim.csv"
    result = CliRunner().invoke(app, ["official", "simulated", str(out), "--first", "2024", "--last", "2024"])
    assert result.exit_code == 0, result.output
    rows = parse(out)
    # 4 periods × (社零 total + 4 sectors + 解放碑 客流)
    assert len(rows) == 24 and {r.basis for r in rows} == {"sim-tjj-7", "sim-visits-7"}
    assert {r.published for r in rows if r.end_month == 12} == {date(2025, 1, 24)}
