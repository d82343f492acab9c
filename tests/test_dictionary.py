from pathlib import Path

from yzmon.dictionary import generate

DOC = Path(__file__).resolve().parent.parent / "docs" / "data_dictionary.md"


def test_the_committed_data_dictionary_is_what_the_schema_generates(store):
    generated = generate(store)
    assert "## `sales_raw` · ReplacingMergeTree" in generated
    assert "| `amount` | `Decimal(18, 2)` | 销售额(元) |" in generated
    assert DOC.read_text(encoding="utf-8") == generated, "run `yzmon db dictionary` and commit docs/data_dictionary.md"
