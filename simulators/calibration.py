"""Calibration: a simulated year's totals beside the seed figures they must reproduce.

Totals come from the same arrays the events are made of (`simulators.generate.*_arrays`), so a
year is summed in seconds without building 35M events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from simulators.generate import ARRAYS
from simulators.model import MODELS, YI
from simulators.scenario import Scenario

JIEFANGBEI_AREA = ("jiefangbei", "hongyadong", "shibati")


def year_totals(scenario: Scenario, seed: int, year: int) -> dict[str, float]:
    """Sums of one simulated year, in 元 and 人次, keyed like 'sales', 'sales:jiefangbei', 'sales/retail'."""
    totals: dict[str, float] = defaultdict(float)
    day = date(year, 1, 1)
    while day.year == year:
        for district in MODELS:
            for feed, arrays in ARRAYS.items():
                for s in arrays(scenario, seed, day, district):
                    if feed == "sales":
                        yuan = s.values["amount"].sum() / 100
                        totals["sales"] += yuan
                        totals[f"sales:{district}"] += yuan
                        totals[f"sales/{s.attrs['sector']}"] += yuan
                    elif feed == "footfall":
                        totals[f"visits:{district}"] += s.values["entries"].sum()
                    else:
                        totals["tourists"] += s.values["arrivals"].sum()
                        totals["tourist_spend"] += s.values["spend"].sum() / 100
        day += timedelta(days=1)
    totals["sales:jiefangbei_area"] = sum(totals[f"sales:{d}"] for d in JIEFANGBEI_AREA)
    totals["visits:jiefangbei_area"] = sum(totals[f"visits:{d}"] for d in JIEFANGBEI_AREA)
    return dict(totals)


@dataclass(frozen=True)
class Anchor:
    label: str
    seed_text: str
    expected: float  # the value the simulation is calibrated to
    unit: float  # display divisor
    unit_name: str
    simulated: float

    @property
    def error(self) -> float:
        return self.simulated / self.expected - 1


def anchors(y2024: dict[str, float], y2025: dict[str, float]) -> list[Anchor]:
    """The calibration anchors of ../shared/DOMAIN.md with the simulated values."""
    rows = [
        ("渝中 社零 2024", "≈1430亿 (1500/1.05, seed 002)", 1430 * YI, YI, "亿元", y2024["sales"]),
        (
            "解放碑—朝天门 社零 2024",
            "超1100亿 (seed 002); calibrated to 1120亿",
            1120 * YI,
            YI,
            "亿元",
            y2024["sales:jiefangbei_area"],
        ),
        (
            "解放碑—朝天门 客流 2024",
            "超2亿人次 (seed 002); calibrated to 2.05亿",
            2.05 * YI,
            1e4,
            "万人次",
            y2024["visits:jiefangbei_area"],
        ),
        ("渝中 接待游客 2024", "8900万人次 (seed 002)", 8.9e7, 1e4, "万人次", y2024["tourists"]),
        ("渝中 游客花费 2024", "800亿元 (seed 002)", 800 * YI, YI, "亿元", y2024["tourist_spend"]),
        ("渝中 社零 2025", "突破1500亿、增长5%左右 (seed 002)", 1500 * YI, YI, "亿元", y2025["sales"]),
    ]
    return [Anchor(*r) for r in rows]


def sector_growth_rows(y2024: dict[str, float], y2025: dict[str, float]) -> list[tuple[str, float, float]]:
    """(sector, simulated 2025 growth, seed-004 H1 2023 growth) — the seeds set the ranking, 002 the level."""
    seed = {"wholesale": 5.2, "retail": 7.5, "catering": 10.8, "lodging": 21.9}
    return [(s, y2025[f"sales/{s}"] / y2024[f"sales/{s}"] - 1, seed[s] / 100) for s in seed]
