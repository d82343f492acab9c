"""What Grafana 12 does with a query result before a bar gauge draws it, for the tests of per-商圈 crowd bands.

A faithful port of the parts that matter, from grafana/grafana:
- public/app/features/transformers/rowsToFields/rowsToFields.ts (``rowsToFields``),
- public/app/features/transformers/fieldToConfigMapping/fieldToConfigMapping.ts (``evaluateFieldMappings``,
  ``getFieldConfigFromFrame`` and the ``configMapHandlers``: ``threshold1`` appends a step with the handler's colour,
  ``max`` sets the field's max),
- packages/grafana-data/src/field/thresholds.ts (``getActiveThreshold``: the last step whose value the number reaches).

Overrides matched ``byName`` apply to field names only: a table with one row per 商圈 has a single field
(在场人数), so an override for the name 解放碑—朝天门 matches nothing there. Rows become fields, each with its own
config, only through a transformation such as rowsToFields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NAME, VALUE, LABEL, IGNORE = "field.name", "field.value", "field.label", "__ignore"
HANDLERS = {NAME, VALUE, LABEL, IGNORE, "max", "min", "unit", "decimals", "displayName", "color", "threshold1"}


@dataclass
class Field:
    name: str
    type: str  # "string" | "number"
    values: list[Any]
    config: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)


def frame(columns: list[str], rows: list[tuple]) -> list[Field]:
    """A data frame as the ClickHouse plugin returns a table: one field per column."""
    out = []
    for i, name in enumerate(columns):
        values = [r[i] for r in rows]
        kind = "string" if any(isinstance(v, str) for v in values) else "number"
        out.append(Field(name, kind, values))
    return out


def _evaluate(
    fields: list[Field], mappings: list[dict[str, Any]]
) -> tuple[dict[str, dict], Field | None, Field | None]:
    index: dict[str, dict] = {}
    name_field = value_field = None
    name_mapped = any(m.get("handlerKey") == NAME for m in mappings)
    value_mapped = any(m.get("handlerKey") == VALUE for m in mappings)
    for f in fields:
        mapping = next((m for m in mappings if m["fieldName"] == f.name), None)
        key = mapping["handlerKey"] if mapping else f.name.lower()
        handler = key if key in HANDLERS else None
        if handler:
            if handler == NAME:
                name_field = f
            if handler == VALUE:
                value_field = f
        elif not mapping:
            if name_field is None and not name_mapped and f.type == "string":
                name_field, handler = f, NAME
            if value_field is None and not value_mapped and f.type == "number":
                value_field, handler = f, VALUE
        if not handler:
            handler = LABEL
        index[f.name] = {"handler": handler, "args": (mapping or {}).get("handlerArguments", {})}
    return index, name_field, value_field


def _config(fields: list[Field], row: int, index: dict[str, dict]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for f in fields:
        handler, args = index[f.name]["handler"], index[f.name]["args"]
        value = f.values[row]
        if value is None or handler in (NAME, VALUE, LABEL, IGNORE):
            continue
        if handler == "threshold1":
            config.setdefault("thresholds", {"mode": "absolute", "steps": []})
            color = args.get("threshold", {}).get("color", "red")
            config["thresholds"]["steps"].append({"value": float(value), "color": color})
        elif handler in ("max", "min"):
            config[handler] = float(value)
        else:
            config[handler] = value
    return config


def rows_to_fields(options: dict[str, Any], fields: list[Field]) -> list[Field]:
    """Grafana's rowsToFields: each row becomes a field named after the name column, with its own config."""
    index, name_field, value_field = _evaluate(fields, options.get("mappings", []))
    if name_field is None or value_field is None:
        return fields
    out = []
    for row, name in enumerate(name_field.values):
        labels = {
            f.name: f.values[row] for f in fields if index[f.name]["handler"] == LABEL and f.values[row] is not None
        }
        out.append(Field(str(name), value_field.type, [value_field.values[row]], _config(fields, row, index), labels))
    return out


def active_color(value: float, thresholds: dict[str, Any]) -> str:
    """getActiveThreshold: the first step is the base; then the last step whose value is reached."""
    steps = thresholds["steps"]
    active = steps[0]
    for step in steps:
        if step["value"] is None or value >= step["value"]:
            active = step
        else:
            break
    return active["color"]
