"""The 商圈, sectors and tourist origins of schemas/reference/districts.json, and the seeded targets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from schemas import SCHEMA_DIR


@dataclass(frozen=True)
class District:
    id: str
    name_zh: str
    area: str
    area_zh: str
    kind: str


@dataclass(frozen=True)
class Target:
    year: int
    scope: str
    metric: str
    value: Decimal
    unit: str
    source: str


@lru_cache
def _reference() -> dict:
    return json.loads((SCHEMA_DIR / "reference" / "districts.json").read_text(encoding="utf-8"))


@lru_cache
def districts() -> dict[str, District]:
    return {d["id"]: District(**d) for d in _reference()["districts"]}


@lru_cache
def sectors() -> dict[str, str]:
    return {s["id"]: s["name_zh"] for s in _reference()["sectors"]}


@lru_cache
def origins() -> dict[str, str]:
    return {o["id"]: o["name_zh"] for o in _reference()["origins"]}


@lru_cache
def seeded_targets() -> tuple[Target, ...]:
    raw = json.loads((SCHEMA_DIR / "reference" / "targets.json").read_text(encoding="utf-8"))
    return tuple(Target(**{**t, "value": Decimal(t["value"])}) for t in raw["targets"])


@lru_cache
def sources() -> tuple[dict, ...]:
    """What each feed source covers (schemas/reference/sources.json)."""
    raw = json.loads((SCHEMA_DIR / "reference" / "sources.json").read_text(encoding="utf-8"))
    return tuple(raw["sources"])


@lru_cache
def nowcast_errors() -> tuple[dict, ...]:
    """The nowcast's back-tested errors per horizon (schemas/reference/nowcast_errors.json, written by
    ``python -m benchmarks.nowcast --write-errors``); empty until then."""
    path = SCHEMA_DIR / "reference" / "nowcast_errors.json"
    return tuple(json.loads(path.read_text(encoding="utf-8"))["errors"]) if path.exists() else ()
