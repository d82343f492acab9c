"""Targets staff can replace or add: `yzmon targets import FILE` (CSV or YAML), validated and versioned.

Rows carry year, scope, metric, value, unit and source. Units convert to base units (亿元 → 元,
万人次 → 人次). An import never overwrites: a changed value for an existing (year, scope, metric)
is refused unless --replace, which adds a new version; the old versions stay in `targets`.

This module is the one writer of the `targets` table (:func:`write`): imports and the seeded targets
that `yzmon db migrate` loads (:func:`seed_targets`) both go through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas import reference
from yzcore.versioned import UNIT_FACTORS, ImportResult, plan_versions, read_rows

METRIC_UNITS = {"retail_sales": "元", "tourist_spend": "元", "visits": "人次", "tourists": "人次", "first_stores": "家"}
FIELDS = ("year", "scope", "metric", "value", "unit", "source")
COLUMNS = (*FIELDS, "version")  # the columns of `targets` its writer fills (loaded_at is the insert time)


class TargetFileError(ValueError):
    """Every problem of a target file, one per line, with line numbers."""


@dataclass(frozen=True)
class TargetRow:
    year: int
    scope: str
    metric: str
    value: Decimal  # base units
    unit: str  # base unit
    source: str


def scopes() -> set[str]:
    d = reference.districts()
    return {"district"} | set(d) | {x.area for x in d.values()}


def parse(path: Path) -> list[TargetRow]:
    """Read and validate a CSV or YAML target file; raise TargetFileError listing every bad line."""
    rows = read_rows(path, "targets", parse_row, TargetFileError)
    keys = [(r.year, r.scope, r.metric) for r in rows]
    errors = [f"{path.name}: {k} appears more than once" for k in sorted(set(keys)) if keys.count(k) > 1]
    if errors:
        raise TargetFileError("\n".join(errors))
    return rows


def parse_row(r: object) -> TargetRow:
    if not isinstance(r, dict):
        raise ValueError("each target is a mapping with " + ", ".join(FIELDS))
    missing = [f for f in FIELDS if str(r.get(f) or "").strip() == ""]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    try:
        year = int(str(r["year"]))
    except ValueError:
        raise ValueError(f"year {r['year']!r} is not a year") from None
    if not 2000 <= year <= 2100:
        raise ValueError(f"year {year} is out of range")
    scope, metric, unit = str(r["scope"]).strip(), str(r["metric"]).strip(), str(r["unit"]).strip()
    if scope not in scopes():
        raise ValueError(f"scope {scope!r} is not district or a known 商圈/片区 ({', '.join(sorted(scopes()))})")
    if metric not in METRIC_UNITS:
        raise ValueError(f"metric {metric!r} is not one of {', '.join(METRIC_UNITS)}")
    if unit not in UNIT_FACTORS or not unit.endswith(METRIC_UNITS[metric]):
        raise ValueError(f"unit {unit!r} does not fit {metric} (base unit {METRIC_UNITS[metric]})")
    try:
        value = Decimal(str(r["value"]).replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"value {r['value']!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"value {r['value']!r} must be a finite number ≥ 0")
    return TargetRow(year, scope, metric, value * UNIT_FACTORS[unit], METRIC_UNITS[metric], str(r["source"]).strip())


def import_targets(client: Client, rows: list[TargetRow], replace: bool = False) -> ImportResult:
    """Write new targets (version 1) or, with ``replace``, new versions of changed ones."""
    current = {
        (int(r[0]), r[1], r[2]): (Decimal(str(r[3])), int(r[4]))
        for r in client.query("SELECT year, scope, metric, value, latest_version FROM v_targets").result_rows
    }
    incoming = [((t.year, t.scope, t.metric), t.value, tuple(getattr(t, f) for f in FIELDS)) for t in rows]
    out, result = plan_versions(current, incoming, replace, TargetFileError)
    write(client, out)
    return result


def seed_targets(client: Client, seeded: Iterable[TargetRow | reference.Target]) -> int:
    """Write the seeded targets as version 1 where a (year, scope, metric) has no target yet; return how many."""
    existing = {(int(r[0]), r[1], r[2]) for r in client.query("SELECT year, scope, metric FROM targets").result_rows}
    new = [(*(getattr(t, f) for f in FIELDS), 1) for t in seeded if (t.year, t.scope, t.metric) not in existing]
    write(client, new)
    return len(new)


def write(client: Client, versions: list[tuple]) -> None:
    """Insert target rows, each ``(*FIELDS, version)``: the one statement that writes the `targets` table."""
    if versions:
        client.insert("targets", versions, column_names=list(COLUMNS))
