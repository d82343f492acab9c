"""The shape of consumption and visitor flow in 渝中: annual anchors per 商圈, sector mix, tickets,
day weights (weekday/weekend, season, golden weeks) and hour-of-day profiles.

Annual anchors are for 2024 and come from ../shared/DOMAIN.md (seed 002): 渝中 社零 ≈ 1430亿,
解放碑—朝天门 area > 1100亿 and > 2亿 visits, 8900万 tourists. Other years scale by GROWTH.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

YI = 100_000_000  # 亿
GROWTH = 1.05  # 社零 growth per year (seed 002: 增长5%左右)
BASE_YEAR = 2024

SECTOR_TICKET_YUAN = {"wholesale": 2400.0, "retail": 210.0, "catering": 95.0, "lodging": 460.0}

# 正月初一 of each year: 春节 golden week starts the day before (除夕).
SPRING_FESTIVAL = {
    2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29),
    2026: date(2026, 2, 17), 2027: date(2027, 2, 6),
}


@dataclass(frozen=True)
class DistrictModel:
    """Size and character of one 商圈: annual 2024 totals and how they spread over the day."""

    sales_yuan: float
    sector_mix: dict[str, float]
    merchant_groups: int  # per sector
    visits: float  # annual entries counted at its gates
    gates: int
    dwell_minutes: float
    tourists: float
    weekend_factor: float = 1.3
    night: bool = False  # night-economy hot spot: evening-heavy profile
    footfall_profile: str = "mall"
    extra: dict[str, float] = field(default_factory=dict)


MODELS: dict[str, DistrictModel] = {
    "jiefangbei": DistrictModel(960 * YI, {"wholesale": 0.22, "retail": 0.60, "catering": 0.14, "lodging": 0.04},
                                4, 1.46e8, 8, 95, 0.40 * 8.9e7),
    "hongyadong": DistrictModel(90 * YI, {"retail": 0.35, "catering": 0.55, "lodging": 0.10},
                                2, 0.40e8, 4, 70, 0.25 * 8.9e7, weekend_factor=1.45, night=True,
                                footfall_profile="scenic_night"),
    "shibati": DistrictModel(70 * YI, {"retail": 0.40, "catering": 0.50, "lodging": 0.10},
                             2, 0.20e8, 3, 75, 0.12 * 8.9e7, weekend_factor=1.45, night=True,
                             footfall_profile="scenic_night"),
    "daping": DistrictModel(150 * YI, {"wholesale": 0.12, "retail": 0.64, "catering": 0.19, "lodging": 0.05},
                            3, 0.55e8, 4, 80, 0.06 * 8.9e7, weekend_factor=1.05),
    "hualongqiao": DistrictModel(90 * YI, {"wholesale": 0.08, "retail": 0.60, "catering": 0.27, "lodging": 0.05},
                                 2, 0.30e8, 3, 85, 0.05 * 8.9e7, weekend_factor=1.35),
    "eling": DistrictModel(10 * YI, {"retail": 0.45, "catering": 0.55},
                           1, 0.10e8, 2, 60, 0.07 * 8.9e7, weekend_factor=1.6, footfall_profile="park"),
    "other": DistrictModel(60 * YI, {"wholesale": 0.40, "retail": 0.45, "catering": 0.10, "lodging": 0.05},
                           2, 0.08e8, 2, 60, 0.05 * 8.9e7, weekend_factor=1.0),
}

ORIGIN_MIX = {"chongqing": 0.38, "chengdu": 0.17, "sichuan_other": 0.12, "other_province": 0.28, "overseas": 0.05}

# Month-of-year factors (Jan..Dec), mean ≈ 1.
SEASON = np.array([1.08, 1.06, 0.92, 0.95, 1.0, 0.96, 1.02, 1.04, 0.95, 1.06, 0.96, 1.1])


def _profile(*peaks: tuple[float, float, float], floor: float = 0.02) -> np.ndarray:
    """A 1440-minute day profile from gaussian peaks (hour, width in hours, weight), normalised to 1."""
    hours = np.arange(1440) / 60.0
    curve = np.full(1440, floor)
    for centre, width, weight in peaks:
        # wrap around midnight so that a 23:00 peak spills into 00:xx
        for shift in (-24, 0, 24):
            curve += weight * np.exp(-0.5 * ((hours - centre - shift) / width) ** 2)
    return curve / curve.sum()


_NIGHT_FLOOR = 0.0005
PROFILES = {
    "wholesale": _profile((10.5, 1.8, 1.0), (15.0, 1.8, 0.8), floor=_NIGHT_FLOOR),
    "retail": _profile((14.5, 2.5, 1.0), (20.0, 1.6, 0.9), floor=_NIGHT_FLOOR),
    "catering": _profile((12.2, 0.9, 1.0), (18.8, 1.2, 1.2), (22.5, 1.4, 0.45), floor=0.004),
    "catering_night": _profile((12.2, 0.9, 0.6), (19.0, 1.3, 1.1), (22.8, 1.6, 0.9), floor=0.006),
    "lodging": _profile((15.0, 3.0, 1.0), (21.0, 2.0, 0.7), floor=0.01),
    "mall": _profile((14.5, 2.5, 1.0), (19.5, 1.8, 1.0), floor=0.003),
    "scenic_night": _profile((15.0, 2.5, 0.6), (20.5, 1.6, 1.3), (23.0, 1.0, 0.4), floor=0.004),
    "park": _profile((10.0, 2.0, 1.0), (16.0, 2.0, 0.9), floor=0.0),
    "tourists": _profile((10.5, 2.0, 1.0), (15.5, 2.5, 0.9), (19.5, 1.5, 0.6), floor=0.002),
}


def golden_week(day: date) -> str | None:
    """Name of the golden week or festival ``day`` belongs to, if any."""
    sf = SPRING_FESTIVAL.get(day.year)
    if sf and sf - timedelta(days=1) <= day <= sf + timedelta(days=6):
        return "spring_festival"
    if day.month == 5 and day.day <= 5:
        return "labour_day"
    if day.month == 10 and day.day <= 7:
        return "national_day"
    return None


HOLIDAY_FACTOR = {  # (sales, visits, tourists)
    "spring_festival": (1.55, 1.6, 2.2),
    "labour_day": (1.45, 1.8, 2.3),
    "national_day": (1.55, 2.0, 2.6),
}


def raw_day_weight(district: str, day: date, feed: str) -> float:
    """Unnormalised weight of ``day`` for one 商圈 and feed."""
    model = MODELS[district]
    weight = float(SEASON[day.month - 1])
    if day.weekday() >= 5:
        weight *= model.weekend_factor
    holiday = golden_week(day)
    if holiday:
        weight *= HOLIDAY_FACTOR[holiday][{"sales": 0, "footfall": 1, "tourists": 2}[feed]]
    return weight


def day_share(district: str, day: date, feed: str) -> float:
    """Share of the year's total that falls on ``day`` (weights of the year sum to 1)."""
    return raw_day_weight(district, day, feed) / _year_weight(district, day.year, feed)


_year_cache: dict[tuple[str, int, str], float] = {}


def _year_weight(district: str, year: int, feed: str) -> float:
    key = (district, year, feed)
    if key not in _year_cache:
        d, total = date(year, 1, 1), 0.0
        while d.year == year:
            total += raw_day_weight(district, d, feed)
            d += timedelta(days=1)
        _year_cache[key] = total
    return _year_cache[key]


def year_scale(year: int) -> float:
    return GROWTH ** (year - BASE_YEAR)
