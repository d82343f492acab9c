"""Scenario files (simulators/scenarios/*.yaml): what a scenario changes, where, when and by how much.

```yaml
name: rain_week
description: 一周连续降雨 …
dates: {start: 2024-06-10, end: 2024-06-17}   # default replay range, [start, end)
effects:
  - what: 到店客流下降30%
    factor: 0.7
    feeds: [footfall]          # sales | footfall | tourists (default: all)
    districts: [jiefangbei]    # default: every 商圈
    units: [jiefangbei-gate-03]  # merchant groups, gates or <商圈>-<origin> (default: all)
    channels: [delivery]       # sales only: in_store | delivery
    start: 2024-06-10          # first day (default: always)
    end: 2024-06-16            # last day, inclusive
    hours: [14, 16]            # local hours [from, to) on each day (default: the whole day);
                               # "HH:MM" for a minute: hours: ["23:50", 24]
```
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import yaml

from schemas.feeds import FEEDS

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
_ALL_FEEDS = tuple(FEEDS)


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True)
class Effect:
    """Multiply the expected volume of matching series by ``factor`` (0 silences them)."""

    factor: float
    what: str = ""
    feeds: tuple[str, ...] = _ALL_FEEDS
    districts: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None
    hours: tuple[int, int] = (0, 24)  # [from, to) in minutes after midnight when ``minutes_span`` is set
    minutes_span: tuple[int, int] | None = None

    def applies(self, feed: str, district: str, day: date, unit: str = "", channel: str = "") -> bool:
        return (
            feed in self.feeds
            and (not self.districts or district in self.districts)
            and (not self.units or unit in self.units)
            and (not self.channels or channel in self.channels)
            and (self.start is None or day >= self.start)
            and (self.end is None or day <= self.end)
        )

    def minutes(self, day: date) -> tuple[int, int]:
        if self.minutes_span is not None:
            return self.minutes_span
        return self.hours[0] * 60, self.hours[1] * 60


@dataclass(frozen=True)
class Outage:
    """A provider drops ``share`` of the merchants it serves from ``start`` to ``end`` (inclusive)."""

    start: date
    end: date
    share: float


@dataclass(frozen=True)
class Sample:
    """What the district receives instead of the whole economy (`simulators.sample`): ``acquirer``, a card
    acquirer's per-merchant hourly summaries of some merchants, and counters on some gates only.
    ``drift``: merchants join and leave the acquirer and a provider loses merchants for weeks each year."""

    kind: str = "acquirer"
    drift: bool = True
    outages: tuple[Outage, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    effects: tuple[Effect, ...] = ()
    sample: Sample | None = None  # None: the census (every event the bureau counts reaches the feed)
    bad_events_per_day: int = 0
    start: date | None = None
    end: date | None = None


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def _effect(raw: dict, where: str) -> Effect:
    unknown = set(raw) - {"what", "factor", "feeds", "districts", "units", "channels", "start", "end", "hours"}
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    if "factor" not in raw or float(raw["factor"]) < 0:
        raise ScenarioError(f"{where}: needs a factor ≥ 0")
    hours = tuple(raw.get("hours", (0, 24)))
    try:
        span = tuple(_minute_of_day(h) for h in hours)
    except ValueError:
        span = ()
    if len(span) != 2 or not 0 <= span[0] < span[1] <= 24 * 60:
        raise ScenarioError(f'{where}: hours must be [from, to) within 0..24 (whole hours or "HH:MM")')
    feeds = tuple(raw.get("feeds", _ALL_FEEDS))
    if set(feeds) - set(_ALL_FEEDS):
        raise ScenarioError(f"{where}: feeds must be among {_ALL_FEEDS}")
    return Effect(
        factor=float(raw["factor"]),
        what=str(raw.get("what", "")),
        feeds=feeds,
        districts=tuple(raw.get("districts", ())),
        units=tuple(raw.get("units", ())),
        channels=tuple(raw.get("channels", ())),
        start=raw.get("start"),
        end=raw.get("end"),
        hours=(span[0] // 60, -(-span[1] // 60)),
        minutes_span=None if all(m % 60 == 0 for m in span) else (span[0], span[1]),
    )


def _minute_of_day(value: object) -> int:
    """Minutes after midnight of an hour (14) or an "HH:MM" time ("23:50"); 24 or "24:00" is the day's end."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 60
    hh, sep, mm = str(value).partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or int(mm) >= 60:
        raise ValueError(value)
    return int(hh) * 60 + int(mm)


SAMPLES = ("census", "acquirer")


def with_sample(scenario: Scenario, kind: str) -> Scenario:
    """``scenario`` as the district receives it: ``census`` (every sale, as it stands unless its file names a
    sample) or ``acquirer`` (a card acquirer's sample; the file's ``sample:`` settings when it has them)."""
    if kind not in SAMPLES:
        raise ScenarioError(f"sample {kind!r}: choose one of {', '.join(SAMPLES)}")
    if kind == "census":
        return scenario
    return scenario if scenario.sample is not None else replace(scenario, sample=Sample())


def _sample(raw: dict | None, where: str) -> Sample | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("kind", "acquirer") != "acquirer":
        raise ScenarioError(f"{where}: sample is a mapping with kind: acquirer")
    outages = []
    for o in raw.get("outages") or []:
        share = float(o.get("share", -1))
        if not 0 < share <= 1 or "start" not in o or "end" not in o:
            raise ScenarioError(f"{where}: an outage needs start, end and a share in (0, 1]")
        outages.append(Outage(o["start"], o["end"], share))
    return Sample("acquirer", bool(raw.get("drift", True)), tuple(outages))


def load(name_or_path: str) -> Scenario:
    """Load a scenario by name (a file in simulators/scenarios/) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no scenario {name_or_path!r}; choose one of: {', '.join(available())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    effects = tuple(_effect(e, f"{path.name} effect {i + 1}") for i, e in enumerate(raw.get("effects") or []))
    dates = raw.get("dates") or {}
    return Scenario(
        name=raw.get("name", path.stem),
        description=raw.get("description", ""),
        effects=effects,
        sample=_sample(raw.get("sample"), path.name),
        bad_events_per_day=int(raw.get("bad_events_per_day", 0)),
        start=dates.get("start"),
        end=dates.get("end"),
    )
