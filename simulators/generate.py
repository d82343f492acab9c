"""Generate one simulated day of events, deterministic in (scenario, seed, day, 商圈, feed).

The unit is a per-minute summary, which serves a live stream and long replays alike (a single
transaction is the same event with txn_count = 1): sales per merchant group and minute (amount,
txn_count; in-store groups per sector plus a catering delivery group), footfall per counting gate
and minute (entries, exits; every minute the counter is alive, zeros included), tourists per 商圈 × origin per
15 minutes (arrivals, spend). A day of all feeds is about 100k events; a year about 37M (37,452,010 for 2024 with
seed 7: the reporting unit-minutes of `*_arrays` over the year, 13,703,040 of them footfall).

Each generator first draws arrays (``*_arrays``), from which both the events and the fast totals
of `simulators.calibration` are made, so the two can never disagree. Arrays are drawn per business day
(06:00 to 06:00, `business_day_arrays`, deterministic in the business day); a calendar day is the night
tail of the business day before it and the first 18 hours of its own, so the night belongs to the
evening it follows and people inside at midnight stay inside (footfall balances per business day).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import repeat
from typing import NamedTuple

import numpy as np
import orjson

from schemas import calendar
from schemas.feeds import DECIMAL, FEEDS
from schemas.zone import ZONE
from simulators import model
from simulators.scenario import Scenario

TOURIST_STEP = 15  # minutes
REPORTING = "reporting"  # a counter's per-minute 1 while it is alive (not a measure: never sent)


@dataclass(frozen=True)
class Series:
    """One unit's day: a merchant group, a gate or an origin, with per-minute values."""

    unit: str
    attrs: dict[str, str]
    values: dict[str, np.ndarray]  # measure -> int64[1440] (amounts and spend in fen)


def _rng(scenario: Scenario, seed: int, day: date, district: str, feed: str) -> np.random.Generator:
    key = f"{scenario.name}|{seed}|{day.isoformat()}|{district}|{feed}".encode()
    return np.random.default_rng([seed, zlib.crc32(key)])


def event_id(scenario: Scenario, seed: int, feed: str, unit: str, stamp: str) -> str:
    """The id of a unit's event at ``stamp``, the same in every run."""
    return event_ids(scenario, seed, feed, unit, (stamp,))[0]


def event_ids(scenario: Scenario, seed: int, feed: str, unit: str, stamps: Iterable[str]) -> list[str]:
    """`event_id` of each stamp of one unit (the shared prefix is hashed once)."""
    head = hashlib.blake2b(f"{scenario.name}|{seed}|{feed}|{unit}|".encode(), digest_size=12)
    ids = []
    for stamp in stamps:
        h = head.copy()
        h.update(stamp.encode())
        ids.append(h.hexdigest())
    return ids


@lru_cache(maxsize=8)
def minute_stamps(day: date) -> tuple[str, ...]:
    """The local ISO time of each minute of ``day``."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZONE)
    return tuple((start + timedelta(minutes=m)).isoformat() for m in range(1440))


def _effects(scenario: Scenario, feed: str, district: str, bday: date, unit: str, channel: str = "") -> np.ndarray:
    """Scenario factors over the business day ``bday`` (06:00 to 06:00), from each calendar day's hours."""
    curve = np.ones(1440)
    for effect in scenario.effects:
        for cal_day, lo_cal, offset in ((bday, _SHIFT, -_SHIFT), (bday + _ONE_DAY, 0, _TAIL)):
            if effect.applies(feed, district, cal_day, unit, channel):
                lo, hi = effect.minutes(cal_day)
                lo, hi = max(lo, lo_cal), min(hi, lo_cal + (_TAIL if offset < 0 else _SHIFT))
                if lo < hi:
                    curve[lo + offset : hi + offset] *= effect.factor
    return curve


_SHIFT = model.DAY_START_HOUR * 60  # calendar minute of the business day's start (06:00)
_TAIL = 1440 - _SHIFT  # business-day minute of the next midnight
_ONE_DAY = timedelta(days=1)


def _hours(lo: float, hi: float) -> slice:
    """Business-day minutes of local hours [lo, hi) (hours after midnight written 24–30)."""
    return slice(int((lo - model.DAY_START_HOUR) * 60), int((hi - model.DAY_START_HOUR) * 60))


def _is_nye(district: str, info: calendar.Day) -> bool:
    return info.new_years_eve and district == model.NYE["district"]


@lru_cache(maxsize=512)
def _sales_shape(district: str, sector: str, night: bool, chuxi: bool, nye: bool, eve: bool) -> np.ndarray:
    if chuxi and sector in model.CHUXI_PROFILES:
        return model.CHUXI_PROFILES[sector]
    shape = model.PROFILES["catering_night" if sector == "catering" and night else sector].copy()
    if nye:  # 跨年夜: the square stays open and busy until after the countdown
        shape[_hours(19, 25.5)] *= model.NYE["sales_evening"]
    elif eve:  # the evening before the days off
        shape[_hours(17, 23)] *= 1.15
    return shape / shape.sum()


def _daily(district: str, day: date, feed: str, seed: int, annual: float, sector: str | None = None) -> float:
    return annual * model.year_scale(district, day.year, sector) * model.day_share(district, day, feed, seed)


@lru_cache(maxsize=8)
def _sales_bday(scenario: Scenario, seed: int, bday: date, district: str) -> tuple[Series, ...]:
    m = model.MODELS[district]
    rng = _rng(scenario, seed, bday, district, "sales")
    rain = model.rainy(seed, bday)
    info = calendar.day_info(bday)
    out = []
    for sector, share in m.sector_mix.items():
        shape = _sales_shape(district, sector, m.night, info.chuxi, _is_nye(district, info), info.eve_of is not None)
        yuan = _daily(district, bday, "sales", seed, m.sales_yuan * share, sector) * shape
        ticket = model.SECTOR_TICKET_YUAN[sector]
        groups: list[tuple[str, str, float]] = [
            (f"{district}-{sector}-{g + 1:02d}", "in_store", 1.0 / m.merchant_groups) for g in range(m.merchant_groups)
        ]
        if sector == "catering":
            delivery = model.DELIVERY_SHARE * (2.0 if rain else 1.0)  # rain moves meals to delivery
            groups = [(u, c, w * (1 - delivery)) for u, c, w in groups]
            groups.append((f"{district}-catering-delivery", "delivery", delivery))
        for unit, channel, weight in groups:
            expected = yuan * weight * _effects(scenario, "sales", district, bday, unit, channel)
            counts = rng.poisson(expected / ticket)
            noise = rng.lognormal(-0.02, 0.2, 1440)  # mean 1
            fen = np.rint(counts * ticket * 100 * noise).astype(np.int64)
            out.append(Series(unit, {"sector": sector, "channel": channel}, {"txn_count": counts, "amount": fen}))
    return tuple(out)


_FFT_N = 4096  # a power of two ≥ 2 × 1440, so the convolution of a day with a dwell time does not wrap


@lru_cache(maxsize=16)
def _dwell_cdf_spectrum(mean_minutes: float) -> np.ndarray:
    """Spectrum of the dwell time's distribution function (lognormal, σ = 0.6, in whole minutes)."""
    t = np.arange(1, 1440)
    sigma = 0.6
    mu = np.log(mean_minutes) - sigma**2 / 2
    pdf = np.exp(-((np.log(t) - mu) ** 2) / (2 * sigma**2)) / t
    cdf = np.cumsum(np.concatenate([[0.0], pdf / pdf.sum()]))
    return np.fft.rfft(cdf, _FFT_N)


@lru_cache(maxsize=16)
def _countdown() -> tuple[np.ndarray, np.ndarray]:
    """跨年夜 countdown crowd: arrival shape (rising from 19:00 to 23:55) and departure shape after 00:00."""
    arrive = np.zeros(1440)
    span = _hours(model.NYE["arrive_from"], 23 + 55 / 60)
    arrive[span] = np.linspace(0.2, 1.0, span.stop - span.start) ** 2
    leave = np.zeros(1440)
    after = np.arange(1, 151)  # leave over the first 2.5 hours of the new year, most in the first half hour
    leave[_TAIL : _TAIL + 150] = after * np.exp(-after / 12.0)
    return arrive / arrive.sum(), leave / leave.sum()


def _exits(entries: np.ndarray, cdf_spectrum: np.ndarray) -> np.ndarray:
    """Exits after a dwell time; whoever is still inside at 05:59, the quietest minute, leaves then.

    The people out by each minute are the entries convolved with the dwell time's distribution
    function (by FFT), rounded down and kept non-decreasing.
    """
    out_by = np.fft.irfft(np.fft.rfft(entries, _FFT_N) * cdf_spectrum, _FFT_N)[:1440]
    cum = np.maximum.accumulate(np.floor(out_by + 1e-6).astype(np.int64))
    exits = np.diff(cum, prepend=0)
    exits[-1] += int(entries.sum() - exits.sum())
    return exits


def _spread(total: int, shape: np.ndarray) -> np.ndarray:
    """``total`` people over the minutes of ``shape`` (sums to 1), as integers that add up exactly."""
    cum = np.floor(np.cumsum(shape) * total + 1e-9).astype(np.int64)
    cum[-1] = total
    return np.diff(cum, prepend=0)


@lru_cache(maxsize=8)
def _footfall_bday(scenario: Scenario, seed: int, bday: date, district: str) -> tuple[Series, ...]:
    m = model.MODELS[district]
    rng = _rng(scenario, seed, bday, district, "footfall")
    info = calendar.day_info(bday)
    profile = model.CHUXI_PROFILES["footfall"] if info.chuxi else model.PROFILES[m.footfall_profile]
    visits = _daily(district, bday, "footfall", seed, m.visits)
    nye = _is_nye(district, info)
    crowd_share = model.NYE["crowd"] if nye else 0.0
    arrive, leave = _countdown()
    dwell = _dwell_cdf_spectrum(m.dwell_minutes)
    out = []
    for g in range(m.gates):
        gate = f"{district}-gate-{g + 1:02d}"
        effect = _effects(scenario, "footfall", district, bday, gate)
        scale = np.where(effect == 0, 1.0, effect) / m.gates
        entries = rng.poisson(visits * (1 - crowd_share) * profile * scale)
        exits = _exits(entries, dwell)
        if nye:  # the countdown crowd stays until midnight, then disperses
            crowd = rng.poisson(visits * crowd_share * arrive * scale)
            entries = entries + crowd
            exits = exits + _spread(int(crowd.sum()), leave)
        # A counter reports every minute, zeros included (its heartbeat: silence means a dead counter, not an
        # empty street). A silent counter (an outage effect with factor 0) reports nothing in its window, though
        # people still walk through it: its day no longer balances, as with a real outage.
        alive = effect > 0
        values = {"entries": entries * alive, "exits": exits * alive, REPORTING: alive.astype(np.int64)}
        out.append(Series(gate, {"gate": gate}, values))
    return tuple(out)


@lru_cache(maxsize=8)
def _tourists_bday(scenario: Scenario, seed: int, bday: date, district: str) -> tuple[Series, ...]:
    m = model.MODELS[district]
    rng = _rng(scenario, seed, bday, district, "tourists")
    per_minute = _daily(district, bday, "tourists", seed, m.tourists) * model.PROFILES["tourists"]
    holiday = calendar.day_info(bday).window is not None
    out = []
    for origin, share in model.ORIGIN_MIX.items():
        if holiday and origin in ("other_province", "chengdu", "sichuan_other"):
            share *= 1.25  # holidays bring visitors from further away
        elif holiday and origin == "chongqing":
            share *= 0.7
        unit = f"{district}-{origin}"
        expected = per_minute * share * _effects(scenario, "tourists", district, bday, unit)
        per_step = expected.reshape(-1, TOURIST_STEP).sum(axis=1)
        arrivals = np.zeros(1440, dtype=np.int64)
        arrivals[::TOURIST_STEP] = rng.poisson(per_step)
        noise = rng.lognormal(-0.045, 0.3, 1440)  # mean 1
        spend = np.rint(arrivals * model.TOURIST_SPEND_YUAN[origin] * 100 * noise).astype(np.int64)
        out.append(Series(unit, {"origin": origin}, {"arrivals": arrivals, "spend": spend}))
    return tuple(out)


_BDAYS = {"sales": _sales_bday, "footfall": _footfall_bday, "tourists": _tourists_bday}


@lru_cache(maxsize=64)
def _block(feed: str, scenario: Scenario, seed: int, bday: date, district: str) -> tuple[tuple[Series, ...], dict]:
    """A business day's series and, per measure, their values stacked as one [unit, minute] array."""
    series = _BDAYS[feed](scenario, seed, bday, district)
    return series, {m: np.stack([s.values[m] for s in series]) for m in series[0].values}


def _calendar_day(feed: str, scenario: Scenario, seed: int, day: date, district: str) -> list[Series]:
    """The calendar day's arrays: 00:00–06:00 from the evening before (its business day), then its own."""
    series, cur = _block(feed, scenario, seed, day, district)
    before = day - _ONE_DAY
    prev = _block(feed, scenario, seed, before, district)[1] if before.year in calendar.covered_years() else None
    values = {
        m: np.concatenate(
            [prev[m][:, _TAIL:] if prev else np.zeros((len(series), _SHIFT), dtype=arr.dtype), arr[:, :_TAIL]], axis=1
        )
        for m, arr in cur.items()
    }
    return [Series(s.unit, s.attrs, {m: v[i] for m, v in values.items()}) for i, s in enumerate(series)]


def sales_arrays(scenario: Scenario, seed: int, day: date, district: str) -> list[Series]:
    return _calendar_day("sales", scenario, seed, day, district)


def footfall_arrays(scenario: Scenario, seed: int, day: date, district: str) -> list[Series]:
    return _calendar_day("footfall", scenario, seed, day, district)


def tourists_arrays(scenario: Scenario, seed: int, day: date, district: str) -> list[Series]:
    return _calendar_day("tourists", scenario, seed, day, district)


def business_day_arrays(feed: str, scenario: Scenario, seed: int, bday: date, district: str) -> tuple[Series, ...]:
    """One business day (06:00 to 06:00 the next morning) of a feed: its footfall balances exactly."""
    return _BDAYS[feed](scenario, seed, bday, district)


ARRAYS = {"sales": sales_arrays, "footfall": footfall_arrays, "tourists": tourists_arrays}
_KEY_MEASURE = {"sales": "txn_count", "footfall": REPORTING, "tourists": "arrivals"}


_CENTS = tuple(f"{c:02d}" for c in range(100))


def yuan_texts(fen: np.ndarray) -> list[str]:
    """Amounts in fen as yuan with two decimals (1234 -> "12.34")."""
    yuan, cents = np.divmod(fen, 100)
    return [f"{y}.{_CENTS[c]}" for y, c in zip(yuan.tolist(), cents.tolist(), strict=True)]


class _Head(NamedTuple):
    """What the events of one unit start and end with: their ids and times, 商圈 and source."""

    ids: list[str]
    times: list[str]
    district: str
    source: str


def _unit_events(feed: str, s: Series, minutes: np.ndarray, head: _Head) -> list[dict]:
    """The unit's events, their fields in the feed registry's order: the unit's dimensions from its
    attributes (or its name), its measures at the active minutes (money as yuan text)."""
    spec = FEEDS[feed]
    columns: list[Iterable] = [head.ids, head.times, repeat(head.district)]
    for c in spec.columns[3:-1]:  # between event_id, event_time, district and source
        if c.name not in spec.measures:
            columns.append(repeat(s.attrs.get(c.name, s.unit)))
        elif c.kind == DECIMAL:
            columns.append(yuan_texts(s.values[c.name][minutes]))
        else:
            columns.append(s.values[c.name][minutes].tolist())
    columns.append(repeat(head.source))
    names = spec.column_names
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=False)]  # repeat() is endless


def active_minutes(feed: str, s: Series) -> np.ndarray:
    """The minutes in which the unit reports: every minute it is alive for a counter, else those with something."""
    key = _KEY_MEASURE[feed]
    return np.flatnonzero(s.values[key])


def reported_series(feed: str, scenario: Scenario, seed: int, day: date, district: str) -> tuple[list[Series], str]:
    """The units that report events of one 商圈 and feed on ``day``, and the events' source.

    In a sample scenario sales are the acquirer's hourly summaries per merchant, and footfall comes from
    the gates with a counter (`simulators.sample`)."""
    series = ARRAYS[feed](scenario, seed, day, district)
    if scenario.sample is not None and feed == "sales":
        return _acquirer_series(scenario, seed, day, series), f"sim-acquirer:{scenario.name}"
    if scenario.sample is not None and feed == "footfall":
        from simulators.sample import gate_counted

        return [s for s in series if gate_counted(district, s.unit)], f"sim-counters:{scenario.name}"
    return series, f"sim:{scenario.name}"


def events_of(feed: str, scenario: Scenario, seed: int, day: date, district: str) -> Iterator[dict]:
    """The events of one 商圈 and feed on ``day``: one per unit and minute with something to report
    (the events `simulators.columnar` serialises column-wise, as dicts)."""
    stamps = minute_stamps(day)
    series, source = reported_series(feed, scenario, seed, day, district)
    for s in series:
        minutes = active_minutes(feed, s)
        times = [stamps[m] for m in minutes.tolist()]
        head = _Head(event_ids(scenario, seed, feed, s.unit, times), times, district, source)
        yield from _unit_events(feed, s, minutes, head)


def _acquirer_series(scenario: Scenario, seed: int, day: date, census: list[Series]) -> list[Series]:
    """The acquirer's file for one 商圈 and day: per served merchant, its card share of its group's in-store
    sales, summed per hour and stamped at the hour's last minute."""
    from simulators.sample import factors

    assert scenario.sample is not None
    ms, f = factors(seed, scenario.sample, [day])
    by_group: dict[str, list[tuple[str, float]]] = {}
    for m, share in zip(ms, f[0].tolist(), strict=True):
        if share > 0:
            by_group.setdefault(m.group, []).append((m.id, share))
    out = []
    for s in census:
        if s.attrs["channel"] != "in_store" or s.unit not in by_group:
            continue
        amount = s.values["amount"].reshape(24, 60).sum(axis=1)
        count = s.values["txn_count"].reshape(24, 60).sum(axis=1)
        for merchant, share in by_group[s.unit]:
            values = {"amount": np.zeros(1440, dtype=np.int64), "txn_count": np.zeros(1440, dtype=np.int64)}
            n = np.rint(count * share).astype(np.int64)
            values["txn_count"][59::60] = n
            values["amount"][59::60] = np.where(n > 0, np.rint(amount * share), 0).astype(np.int64)
            out.append(Series(merchant, {**s.attrs, "merchant_group": merchant}, values))
    return out


BAD_KINDS = ("malformed_json", "unknown_district", "future_timestamp", "schema_violation", "negative_amount")


def bad_events(scenario: Scenario, seed: int, day: date, feed: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` deliberately invalid (expected reason, record value) pairs, cycling through the reasons.

    The fifth kind is a negative amount for sales and a wrong type (schema_violation) for the others.
    """
    stamp = minute_stamps(day)[720]
    good = next(iter(events_of(feed, scenario, seed, day, "jiefangbei")))
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


def day_events(
    scenario: Scenario, seed: int, day: date, districts: Iterable[str], feeds: Iterable[str] = tuple(FEEDS)
) -> list[tuple[str, dict]]:
    """All (feed, event) of one day for the given 商圈 and feeds, ordered by event time."""
    events = [(feed, ev) for feed in feeds for d in districts for ev in events_of(feed, scenario, seed, day, d)]
    events.sort(key=lambda fe: fe[1]["event_time"])  # stable: ties keep feed/district order
    return events
