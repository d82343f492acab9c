"""Scenario files (simulators/scenarios/*.yaml): what a scenario changes and by how much."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


@dataclass(frozen=True)
class Effect:
    """Multiply a feed's volume in some 商圈 over a date range and hour window by ``factor``."""

    factor: float
    feeds: tuple[str, ...] = ("sales", "footfall", "tourists")
    districts: tuple[str, ...] = ()  # empty = every 商圈
    start: date | None = None
    end: date | None = None  # inclusive
    hours: tuple[int, int] = (0, 24)  # [from, to) in local hours

    def applies(self, feed: str, district: str, day: date) -> bool:
        return (feed in self.feeds and (not self.districts or district in self.districts)
                and (self.start is None or day >= self.start) and (self.end is None or day <= self.end))


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    effects: tuple[Effect, ...] = ()
    bad_events_per_day: int = 0
    extra: dict = field(default_factory=dict)


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load(name_or_path: str) -> Scenario:
    """Load a scenario by name (a file in simulators/scenarios/) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no scenario {name_or_path!r}; choose one of: {', '.join(available())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    effects = tuple(
        Effect(
            factor=float(e["factor"]),
            feeds=tuple(e.get("feeds", Effect.feeds)),
            districts=tuple(e.get("districts", ())),
            start=e.get("start"),
            end=e.get("end"),
            hours=tuple(e.get("hours", (0, 24))),
        )
        for e in raw.get("effects", [])
    )
    return Scenario(name=raw.get("name", path.stem), description=raw.get("description", ""), effects=effects,
                    bad_events_per_day=int(raw.get("bad_events_per_day", 0)))
