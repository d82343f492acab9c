"""Real feed files: mapping, validation with line numbers, and the shipped examples."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from producers.files import Mapping, MappingError, load_file
from yzmon.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "feeds"


@pytest.mark.parametrize(
    ("feed", "name"),
    [
        ("sales", "sales_unionpay.csv"),
        ("footfall", "footfall_counters.jsonl"),
        ("tourists", "tourists_signalling.parquet"),
    ],
)
def test_shipped_examples_load_cleanly(feed, name):
    path = EXAMPLES / name
    loaded = load_file(path, Mapping.load(path.with_name(path.stem + ".mapping.yaml"), feed))
    assert loaded.bad == [] and len(loaded.events) == loaded.rows == 40
    assert all(e["event_time"].endswith("+08:00") for e in loaded.events)


def test_mapping_translates_names_units_and_zones():
    path = EXAMPLES / "tourists_signalling.parquet"
    frame = pd.read_parquet(path)
    loaded = load_file(path, Mapping.load(EXAMPLES / "tourists_signalling.mapping.yaml", "tourists"))
    assert {e["origin"] for e in loaded.events} <= {
        "chongqing",
        "chengdu",
        "sichuan_other",
        "other_province",
        "overseas",
    }
    assert sum(Decimal(e["spend"]) for e in loaded.events) == Decimal(int(frame["spend_fen"].sum())) / 100


def test_bad_rows_are_reported_with_line_numbers(tmp_path):
    src = (EXAMPLES / "sales_unionpay.csv").read_text(encoding="utf-8").splitlines()
    rows = src[:4]
    rows[2] = rows[2].replace("解放碑—朝天门", "火星")  # line 3: unknown 商圈
    rows[3] = rows[3].rsplit(",", 2)[0] + ",-5.00," + rows[3].rsplit(",", 1)[1]  # line 4: negative amount
    rows.append("UPX,not a time,大坪,零售,daping-retail-01,12.00,1")  # line 5
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    loaded = load_file(path, Mapping.load(EXAMPLES / "sales_unionpay.mapping.yaml", "sales"))
    assert [(b.line, b.reason) for b in loaded.bad] == [
        (3, "unknown_district"),
        (4, "negative_amount"),
        (5, "schema_violation"),
    ]
    assert len(loaded.events) == 1 and loaded.rows == 4


def test_malformed_json_lines_keep_their_line_numbers(tmp_path):
    lines = (EXAMPLES / "footfall_counters.jsonl").read_text().splitlines()[:3]
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join([lines[0], "{oops", lines[1], "[1]", lines[2]]) + "\n")
    loaded = load_file(path, Mapping.load(EXAMPLES / "footfall_counters.mapping.yaml", "footfall"))
    assert [(b.line, b.reason) for b in loaded.bad] == [(2, "malformed_json"), (4, "malformed_json")]
    assert len(loaded.events) == 3 and loaded.rows == 5


def test_the_same_row_gets_the_same_derived_event_id():
    path = EXAMPLES / "footfall_counters.jsonl"
    m = Mapping.load(EXAMPLES / "footfall_counters.mapping.yaml", "footfall")
    assert [e["event_id"] for e in load_file(path, m).events] == [e["event_id"] for e in load_file(path, m).events]


def test_a_mapping_for_another_feed_or_unknown_field_is_refused(tmp_path):
    with pytest.raises(MappingError, match="maps the 'sales' feed"):
        Mapping.load(EXAMPLES / "sales_unionpay.mapping.yaml", "footfall")
    bad = tmp_path / "m.yaml"
    bad.write_text("feed: sales\ncolumns: {price: 金额}\n")
    with pytest.raises(MappingError, match="not fields of sales"):
        Mapping.load(bad, "sales")


def test_cli_dry_run_reports_and_exits_2_on_bad_rows(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "event_id,event_time,district,sector,merchant_group,amount,txn_count\n"
        "a,2024-10-01T10:00:00+08:00,daping,retail,g,10.00,1\n"
        "b,2024-10-01T10:01:00+08:00,daping,retail,g,abc,1\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["load", str(path), "--feed", "sales", "--dry-run"])
    assert result.exit_code == 2
    assert "s.csv:3: schema_violation" in result.output
    assert (tmp_path / "s.csv.rejects.csv").read_text().startswith("line,reason,detail\n3,schema_violation,")
