"""What the district receives: a sample of the economy the simulator simulates, not the economy itself.

The census (every scenario without ``sample:``) sends every sale the bureau counts. A sample scenario
(``sample: {kind: acquirer}``, `simulators/scenarios/acquirer.yaml`) sends instead what a card acquirer
files: hourly summaries per merchant of the card payments at the merchants it serves.

- Each in-store merchant group of the model is split into ``MERCHANTS_PER_GROUP`` merchants whose
  shares of the group drift apart (each its own trend), so a subset grows unlike the whole.
- The acquirer serves some merchants of 零售, 餐饮 and 住宿 (never 批发, never delivery or online sales,
  never cash); merchants join and leave it (``SWITCH_RATE`` a year), and the card share of payments rises
  (``CARD_DRIFT`` a year) as cash declines.
- Once a year (``drift``) a provider loses a bank: a share of its merchants report nothing for weeks;
  scenarios can add their own outages.
- Footfall counters sit on some gates only (``GATE_SHARE``).

Sample events are derived from the census arrays (`simulators.generate`), so the sample is a part of the
same economy. :func:`daily_truth` and :func:`daily_sample` give the same economy column-wise, from the
model's expected values without drawing events, for back-tests over many years; tests check that they agree
with the events. :func:`releases` is the bureau: quarterly cumulative 社零 per sector, published weeks later.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from schemas import calendar
from simulators import model
from simulators.scenario import Sample

MERCHANTS_PER_GROUP = 8
SERVED = {"retail": 0.55, "catering": 0.45, "lodging": 0.6}  # chance a merchant is served at the start
CARD_SHARE = {"retail": 0.6, "catering": 0.5, "lodging": 0.7}  # of a served merchant's in-store sales, 2024
CARD_DRIFT = 0.02  # relative rise of the card share per year
SWITCH_RATE = 0.15  # joins or leaves per merchant per year
TREND_SD = 0.04  # a merchant's own yearly trend around its group's
GATE_SHARE = 0.6  # share of gates with a counter
OUTAGE_WEEKS = (3, 7)  # a yearly outage lasts this many weeks (from, to)
OUTAGE_SHARE = (0.1, 0.3)  # of the acquirer's merchants
EPOCH = date(2018, 1, 1)
BUREAU_LAG_DAYS = 24  # a cumulative period is published this long after it ends
BASIS = "sim-tjj"  # + "-<seed>": each simulated economy is a basis of its own


@dataclass(frozen=True)
class Merchant:
    id: str
    district: str
    sector: str
    group: str
    base: float  # share of its group in 2024 before normalisation
    trend: float  # its own yearly growth on top of the group's
    served_at_epoch: bool
    switches: tuple[int, ...]  # days since EPOCH on which it joins or leaves the acquirer


def _u(*key: object) -> float:
    return zlib.crc32("|".join(map(str, key)).encode()) / 2**32


def _rng(seed: int, *key: object) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32("|".join(map(str, key)).encode())])


@lru_cache(maxsize=8)
def merchants(seed: int) -> tuple[Merchant, ...]:
    """Every in-store merchant of the model, with its share, trend and spells at the acquirer."""
    out = []
    span = (date(2027, 1, 1) - EPOCH).days
    for district, m in model.MODELS.items():
        for sector in m.sector_mix:
            for g in range(m.merchant_groups):
                group = f"{district}-{sector}-{g + 1:02d}"
                rng = _rng(seed, "merchants", group)
                base = rng.dirichlet(np.full(MERCHANTS_PER_GROUP, 3.0))
                trend = rng.normal(0, TREND_SD, MERCHANTS_PER_GROUP)
                for k in range(MERCHANTS_PER_GROUP):
                    served = sector in SERVED and rng.random() < SERVED[sector]
                    n = rng.poisson(SWITCH_RATE * span / 365.25) if sector in SERVED else 0
                    switches = tuple(sorted(int(x) for x in rng.integers(0, span, n)))
                    mid, share, own = f"{group}-m{k + 1:02d}", float(base[k]), float(trend[k])
                    out.append(Merchant(mid, district, sector, group, share, own, served, switches))
    return tuple(out)


def _outages(seed: int, sample: Sample, years: range) -> list[tuple[int, int, float, str]]:
    """(first day, last day, share, key) of every outage, days since EPOCH."""
    out = [((o.start - EPOCH).days, (o.end - EPOCH).days, o.share, f"o{i}") for i, o in enumerate(sample.outages)]
    if sample.drift:
        for y in years:
            rng = _rng(seed, "outage", y)
            start = (date(y, 1, 1) - EPOCH).days + int(rng.integers(0, 365))
            weeks = int(rng.integers(*OUTAGE_WEEKS))
            out.append((start, start + 7 * weeks - 1, float(rng.uniform(*OUTAGE_SHARE)), f"y{y}"))
    return out


def factors(seed: int, sample: Sample, days: list[date]) -> tuple[tuple[Merchant, ...], np.ndarray]:
    """The merchants and, per [day, merchant], the share of its group's in-store sales the acquirer files."""
    ms = merchants(seed)
    n = np.array([(d - EPOCH).days for d in days])
    t = (n - (date(model.BASE_YEAR, 1, 1) - EPOCH).days) / 365.25  # years since 2024
    base = np.array([m.base for m in ms])
    trend = np.array([m.trend for m in ms])
    weight = base[None, :] * np.exp(trend[None, :] * t[:, None])
    groups = np.unique([m.group for m in ms], return_inverse=True)[1]
    totals = np.zeros((len(days), groups.max() + 1))
    np.add.at(totals.T, groups, weight.T)
    weight /= totals[:, groups]
    served = np.zeros((len(days), len(ms)), dtype=bool)
    for j, m in enumerate(ms):
        if m.sector in SERVED:
            flips = np.searchsorted(np.array(m.switches, dtype=np.int64), n, side="right")
            served[:, j] = m.served_at_epoch ^ (flips % 2 == 1)
    years = range(min(days).year, max(days).year + 1)
    for first, last, share, key in _outages(seed, sample, years):
        hit = np.array([_u(seed, key, m.id) < share for m in ms])
        served[(n >= first) & (n <= last)] &= ~hit
    card = np.array([CARD_SHARE.get(m.sector, 0.0) for m in ms])[None, :] * (1 + CARD_DRIFT) ** t[:, None]
    return ms, weight * served * np.minimum(card, 0.95)


def gate_counted(district: str, gate: str) -> bool:
    """Whether ``gate`` has a counter in the sample (at least the first gate of every 商圈 has one)."""
    return gate.endswith("-01") or _u("gate", gate) < GATE_SHARE


# --- column-wise: the same economy from the model's expected values, no events drawn ---------------


@lru_cache(maxsize=4096)
def _after_midnight(district: str, sector: str, bday: date) -> float:
    """Share of the business day's sales after midnight (they fall on the next calendar day)."""
    from simulators.generate import _TAIL, _is_nye, _sales_shape

    m = model.MODELS[district]
    info = calendar.day_info(bday)
    shape = _sales_shape(district, sector, m.night, info.chuxi, _is_nye(district, info), info.eve_of is not None)
    return float(shape[_TAIL:].sum())


def _bday_expected(district: str, sector: str, bday: date, seed: int) -> tuple[float, float]:
    """Expected sales (元) of a business day: all channels, and the in-store part of one merchant group."""
    m = model.MODELS[district]
    total = m.sales_yuan * m.sector_mix[sector] * model.year_scale(district, bday.year, sector)
    total *= model.day_share(district, bday, "sales", seed)
    in_store = 1.0
    if sector == "catering":
        in_store = 1 - model.DELIVERY_SHARE * (2.0 if model.rainy(seed, bday) else 1.0)
    return total, total * in_store / m.merchant_groups


@lru_cache(maxsize=32)
def _calendar_expected(seed: int, start: date, end: date) -> tuple[list[date], dict, dict]:
    """Per calendar day in [start, end): expected 元 per (district, sector) and per in-store group."""
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    first = min(calendar.covered_years())
    truth: dict[tuple[str, str], np.ndarray] = {}
    group: dict[tuple[str, str], np.ndarray] = {}
    for district, m in model.MODELS.items():
        for sector in m.sector_mix:
            tot, grp = np.zeros(len(days)), np.zeros(len(days))
            for i, d in enumerate(days):
                for bday, part in ((d, 1 - _after_midnight(district, sector, d)), (d - timedelta(days=1), None)):
                    if bday.year < first:
                        continue
                    share = part if part is not None else _after_midnight(district, sector, bday)
                    a, b = _bday_expected(district, sector, bday, seed)
                    tot[i] += a * share
                    grp[i] += b * share
            truth[(district, sector)], group[(district, sector)] = tot, grp
    return days, truth, group


def daily_truth(seed: int, start: date, end: date) -> pd.DataFrame:
    """What the bureau counts: expected 社零 (元) per calendar day and sector, every channel and sector."""
    days, truth, _ = _calendar_expected(seed, start, end)
    frames = [pd.DataFrame({"day": days, "sector": s, "amount": v}) for (_, s), v in truth.items()]
    return pd.concat(frames).groupby(["day", "sector"], as_index=False)["amount"].sum()


def daily_sample(seed: int, sample: Sample, start: date, end: date) -> pd.DataFrame:
    """What the acquirer files: expected amount (元) per calendar day, merchant and sector (served days only)."""
    days, _, group = _calendar_expected(seed, start, end)
    ms, f = factors(seed, sample, days)
    per_group = np.stack([group[(m.district, m.sector)] for m in ms], axis=1)  # [day, merchant]
    amount = per_group * f
    day_idx, m_idx = np.nonzero(amount > 0)
    return pd.DataFrame(
        {
            "day": np.array(days, dtype=object)[day_idx],
            "district": np.array([m.district for m in ms])[m_idx],
            "merchant_group": np.array([m.id for m in ms])[m_idx],
            "sector": np.array([m.sector for m in ms])[m_idx],
            "amount": amount[day_idx, m_idx],
        }
    )


def releases(seed: int, years: range) -> list[dict]:
    """The bureau's first releases for ``years``: cumulative 1—3月 … 全年 社零 of 渝中, total and per sector,
    level (亿元, one decimal) and growth on the year before (%, one decimal), published weeks after the period.
    Rows are in the format of `yzmon official import`."""
    first = max(years.start - 1, min(calendar.covered_years()))
    truth = daily_truth(seed, date(first, 1, 1), date(years.stop, 1, 1))
    truth["year"] = [d.year for d in truth["day"]]
    truth["month"] = [d.month for d in truth["day"]]
    rows = []
    for year in years:
        for end_month in (3, 6, 9, 12):
            period_end = date(year + (end_month == 12), end_month % 12 + 1, 1) - timedelta(days=1)
            published = period_end + timedelta(days=BUREAU_LAG_DAYS)
            cum = truth[truth["month"] <= end_month].groupby(["year", "sector"])["amount"].sum()
            for sector in ("", *sorted(truth["sector"].unique())):
                now = cum[year].sum() if not sector else cum[year][sector]
                before = None
                if year - 1 >= first:
                    before = cum[year - 1].sum() if not sector else cum[year - 1][sector]
                rows.append(
                    {
                        "metric": "retail_sales",
                        "scope": "district",
                        "year": year,
                        "period": str(end_month),
                        "sector": sector,
                        "basis": f"{BASIS}-{seed}",
                        "level": f"{now / model.YI:.1f}",
                        "growth_pct": "" if before is None else f"{100 * (now / before - 1):.1f}",
                        "unit": "亿元",
                        "published": published.isoformat(),
                        "source": f"simulated bureau first release (seed {seed})",
                    }
                )
    return rows


def visit_releases(seed: int, years: range, area: str = "jiefangbei") -> list[dict]:
    """The published 客流 of an area (解放碑—朝天门 with 洪崖洞 and 十八梯—山城巷: every gate, counted or not) for
    ``years``: cumulative 1—3月 … 全年 levels (万人次, one decimal), from the model's expected daily visits."""
    from schemas import reference

    members = [d for d, x in reference.districts().items() if x.area == area]
    first = max(years.start - 1, min(calendar.covered_years()))
    by_period: dict[tuple[int, int], float] = {}
    for year in range(first, years.stop):
        d = date(year, 1, 1)
        cum = 0.0
        while d.year == year:
            cum += sum(
                model.MODELS[k].visits * model.year_scale(k, year) * model.day_share(k, d, "footfall", seed)
                for k in members
            )
            if (d + timedelta(days=1)).month != d.month and d.month % 3 == 0:
                by_period[(year, d.month)] = cum
            d += timedelta(days=1)
    rows = []
    for (year, end_month), level in sorted(by_period.items()):
        if year not in years:
            continue
        before = by_period.get((year - 1, end_month))
        period_end = date(year + (end_month == 12), end_month % 12 + 1, 1) - timedelta(days=1)
        rows.append(
            {
                "metric": "visits",
                "scope": area,
                "year": year,
                "period": str(end_month),
                "sector": "",
                "basis": f"sim-visits-{seed}",
                "level": f"{level / 1e4:.1f}",
                "growth_pct": "" if before is None else f"{100 * (level / before - 1):.1f}",
                "unit": "万人次",
                "published": (period_end + timedelta(days=BUREAU_LAG_DAYS)).isoformat(),
                "source": f"simulated published 客流, every gate (seed {seed})",
            }
        )
    return rows
