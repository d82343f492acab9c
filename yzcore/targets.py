"""Targets staff can replace or add: `yzmon targets import FILE` (CSV or YAML), validated and versioned.

Rows carry year, scope, metric, value, unit and source. Units convert to base units (亿元 → 元,
万人次 → 人次). An import never overwrites: a changed value for an existing (year, scope, metric)
is refused unless --replace, which adds a new version; the old versions stay in `targets`.

This module is the one writer of the `targets` table (:func:`write`): imports and the seeded targets
that `yzmon db migrate` loads (:func:`seed_targets`) both go through it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from clickhouse_connect.driver.client import Client

from schemas import reference

METRIC_UNITS = {"retail_sales": "元", "tourist_spend": "元", "visits": "人次", "tourists": "人次", "first_stores": "家"}
UNIT_FACTORS = {"元": 1, "万元": 10**4, "亿元": 10**8, "人次": 1, "万人次": 10**4, "亿人次": 10**8, "家": 1}
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
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        raw = [(i + 2, r) for i, r in enumerate(csv.DictReader(io.StringIO(text)))]
    elif path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
        items = data.get("targets", data) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise TargetFileError(f"{path.name}: expected a list under 'targets:'")
        raw = [(i + 1, r) for i, r in enumerate(items)]  # item numbers for YAML
    else:
        raise TargetFileError(f"{path.name}: import a .csv or .yaml file")
    rows, errors = [], []
    for line, r in raw:
        try:
            rows.append(parse_row(r))
        except ValueError as exc:
            errors.append(f"{path.name}:{line}: {exc}")
    keys = [(r.year, r.scope, r.metric) for r in rows]
    errors += [f"{path.name}: {k} appears more than once" for k in sorted(set(keys)) if keys.count(k) > 1]
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


@dataclass
class ImportResult:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0


def import_targets(client: Client, rows: list[TargetRow], replace: bool = False) -> ImportResult:
    """Write new targets (version 1) or, with ``replace``, new versions of changed ones."""
    current = {
        (int(r[0]), r[1], r[2]): (Decimal(str(r[3])), int(r[4]))
        for r in client.query("SELECT year, scope, metric, value, latest_version FROM v_targets").result_rows
    }
    result, out, conflicts = ImportResult(), [], []
    for t in rows:
        key = (t.year, t.scope, t.metric)
        if key not in current:
            out.append((t, 1))
            result.added += 1
        elif current[key][0] == t.value:
            result.unchanged += 1
        elif replace:
            out.append((t, current[key][1] + 1))
            result.replaced += 1
        else:
            conflicts.append(f"{key}: {current[key][0]} already set; --replace records {t.value} as a new version")
    if conflicts:
        raise TargetFileError("\n".join(conflicts))
    write(client, out)
    return result


def seed_targets(client: Client, seeded: Iterable[TargetRow | reference.Target]) -> int:
    """Write the seeded targets as version 1 where a (year, scope, metric) has no target yet; return how many."""
    existing = {(int(r[0]), r[1], r[2]) for r in client.query("SELECT year, scope, metric FROM targets").result_rows}
    new = [(t, 1) for t in seeded if (t.year, t.scope, t.metric) not in existing]
    write(client, new)
    return len(new)


def write(client: Client, versions: list[tuple[TargetRow | reference.Target, int]]) -> None:
    """Insert targets with their version numbers: the one statement that writes the `targets` table."""
    if versions:
        client.insert(
            "targets",
            [(*(getattr(t, f) for f in FIELDS), version) for t, version in versions],
            column_names=list(COLUMNS),
        )
