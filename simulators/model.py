"""The shape of consumption and visitor flow in 渝中: annual anchors per 商圈, sector mix, tickets,
growth, day weights and hour-of-day profiles.

Day weights follow the official calendar (`schemas.calendar`) through the product's seasonal profile
(`schemas.seasonal`): holiday windows at their holiday's level whatever the weekday, 调休 Saturdays and
Sundays as working days, the days before and after a window, 除夕 and 跨年夜 with their own hours; each
商圈 scales the weekend and holiday lift by its own character, and rain lowers a day. The simulated day
is the business day from 06:00 to 06:00: its night hours belong to the evening they follow.

Every year is simulated as a normal year on the trend through the 2024 anchors, 2019–2022 included:
for the COVID years 2020–2022 (closures, lockdowns in 2022) it is a counterfactual, not a history, so
a 同比 against them compares with a year that did not happen (`COVID_YEARS`).

Annual anchors are for 2024 and come from ../shared/DOMAIN.md (seed 002): 渝中 社零 ≈ 1430亿,
解放碑—朝天门 area > 1100亿 and > 2亿 visits, 8900万 tourists spending ≈ 800亿. Other years grow by
sector at rates proportional to the seed-004 sector growth (批发 5.2% / 零售 7.5% / 餐饮 10.8% /
住宿 21.9%), scaled so that 社零 grows ≈ 5% a year (seed 002); 化龙桥 grows faster (its new mall
重庆印象城 opened in Sept 2023, seed 004).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from schemas import calendar, seasonal
from schemas.feeds import BUSINESS_DAY_START_HOUR

YI = 100_000_000  # 亿
BASE_YEAR = 2024
TARGET_GROWTH = 0.05  # 社零 growth per year (seed 002: 增长5%左右)
# Tourists a year before the holidays' shift of origins (far origins ×1.25, 市内 ×0.7 on a holiday day,
# `simulators.generate`), which adds ≈ 1.6%: the year then counts the 8900万 of seed 002.
TOURISTS = 8.76e7

SECTOR_TICKET_YUAN = {"wholesale": 2400.0, "retail": 210.0, "catering": 95.0, "lodging": 460.0}
_SEED_SECTOR_GROWTH = {"wholesale": 5.2, "retail": 7.5, "catering": 10.8, "lodging": 21.9}  # seed 004, H1 2023
DELIVERY_SHARE = 0.15  # of catering sales, ordered for delivery on an ordinary day


@dataclass(frozen=True)
class DistrictModel:
    """Size and character of one 商圈: annual 2024 totals and how they spread over the day and week."""

    sales_yuan: float
    sector_mix: dict[str, float]
    merchant_groups: int  # in-store groups per sector
    visits: float  # annual entries counted at its gates
    gates: int
    dwell_minutes: float
    tourists: float
    weekend_factor: float = 1.3
    night: bool = False  # night-economy hot spot: evening-heavy catering and footfall
    footfall_profile: str = "mall"
    rain_visits: float = 0.8  # visits on a rainy day relative to a dry one
    extra_growth: float = 0.0  # growth on top of the sector rates
    # Visits on a holiday: this 商圈's lift relative to the shared holiday level, per holiday (where its
    # published holiday counts show a character of its own; every other holiday at 1).
    holiday_visits: dict[str, float] = field(default_factory=dict)


MODELS: dict[str, DistrictModel] = {
    "jiefangbei": DistrictModel(
        960 * YI,
        {"wholesale": 0.22, "retail": 0.60, "catering": 0.14, "lodging": 0.04},
        4,
        1.485e8,
        8,
        95,
        0.40 * TOURISTS,
    ),
    "hongyadong": DistrictModel(
        90 * YI,
        {"retail": 0.35, "catering": 0.55, "lodging": 0.10},
        2,
        0.30e8,
        4,
        70,
        0.25 * TOURISTS,
        weekend_factor=1.45,
        night=True,
        footfall_profile="scenic_night",
        rain_visits=0.7,
    ),
    "shibati": DistrictModel(
        70 * YI,
        {"retail": 0.40, "catering": 0.50, "lodging": 0.10},
        2,
        0.275e8,
        3,
        75,
        0.12 * TOURISTS,
        weekend_factor=1.45,
        night=True,
        footfall_profile="scenic_night",
        rain_visits=0.7,
        holiday_visits={"labour_day": 1.7},
    ),
    "daping": DistrictModel(
        150 * YI,
        {"wholesale": 0.12, "retail": 0.64, "catering": 0.19, "lodging": 0.05},
        3,
        0.55e8,
        4,
        80,
        0.06 * TOURISTS,
        weekend_factor=1.05,
        rain_visits=0.88,
    ),
    "hualongqiao": DistrictModel(
        90 * YI,
        {"wholesale": 0.08, "retail": 0.60, "catering": 0.27, "lodging": 0.05},
        2,
        0.30e8,
        3,
        85,
        0.05 * TOURISTS,
        weekend_factor=1.35,
        extra_growth=0.10,
    ),
    "eling": DistrictModel(
        10 * YI,
        {"retail": 0.45, "catering": 0.55},
        1,
        0.10e8,
        2,
        60,
        0.07 * TOURISTS,
        weekend_factor=1.6,
        footfall_profile="park",
        rain_visits=0.5,
    ),
    "other": DistrictModel(
        60 * YI,
        {"wholesale": 0.40, "retail": 0.45, "catering": 0.10, "lodging": 0.05},
        2,
        0.08e8,
        2,
        60,
        0.05 * TOURISTS,
        weekend_factor=1.0,
        rain_visits=0.9,
    ),
}

# Where 渝中's tourists come from on an ordinary day. With the holidays' shift the holiday mix matches the
# published shares (`simulators.calibration.CITED`): 市外 84.7% of 渝中's 国庆 tourists, 四川 37–39% of
# the visitors from outside the city, 成都 39% of those from 四川. The overseas share is not calibrated.
ORIGIN_MIX = {"chongqing": 0.24, "chengdu": 0.114, "sichuan_other": 0.178, "other_province": 0.418, "overseas": 0.05}
# Average spend per tourist by origin (元), calibrated so that 8900万 tourists spend ≈ 800亿 (seed 002).
TOURIST_SPEND_YUAN = {
    "chongqing": 346.0,
    "chengdu": 807.0,
    "sichuan_other": 708.0,
    "other_province": 1193.0,
    "overseas": 1811.0,
}

# Chance of a rainy day by month in 渝中 (wet May–June and autumn rains).
RAIN_CHANCE = np.array([0.25, 0.25, 0.35, 0.4, 0.5, 0.5, 0.35, 0.3, 0.45, 0.5, 0.35, 0.25])

# The simulated day is the business day from 06:00 (the quietest hour) to 06:00 the next morning:
# night hours belong to the evening they follow, and people inside at midnight stay inside.
DAY_START_HOUR = BUSINESS_DAY_START_HOUR  # the product's business day (schemas/feeds.py)


def _profile(*peaks: tuple[float, float, float], floor: float = 0.02) -> np.ndarray:
    """A 1440-minute business-day profile (minute 0 = 06:00) from gaussian peaks (hour, width, weight).

    Hours after midnight are written 24–30 (01:00 = 25), so a late peak runs on into the night.
    """
    hours = DAY_START_HOUR + np.arange(1440) / 60.0
    curve = np.full(1440, floor)
    for centre, width, weight in peaks:
        curve += weight * np.exp(-0.5 * ((hours - centre) / width) ** 2)
    return curve / curve.sum()


_NIGHT_FLOOR = 0.0005
# Calibrated so that 18:00–06:00 carries ≈ 60% of consumer spending (零售、餐饮、住宿): see calibration.py.
PROFILES = {
    "wholesale": _profile((10.5, 1.8, 1.0), (15.0, 1.8, 0.8), floor=_NIGHT_FLOOR),
    "retail": _profile((14.0, 2.2, 0.7), (20.0, 1.9, 1.45), (22.8, 1.0, 0.3), floor=_NIGHT_FLOOR),
    "catering": _profile((12.2, 0.9, 0.75), (19.0, 1.4, 1.45), (23.0, 1.6, 0.7), floor=0.004),
    "catering_night": _profile((12.2, 0.9, 0.45), (19.2, 1.4, 1.2), (23.2, 1.8, 1.0), floor=0.006),
    "lodging": _profile((15.0, 3.0, 0.6), (21.5, 2.2, 1.0), floor=0.01),
    "mall": _profile((14.5, 2.5, 1.0), (19.8, 1.9, 1.2), floor=0.002),
    "scenic_night": _profile((15.0, 2.5, 0.6), (20.5, 1.6, 1.3), (23.0, 1.2, 0.45), floor=0.003),
    "park": _profile((10.0, 2.0, 1.0), (16.0, 2.0, 0.9), floor=0.0),
    "tourists": _profile((10.5, 2.0, 1.0), (15.5, 2.5, 0.9), (19.5, 1.5, 0.6), floor=0.002),
}
# 除夕: shops sell 年货 until mid-afternoon and close early; 年夜饭 fills restaurants at 17–20; then home.
CHUXI_PROFILES = {
    "retail": _profile((11.5, 2.2, 1.0), (15.0, 1.5, 0.5), floor=_NIGHT_FLOOR),
    "catering": _profile((12.0, 1.0, 0.4), (18.5, 1.2, 1.6), floor=0.002),
    "footfall": _profile((11.5, 2.5, 1.0), (16.0, 1.5, 0.5), (20.0, 1.0, 0.2), floor=0.001),
}
# 解放碑跨年夜: the crowd converges on the square from the evening, counts down at midnight and
# disperses after it. ``crowd`` is the share of the evening's visits that come for the countdown.
NYE = {"district": "jiefangbei", "crowd": 0.4, "arrive_from": 19.0, "sales_evening": 1.6, "day": 1.4}
COVID_YEARS = (2020, 2021, 2022)  # simulated as normal years: not comparable with what happened


def rainy(seed: int, day: date) -> bool:
    """Whether it rains in 渝中 on ``day`` in the run with ``seed`` (the same for every 商圈)."""
    u = zlib.crc32(f"rain|{seed}|{day.isoformat()}".encode()) / 2**32
    return u < RAIN_CHANCE[day.month - 1]


def rain_factor(district: str, feed: str, seed: int | None, day: date) -> float:
    """Volume on ``day`` relative to a dry day; with no seed, the expectation over the month's rain chance."""
    m = MODELS[district]
    wet = {"sales": 0.93, "footfall": m.rain_visits, "tourists": 0.9}[feed]
    if seed is None:
        chance = float(RAIN_CHANCE[day.month - 1])
        return 1 - chance * (1 - wet)
    return wet if rainy(seed, day) else 1.0


def raw_day_weight(district: str, day: date, feed: str, seed: int | None) -> float:
    """Unnormalised weight of the business day ``day`` for one 商圈 and feed (official calendar)."""
    model = MODELS[district]
    scale = model.weekend_factor / 1.3  # a busier weekend, a bigger holiday lift
    if feed == "footfall" and model.holiday_visits:
        window = calendar.day_info(day).window
        scale *= model.holiday_visits.get(window.holiday, 1.0) if window else 1.0
    level = seasonal.day_level(day, feed, weekend=model.weekend_factor, holiday_scale=scale)
    if day.month == 12 and day.day == 31 and district == NYE["district"] and feed != "tourists":
        level *= NYE["day"]  # 跨年夜: the countdown crowd comes on top of the day
    return seasonal.SEASON[day.month - 1] * level * rain_factor(district, feed, seed, day)


def day_share(district: str, day: date, feed: str, seed: int | None = None) -> float:
    """Share of the year's total that falls on ``day`` (the shares of a year sum to 1).

    With a seed, that run's rainy days count; without, the expected weather does (for pace).
    """
    return raw_day_weight(district, day, feed, seed) / _year_weight(district, day.year, feed, seed)


@lru_cache(maxsize=4096)
def _year_weight(district: str, year: int, feed: str, seed: int | None) -> float:
    d, total = date(year, 1, 1), 0.0
    while d.year == year:
        total += raw_day_weight(district, d, feed, seed)
        d += timedelta(days=1)
    return total


@lru_cache
def sector_growth() -> dict[str, float]:
    """Yearly growth per sector: the seed rates, scaled so the 渝中 sector mix grows by TARGET_GROWTH."""
    mix: dict[str, float] = {}
    for m in MODELS.values():
        for sector, share in m.sector_mix.items():
            mix[sector] = mix.get(sector, 0.0) + m.sales_yuan * share
    total = sum(mix.values())
    weighted = sum(mix[s] / total * rate for s, rate in _SEED_SECTOR_GROWTH.items())
    extra = sum(m.sales_yuan * m.extra_growth for m in MODELS.values()) / total  # 化龙桥's own growth
    return {s: (TARGET_GROWTH - extra) * rate / weighted for s, rate in _SEED_SECTOR_GROWTH.items()}


# Sales swing around their trend from year to year (log level; 2024, the anchor year, at 0 and 2025 close to
# it, so that the calibration to the seeds holds): a year does not grow by exactly 5 %, so last year × 1.05
# is not the bureau's figure. 批发, which no card sample sees, swings on its own as well. Simulated swings.
CYCLE = {2018: 0.004, 2019: -0.010, 2020: 0.012, 2021: -0.006, 2022: 0.016, 2023: -0.012, 2025: 0.003, 2026: -0.01}
WHOLESALE_CYCLE = {2019: 0.02, 2020: -0.015, 2021: 0.01, 2022: -0.02, 2023: 0.015, 2026: 0.01}


def year_scale(district: str, year: int, sector: str | None = None) -> float:
    """Volume of ``year`` relative to 2024: sector growth and the year's swing for sales, ≈ 5% for visits and
    tourists."""
    rate = sector_growth()[sector] if sector else TARGET_GROWTH
    trend = (1 + rate + MODELS[district].extra_growth) ** (year - BASE_YEAR)
    if sector is None:
        return trend
    return trend * math.exp(CYCLE.get(year, 0.0) + (WHOLESALE_CYCLE.get(year, 0.0) if sector == "wholesale" else 0.0))
