"""Generate one simulated day of events, deterministic in (scenario, seed, day, 商圈, feed).

The unit is a per-minute summary: sales per merchant group and minute (amount, txn_count),
footfall per counting gate and minute (entries, exits), tourists per 商圈 × origin per 15 minutes.
A day of all feeds is about 100k events; a year about 36M.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from simulators import model
from simulators.scenario import Scenario

ZONE = ZoneInfo("Asia/Shanghai")
FEEDS = ("sales", "footfall", "tourists")
TOURIST_STEP = 15  # minutes


def _rng(scenario: Scenario, seed: int, day: date, district: str, feed: str) -> np.random.Generator:
    key = f"{scenario.name}|{seed}|{day.isoformat()}|{district}|{feed}".encode()
    return np.random.default_rng([seed, zlib.crc32(key)])


def event_id(scenario: Scenario, seed: int, feed: str, unit: str, stamp: str) -> str:
    return hashlib.blake2b(f"{scenario.name}|{seed}|{feed}|{unit}|{stamp}".encode(), digest_size=12).hexdigest()


def _minute_stamps(day: date) -> list[str]:
    start = datetime(day.year, day.month, day.day, tzinfo=ZONE)
    return [(start + timedelta(minutes=m)).isoformat() for m in range(1440)]


def _effect_curve(scenario: Scenario, feed: str, district: str, day: date) -> np.ndarray:
    curve = np.ones(1440)
    for effect in scenario.effects:
        if effect.applies(feed, district, day):
            lo, hi = effect.hours
            curve[lo * 60: hi * 60] *= effect.factor
    return curve


def _expected(district: str, day: date, feed: str, annual: float, profile: np.ndarray,
              scenario: Scenario) -> np.ndarray:
    daily = annual * model.year_scale(day.year) * model.day_share(district, day, feed)
    return daily * profile * _effect_curve(scenario, feed, district, day)


def sales_day(scenario: Scenario, seed: int, day: date, district: str) -> Iterator[dict]:
    m = model.MODELS[district]
    rng = _rng(scenario, seed, day, district, "sales")
    stamps = _minute_stamps(day)
    for sector, share in m.sector_mix.items():
        name = "catering_night" if sector == "catering" and m.night else sector
        yuan = _expected(district, day, "sales", m.sales_yuan * share, model.PROFILES[name], scenario)
        ticket = model.SECTOR_TICKET_YUAN[sector]
        for g in range(m.merchant_groups):
            group = f"{district}-{sector}-{g + 1:02d}"
            counts = rng.poisson(yuan / ticket / m.merchant_groups)
            noise = rng.lognormal(-0.02, 0.2, 1440)  # mean 1
            fen = np.rint(counts * ticket * 100 * noise).astype(np.int64)
            for minute in np.flatnonzero(counts):
                f = int(fen[minute])
                yield {
                    "event_id": event_id(scenario, seed, "sales", group, stamps[minute]),
                    "event_time": stamps[minute], "district": district, "sector": sector,
                    "merchant_group": group, "channel": "in_store",
                    "amount": f"{f // 100}.{f % 100:02d}", "txn_count": int(counts[minute]),
                    "source": f"sim:{scenario.name}",
                }


def _dwell_pmf(mean_minutes: float) -> np.ndarray:
    t = np.arange(1, 1440)
    sigma = 0.6
    mu = np.log(mean_minutes) - sigma**2 / 2
    pdf = np.exp(-((np.log(t) - mu) ** 2) / (2 * sigma**2)) / t
    return np.concatenate([[0.0], pdf / pdf.sum()])


def footfall_day(scenario: Scenario, seed: int, day: date, district: str) -> Iterator[dict]:
    m = model.MODELS[district]
    rng = _rng(scenario, seed, day, district, "footfall")
    stamps = _minute_stamps(day)
    visits = _expected(district, day, "footfall", m.visits, model.PROFILES[m.footfall_profile], scenario)
    pmf = _dwell_pmf(m.dwell_minutes)
    for g in range(m.gates):
        gate = f"{district}-gate-{g + 1:02d}"
        entries = rng.poisson(visits / m.gates)
        # Everyone who enters leaves the same day: exits follow entries by a lognormal dwell time,
        # and whoever is still inside at 23:59 is counted out then.
        cum = np.floor(np.cumsum(np.convolve(entries, pmf)[:1440]) + 1e-9).astype(np.int64)
        exits = np.diff(cum, prepend=0)
        exits[-1] += int(entries.sum() - exits.sum())
        for minute in np.flatnonzero(entries + exits):
            yield {
                "event_id": event_id(scenario, seed, "footfall", gate, stamps[minute]),
                "event_time": stamps[minute], "district": district, "gate": gate,
                "entries": int(entries[minute]), "exits": int(exits[minute]), "source": f"sim:{scenario.name}",
            }


def tourists_day(scenario: Scenario, seed: int, day: date, district: str) -> Iterator[dict]:
    m = model.MODELS[district]
    rng = _rng(scenario, seed, day, district, "tourists")
    stamps = _minute_stamps(day)
    per_minute = _expected(district, day, "tourists", m.tourists, model.PROFILES["tourists"], scenario)
    per_step = per_minute.reshape(-1, TOURIST_STEP).sum(axis=1)
    for origin, share in model.ORIGIN_MIX.items():
        arrivals = rng.poisson(per_step * share)
        for step in np.flatnonzero(arrivals):
            stamp = stamps[step * TOURIST_STEP]
            yield {
                "event_id": event_id(scenario, seed, "tourists", f"{district}-{origin}", stamp),
                "event_time": stamp, "district": district, "origin": origin,
                "arrivals": int(arrivals[step]), "source": f"sim:{scenario.name}",
            }


GENERATORS = {"sales": sales_day, "footfall": footfall_day, "tourists": tourists_day}


BAD_KINDS = ("malformed_json", "unknown_district", "future_timestamp", "schema_violation", "negative_amount")


def bad_events(scenario: Scenario, seed: int, day: date, feed: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` deliberately invalid (expected reason, record value) pairs, cycling through the reasons.

    The fifth kind is a negative amount for sales and a wrong type (schema_violation) for the others.
    """
    stamp = _minute_stamps(day)[720]
    good = next(iter(GENERATORS[feed](scenario, seed, day, "jiefangbei")))
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        tag = f"bad-{feed}-{day.isoformat()}-{i}"
        kind = i % 5
        if kind == 0:
            out.append(("malformed_json", f'{{"event_id": "{tag}", "event_time": '.encode()))  # truncated
            continue
        ev = dict(good, event_id=tag, event_time=stamp)
        if kind == 1:
            ev["district"] = "atlantis"
        elif kind == 2:
            ev["event_time"] = "2099-01-01T00:00:00+08:00"
        elif kind == 3:
            ev.pop("district")
        elif kind == 4:
            if feed == "sales":
                ev["amount"] = "-12.50"
            else:
                ev[{"footfall": "entries", "tourists": "arrivals"}[feed]] = "many"
        reason = BAD_KINDS[kind] if (kind != 4 or feed == "sales") else "schema_violation"
        out.append((reason, orjson.dumps(ev)))
    return out


def day_events(scenario: Scenario, seed: int, day: date, districts: Iterable[str],
               feeds: Iterable[str] = FEEDS) -> list[tuple[str, dict]]:
    """All (feed, event) of one day for the given 商圈 and feeds, ordered by event time."""
    events = [(feed, ev) for feed in feeds for d in districts for ev in GENERATORS[feed](scenario, seed, day, d)]
    events.sort(key=lambda fe: fe[1]["event_time"])  # stable: ties keep feed/district order
    return events
