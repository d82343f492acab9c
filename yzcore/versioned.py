"""Versioned reference data imported from files (targets, official releases): read, then never overwrite.

A file is CSV or YAML (a list, or a list under one key); each row is validated on its own and every bad
line is reported with its number. An import compares each row with the current version of its key: a new
key is version 1, an equal value is unchanged, a changed value is refused unless ``replace``, which adds
version n + 1 (earlier versions stay in the table).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")

# Units a file may use, with their factor to the base unit (亿元 → 元, 万人次 → 人次).
UNIT_FACTORS = {"元": 1, "万元": 10**4, "亿元": 10**8, "人次": 1, "万人次": 10**4, "亿人次": 10**8, "家": 1}


class VersionedFileError(ValueError):
    """Every problem of an imported file, one per line, with line numbers."""


def read_rows(path: Path, list_key: str, parse_row: Callable[[object], T], error: type[ValueError]) -> list[T]:
    """Parse every row of a CSV or YAML file with ``parse_row``; raise ``error`` listing every bad line."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        raw = [(i + 2, r) for i, r in enumerate(csv.DictReader(io.StringIO(text)))]
    elif path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
        items = data.get(list_key, data) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise error(f"{path.name}: expected a list under '{list_key}:'")
        raw = [(i + 1, r) for i, r in enumerate(items)]  # item numbers for YAML
    else:
        raise error(f"{path.name}: import a .csv or .yaml file")
    rows, errors = [], []
    for line, r in raw:
        try:
            rows.append(parse_row(r))
        except ValueError as exc:
            errors.append(f"{path.name}:{line}: {exc}")
    if errors:
        raise error("\n".join(errors))
    return rows


@dataclass
class ImportResult:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0


def plan_versions(
    current: dict[Hashable, tuple[object, int]],
    incoming: Sequence[tuple[Hashable, object, tuple]],
    replace: bool,
    error: type[ValueError],
) -> tuple[list[tuple], ImportResult]:
    """The rows to insert, each ``(*row, version)``, for ``incoming`` (key, value, row) against ``current``
    (key → (value, latest version)). A changed value without ``replace`` raises ``error`` naming every one."""
    keys = [k for k, _, _ in incoming]
    dupes = sorted({str(k) for k in keys if keys.count(k) > 1})
    if dupes:
        raise error("\n".join(f"{k} appears more than once" for k in dupes))
    result, out, conflicts = ImportResult(), [], []
    for key, value, row in incoming:
        if key not in current:
            out.append((*row, 1))
            result.added += 1
        elif current[key][0] == value:
            result.unchanged += 1
        elif replace:
            out.append((*row, current[key][1] + 1))
            result.replaced += 1
        else:
            conflicts.append(f"{key}: {current[key][0]} already set; --replace records {value} as a new version")
    if conflicts:
        raise error("\n".join(conflicts))
    return out, result
