"""The 商圈, sectors and tourist origins of schemas/reference/districts.json, their crowd capacities
(schemas/reference/capacity.json), and the seeded targets."""

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
class Capacity:
    """A 商圈's capacity (people inside at once) and its crowd bands, shares of it."""

    district: str
    capacity: int
    warning_share: Decimal
    critical_share: Decimal
    basis: str  # published | operating_setting
    source: str  # the citation or the note, as JSON

    @property
    def warning(self) -> int:
        return int(self.capacity * self.warning_share)

    @property
    def critical(self) -> int:
        return int(self.capacity * self.critical_share)


class CapacityError(ValueError):
    """A reference file that contradicts itself; the message names the file and the entry to fix."""


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


BASES = ("published", "operating_setting")


@lru_cache
def capacities() -> dict[str, Capacity]:
    """Each 商圈's capacity and bands from schemas/reference/capacity.json, checked against districts.json."""
    raw = json.loads((SCHEMA_DIR / "reference" / "capacity.json").read_text(encoding="utf-8"))
    return parse_capacities(raw, set(districts()))


def parse_capacities(raw: dict, known: set[str], name: str = "schemas/reference/capacity.json") -> dict[str, Capacity]:
    """One entry per known 商圈, whole people, 0 < warning < critical; else CapacityError naming what to fix."""
    out: dict[str, Capacity] = {}
    for entry in raw["districts"]:
        c = Capacity(
            entry["district"],
            int(entry["capacity"]),
            Decimal(entry["warning_share"]),
            Decimal(entry["critical_share"]),
            entry["basis"],
            json.dumps(entry["source"], ensure_ascii=False),
        )
        where = f"{name}, 商圈 {c.district!r}"
        if c.district in out:
            raise CapacityError(f"{where}: listed twice; keep one entry")
        if c.basis not in BASES:
            raise CapacityError(f"{where}: basis must be one of {', '.join(BASES)}")
        if any((c.capacity * s) % 1 for s in (c.warning_share, c.critical_share)):
            raise CapacityError(f"{where}: capacity × share must be whole people; adjust the share")
        if not 0 < c.warning < c.critical:
            raise CapacityError(f"{where}: needs 0 < warning ({c.warning}) < critical ({c.critical})")
        out[c.district] = c
    if missing := sorted(known - set(out)):
        raise CapacityError(f"{name}: no capacity for {', '.join(missing)}; add an entry (districts.json lists it)")
    if unknown := sorted(set(out) - known):
        raise CapacityError(f"{name}: {', '.join(unknown)} not in districts.json; remove the entry or add the 商圈")
    return out


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
