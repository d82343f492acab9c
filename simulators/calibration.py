"""Calibration: a simulated year's totals beside the seed figures (±2%) and the published holiday
and night-economy figures (±10%, noisier: other counting methods) they must reproduce.

Totals come from the same arrays the events are made of (`simulators.generate.*_arrays`), so a
year is summed in seconds without building 35M events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from schemas import calendar
from simulators.generate import ARRAYS, footfall_arrays
from simulators.model import MODELS, YI
from simulators.scenario import Scenario

JIEFANGBEI_AREA = ("jiefangbei", "hongyadong", "shibati")
CONSUMER_SECTORS = ("retail", "catering", "lodging")  # 城市消费: 零售、餐饮、住宿 (批发 is trade between firms)
NIGHT = (18, 6)  # 夜间经济: 18:00 to 06:00 the next morning
SEED_TOLERANCE, CITED_TOLERANCE = 0.02, 0.10


def year_totals(scenario: Scenario, seed: int, year: int) -> dict[str, float]:
    """Sums of one simulated year, in 元 and 人次, keyed like 'sales', 'sales:jiefangbei', 'sales/retail'."""
    totals: dict[str, float] = defaultdict(float)
    day = date(year, 1, 1)
    while day.year == year:
        for district in MODELS:
            for feed, arrays in ARRAYS.items():
                for s in arrays(scenario, seed, day, district):
                    if feed == "sales":
                        amount = s.values["amount"]
                        yuan = amount.sum() / 100
                        night = (amount[: NIGHT[1] * 60].sum() + amount[NIGHT[0] * 60 :].sum()) / 100
                        totals[f"night_sales/{s.attrs['sector']}"] += night
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


@dataclass(frozen=True)
class Cited:
    """A published figure, where it was published, and how to measure the same thing in a simulation."""

    label: str
    value: float
    unit: float
    unit_name: str
    source: str  # publisher and date
    says: str  # what the publication says
    url: str
    holiday: str = ""  # a holiday window: the figure is a daily average over it
    year: int = 0
    districts: tuple[str, ...] = ()


CITED: tuple[Cited, ...] = (
    Cited(
        "解放碑商圈 日均客流 2023中秋国庆",
        99e4,
        1e4,
        "万人次/日",
        "重庆日报 2023-10-07 (市商务委)",
        "解放碑商圈人流量累计793万人次, 日均突破99万人次 (中秋国庆 9-29至10-06, 8天)",
        "http://cq.china.com.cn/2023-10/07/content_42542159.html",
        "national_day",
        2023,
        JIEFANGBEI_AREA,
    ),
    Cited(
        "解放碑商圈 日均客流 2024五一",
        90e4,
        1e4,
        "万人次/日",
        "新重庆-重庆日报 2024-05-06 (市商务委)",
        "解放碑商圈迎客450万人次 (五一 5-1至5-5, 5天)",
        "https://difang.gmw.cn/cq/2024-05/06/content_37304988.htm",
        "labour_day",
        2024,
        JIEFANGBEI_AREA,
    ),
    Cited(
        "渝中区 日均客流 2024春节",
        148.9e4,
        1e4,
        "万人次/日",
        "人民网-重庆频道 2024-02-17 (市商务委监测)",
        "渝中区…日均客流达148.9万人/次、增长25% (春节 2-10至2-17, 8天)",
        "http://cq.people.com.cn/BIG5/n2/2024/0217/c365401-40747172.html",
        "spring_festival",
        2024,
        tuple(MODELS),
    ),
    Cited(
        "夜间(18–6时)消费占比, 零售+餐饮+住宿",
        0.60,
        0.01,
        "%",
        "中新社 2022-01-21 (重庆市商务委)",
        "重庆城市消费中有60%发生在夜间 (夜经济: 18时至次日6时); 人民日报 2025-10-09 引市商务委统计: "
        "2025年上半年超过一半的城市消费发生在夜间",
        "http://orisbrush.com/cj/jjgc/2022-01-21/1284428.html",
    ),
)


@dataclass(frozen=True)
class CitedResult:
    figure: Cited
    simulated: float

    @property
    def error(self) -> float:
        return self.simulated / self.figure.value - 1


def holiday_daily_visits(scenario: Scenario, seed: int, holiday: str, year: int, districts: tuple[str, ...]) -> float:
    """Average visits per day over the official window of ``holiday`` in ``year`` (calendar days)."""
    w = calendar.window(holiday, year)
    total, d = 0, w.start
    while d <= w.end:
        total += sum(
            int(g.values["entries"].sum()) for dist in districts for g in footfall_arrays(scenario, seed, d, dist)
        )
        d += timedelta(days=1)
    return total / w.length


def night_share(totals: dict[str, float]) -> float:
    """18:00–06:00 share of consumer spending (零售、餐饮、住宿) in a year's totals."""
    night = sum(totals[f"night_sales/{s}"] for s in CONSUMER_SECTORS)
    return night / sum(totals[f"sales/{s}"] for s in CONSUMER_SECTORS)


def cited(scenario: Scenario, seed: int, totals: dict[str, float]) -> list[CitedResult]:
    """Each published figure beside the simulation (holidays in their own year; the night share in ``totals``)."""
    out = []
    for f in CITED:
        if f.holiday:
            sim = holiday_daily_visits(scenario, seed, f.holiday, f.year, f.districts)
        else:
            sim = night_share(totals)
        out.append(CitedResult(f, sim))
    return out
