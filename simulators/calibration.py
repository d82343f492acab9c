"""Calibration: a simulated year's totals beside the seed figures (±2%) and the published holiday,
night-economy and visitor-origin figures (±10%, noisier: other counting methods) they must reproduce.

Totals come from the same arrays the events are made of (`simulators.generate.*_arrays`), so a
year is summed in seconds without building 35M events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from schemas import calendar
from simulators.generate import ARRAYS, footfall_arrays, tourists_arrays
from simulators.model import MODELS, YI
from simulators.scenario import Scenario

JIEFANGBEI_AREA = ("jiefangbei", "hongyadong", "shibati")
CONSUMER_SECTORS = ("retail", "catering", "lodging")  # 城市消费: 零售、餐饮、住宿 (批发 is trade between firms)
NIGHT = (18, 6)  # 夜间经济: 18:00 to 06:00 the next morning
SEED_TOLERANCE, CITED_TOLERANCE = 0.02, 0.10
# A published share of visitors is also held within ±3 percentage points: the two published shares of
# 四川 among visitors from outside the city, by the same method two years apart, differ by 2 points.
SHARE_POINTS = 0.03
OUTSIDE = ("chengdu", "sichuan_other", "other_province", "overseas")  # 市外: from outside 重庆
SICHUAN = ("chengdu", "sichuan_other")


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
    holiday: str = ""  # a holiday window: the figure is a daily average over it, or a share in it
    year: int = 0
    districts: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()  # a share of tourists: those from ``origins`` ...
    among: tuple[str, ...] = ()  # ... among those from ``among`` (every origin when empty), all 商圈


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
    # The scenic 商圈: the counts of 重庆市文化旅游委's monitored scenic areas (洪崖洞民俗风貌区) and
    # 旅游休闲街区 (十八梯传统风貌区), released after each holiday, as this 商圈's counted visits.
    Cited(
        "洪崖洞 日均客流 2024五一",
        62.4e4 / 5,
        1e4,
        "万人次/日",
        "新华网 2024-05-06 (重庆市文化旅游委)",
        "洪崖洞民俗风貌区接待游客62.4万人次 (五一 5-1至5-5, 5天)",
        "http://big5.news.cn/gate/big5/cq.news.cn/20240506/550ad86968fa496bbe658f5dce0b121f/c.html",
        "labour_day",
        2024,
        ("hongyadong",),
    ),
    Cited(
        "洪崖洞 日均客流 2025五一",
        69.8e4 / 5,
        1e4,
        "万人次/日",
        "人民网-重庆频道 2025-05-05 (重庆市文化旅游委)",
        "全市重点监测的130家景区…洪崖洞民俗风貌区69.8万人次 (五一 5-1至5-5, 5天)",
        "http://cq.people.com.cn/BIG5/n2/2025/0505/c365401-41217956.html",
        "labour_day",
        2025,
        ("hongyadong",),
    ),
    Cited(
        "洪崖洞 日均客流 2026春节",
        138e4 / 9,
        1e4,
        "万人次/日",
        "重庆日报 2026-02-24 (市文化旅游委)",
        "洪崖洞民俗风貌区接待游客138万人次 (9天春节假期 2-15至2-23)",
        "https://epaper.cqrb.cn/cqrb/2026-02/24/001/content_rb_356971.htm",
        "spring_festival",
        2026,
        ("hongyadong",),
    ),
    Cited(
        "十八梯 日均客流 2025五一",
        79.9e4 / 5,
        1e4,
        "万人次/日",
        "人民网-重庆频道 2025-05-05 (重庆市文化旅游委)",
        "全市重点监测的旅游休闲街区…十八梯传统风貌区79.9万人次 (五一 5-1至5-5, 5天)",
        "http://cq.people.com.cn/BIG5/n2/2025/0505/c365401-41217956.html",
        "labour_day",
        2025,
        ("shibati",),
    ),
    Cited(
        "十八梯 日均客流 2026春节",
        129.7e4 / 9,
        1e4,
        "万人次/日",
        "重庆日报 2026-02-24 (市文化旅游委)",
        "重点监测的10家旅游休闲街区中…十八梯传统风貌区接待游客129.7万人次 (9天春节假期 2-15至2-23)",
        "https://epaper.cqrb.cn/cqrb/2026-02/24/001/content_rb_356971.htm",
        "spring_festival",
        2026,
        ("shibati",),
    ),
    # Found but not reproduced (`holiday_daily_visits`, baseline, seed 7):
    # - 洪崖洞 2024中秋 17.4万人次 in 3 days (人民网-重庆频道 2024-09-18, repr. at
    #   http://liaoningxiaochi.com/n2/2024/0918/c365402-40980279.html): simulated ≈ +47%; the shared
    #   中秋 level of `schemas.seasonal` puts the day far above what this count implies.
    # - 洪崖洞 2024春节 107.1万人次 to 2-17 18时 (a company site's reprint of the 市文化和旅游委 release,
    #   http://www.cqgtcfzp.com/service/show-15186.html): simulated ≈ +9.6%, not held (weak source).
    # - 洪崖洞 2023五一 51.91万人次 (重庆日报 2023-05-04, repr. at
    #   http://m.zhengquan.ozhou.com.cn/zixun/2023/0504/11674.html): simulated ≈ +26%; the trend through
    #   2024 misses 2023's post-COVID ramp.
    # - No published 山城巷 count was found; the 十八梯 counts stand for the 十八梯—山城巷 商圈.
    # The origin of 渝中's tourists in a holiday (`origins` among `among`, arrivals of every 商圈).
    Cited(
        "渝中 市外游客占比 2019国庆",
        965.9 / 1140.9,
        0.01,
        "%",
        "微渝中 (渝中区) 2019-10-09",
        "10月1-7日 渝中区累计接待游客1140.9万人次, 其中接待外地游客965.9万人次 (外地 read as 市外)",
        "http://chongqing.baogaosu.com/xinwen/%E6%B8%9D%E4%B8%AD%E5%9B%BD%E5%BA%86%E4%BA%BA%E6%B0%94%E6%88%90%E7%BB%A9%E5%8D%95%E5%87%BA%E7%82%89%E5%95%A6%E6%9D%A5%E7%9C%8B%E7%9C%8B/78357776/",
        "national_day",
        2019,
        origins=OUTSIDE,
    ),
    Cited(
        "四川 占市外来渝游客 2023五一",
        71 / 182,
        0.01,
        "%",
        "重庆日报 2023-05-05 (重庆移动《2023年“五一”大数据报告》, 全市)",
        "市外来渝人数达182万人…前往重庆的四川游客数量达71万人",
        "http://bcjhc.cn/html/jsxw/20230505/1077400.htm",
        "labour_day",
        2023,
        origins=SICHUAN,
        among=OUTSIDE,
    ),
    Cited(
        "四川 占入渝游客 2021国庆",  # a holiday of COVID travel limits; 2023's share above by the same method
        0.37,
        0.01,
        "%",
        "中国新闻网 2021-10-09 (重庆移动《2021年国庆大数据报告》, 全市)",
        "入渝游客约232万人…四川省是入渝游客数量最多的省份, 游客约86.2万人, 占比超37%",
        "https://www.51djqu.com/news/show-191.html",
        "national_day",
        2021,
        origins=SICHUAN,
        among=OUTSIDE,
    ),
    Cited(
        "成都 占四川来渝游客 2021国庆",
        0.39,
        0.01,
        "%",
        "中国新闻网 2021-10-09 (重庆移动《2021年国庆大数据报告》, 全市)",
        "在四川省的游客中, 来自成都的游客最多, 约34万人, 占总游客数39%",
        "https://www.51djqu.com/news/show-191.html",
        "national_day",
        2021,
        origins=("chengdu",),
        among=SICHUAN,
    ),
    # Not held: the same 2021 report gives 外省游客 53% at the three hottest scenic areas (长江索道, 洪崖洞,
    # 磁器口 in 沙坪坝) in a holiday of COVID travel limits, against 84.7% for all of 渝中 in 2019.
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


def holiday_origin_share(
    scenario: Scenario, seed: int, holiday: str, year: int, origins: tuple[str, ...], among: tuple[str, ...] = ()
) -> float:
    """Share of tourist arrivals from ``origins`` among those from ``among`` (all) in a holiday window, all 商圈."""
    w = calendar.window(holiday, year)
    counts: dict[str, int] = defaultdict(int)
    d = w.start
    while d <= w.end:
        for district in MODELS:
            for s in tourists_arrays(scenario, seed, d, district):
                counts[s.attrs["origin"]] += int(s.values["arrivals"].sum())
        d += timedelta(days=1)
    base = sum(n for o, n in counts.items() if not among or o in among)
    return sum(counts[o] for o in origins) / base


def night_share(totals: dict[str, float]) -> float:
    """18:00–06:00 share of consumer spending (零售、餐饮、住宿) in a year's totals."""
    night = sum(totals[f"night_sales/{s}"] for s in CONSUMER_SECTORS)
    return night / sum(totals[f"sales/{s}"] for s in CONSUMER_SECTORS)


def cited(scenario: Scenario, seed: int, totals: dict[str, float]) -> list[CitedResult]:
    """Each published figure beside the simulation (holidays in their own year; the night share in ``totals``)."""
    out = []
    for f in CITED:
        if f.origins:
            sim = holiday_origin_share(scenario, seed, f.holiday, f.year, f.origins, f.among)
        elif f.holiday:
            sim = holiday_daily_visits(scenario, seed, f.holiday, f.year, f.districts)
        else:
            sim = night_share(totals)
        out.append(CitedResult(f, sim))
    return out
