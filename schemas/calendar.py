"""The official holiday calendar of the PRC (国务院办公厅 notices): holiday windows, 调休 working days.

Source: the maintained `holidays` package (PyPI; vacanza/holidays), whose China calendar is
transcribed from each year's 国务院办公厅关于部分节假日安排的通知 and lists both the days off and the
substituted working days (调休上班). A holiday window is the run of consecutive days off that contains a
statutory holiday, exactly as a notice states it (e.g. 2023 中秋节、国庆节: 9-29 to 10-06, eight days;
10-07 and 10-08 working). The product covers the years whose notice is listed in
`schemas/reference/holiday_notices.json`; any other year is refused with `CalendarCoverageError`
(the next year's notice usually appears in November: upgrade `holidays` and list the notice).

Holidays of different lengths are compared across years by day of holiday (`holiday_day`, 1 = the
first day off of the window) and by per-day averages over the whole window; a day with no
counterpart in the other year (day 8 of 2023's 中秋国庆 against 2024's seven-day 国庆) compares
with nothing. A merged 中秋国庆 window counts as 国庆 (`national_day`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources

HOLIDAY_ZH = {
    "new_years_day": "元旦",
    "spring_festival": "春节",
    "qingming": "清明节",
    "labour_day": "劳动节",
    "dragon_boat": "端午节",
    "mid_autumn": "中秋节",
    "national_day": "国庆节",
}
# The library's English names of statutory days (substituted days off carry no holiday name).
_NAMES = (
    ("New Year's Day", "new_years_day"),
    ("Chinese New Year", "spring_festival"),
    ("Tomb-Sweeping", "qingming"),
    ("Labor Day", "labour_day"),
    ("Dragon Boat", "dragon_boat"),
    ("Mid-Autumn", "mid_autumn"),
    ("National Day", "national_day"),
)
_SPRING_FESTIVAL_DAY_ONE = "Chinese New Year (Spring Festival)"  # 正月初一, the first statutory 春节 day


class CalendarCoverageError(ValueError):
    """A date outside the years whose official notice the product carries."""


@dataclass(frozen=True)
class Notice:
    year: int
    title: str
    published: date | None  # where checked against a reprint of the notice
    url: str


@dataclass(frozen=True)
class Window:
    """One holiday as the notice gives it: the days off from ``start`` to ``end`` (inclusive)."""

    holiday: str  # key of HOLIDAY_ZH
    name_zh: str  # e.g. 中秋节、国庆节 for a merged window
    year: int  # the year of its statutory day (元旦 2024 starts on 2023-12-30)
    start: date
    end: date

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True)
class Day:
    """What the official calendar says about one Asia/Shanghai day."""

    day: date
    workday: bool  # a working day (Mon–Fri not off, or a 调休 Saturday/Sunday)
    makeup_workday: bool  # 调休上班: a Saturday or Sunday worked in exchange for a day off
    window: Window | None  # the holiday window the day belongs to
    holiday_day: int  # 1.. within the window, 0 outside
    eve_of: Window | None  # the last working day before a window (节前)
    return_from: Window | None  # the first working day after a window (节后)
    chuxi: bool  # 除夕, the lunar New Year's Eve (a day off or not)
    new_years_eve: bool  # 12-31, the 跨年夜 (an event, not a holiday)

    @property
    def holiday(self) -> str:
        return self.window.holiday if self.window else ""

    @property
    def kind(self) -> str:
        """holiday / eve (节前) / return (节后) / makeup_workday (调休上班) / weekend / workday."""
        if self.window:
            return "holiday"
        if self.eve_of:
            return "eve"
        if self.return_from:
            return "return"
        if self.makeup_workday:
            return "makeup_workday"
        return "workday" if self.workday else "weekend"


@cache
def notices() -> tuple[Notice, ...]:
    """The 国务院办公厅 notices the product carries, one per year."""
    text = resources.files("schemas").joinpath("reference/holiday_notices.json").read_text(encoding="utf-8")
    return tuple(
        Notice(n["year"], n["title"], date.fromisoformat(n["published"]) if n.get("published") else None, n["url"])
        for n in json.loads(text)
    )


@cache
def covered_years() -> range:
    years = sorted(n.year for n in notices())
    if years != list(range(years[0], years[-1] + 1)):
        raise RuntimeError(f"holiday_notices.json must list consecutive years, not {years}")
    return range(years[0], years[-1] + 1)


def check_covered(day: date) -> None:
    years = covered_years()
    if day.year not in years:
        raise CalendarCoverageError(
            f"{day.isoformat()}: the official holiday calendar covers {years[0]}–{years[-1]} "
            f"(the 国务院办公厅 notices in schemas/reference/holiday_notices.json); for {day.year}, upgrade "
            "the `holidays` package once the notice is published and add the notice to that file"
        )


@cache
def _library() -> tuple[dict[date, str], frozenset[date]]:
    """(day off -> library name, 调休 working days) for the covered years and one year either side."""
    import holidays  # imported here: a few hundred ms, paid only by the code that needs the calendar

    years = covered_years()
    cn = holidays.China(years=range(years[0] - 1, years[-1] + 2), language="en_US")
    return {d: str(n) for d, n in cn.items()}, frozenset(cn.weekend_workdays)


def _key(name: str) -> str | None:
    for needle, key in _NAMES:
        if needle in name:
            return key
    return None


@cache
def _windows() -> tuple[Window, ...]:
    off, worked = _library()
    years = covered_years()
    lo, hi = date(years[0] - 1, 12, 1), date(years[-1] + 1, 1, 31)

    def is_off(d: date) -> bool:
        return d in off or (d.weekday() >= 5 and d not in worked)

    out, run, d = [], [], lo
    while d <= hi:
        if is_off(d):
            run.append(d)
        elif run:
            out.extend(_window_of(run, off))
            run = []
        d += timedelta(days=1)
    return tuple(w for w in out if w.year in years)


def _window_of(run: list[date], off: dict[date, str]) -> list[Window]:
    keys = {}
    for d in run:
        for part in off.get(d, "").split(";"):
            key = _key(part)
            if key and key not in keys:
                keys[key] = d
    if not keys:
        return []  # an ordinary weekend
    key = "national_day" if "national_day" in keys else next(iter(keys))
    name = "、".join(HOLIDAY_ZH[k] for k in sorted(keys, key=list(HOLIDAY_ZH).index))
    return [Window(key, name, keys[key].year, run[0], run[-1])]


def windows(year: int) -> list[Window]:
    """The holiday windows of ``year`` (by the year of their statutory day), in date order."""
    check_covered(date(year, 1, 1))
    return [w for w in _windows() if w.year == year]


def window(holiday: str, year: int) -> Window:
    found = [w for w in windows(year) if w.holiday == holiday]
    if not found:
        raise KeyError(f"no {holiday} window in {year}; holidays: {', '.join(HOLIDAY_ZH)}")
    return found[0]


def spring_festival_day_one(year: int) -> date:
    """正月初一 of ``year`` (the first statutory 春节 day)."""
    off, _ = _library()
    return min(d for d, n in off.items() if d.year == year and n == _SPRING_FESTIVAL_DAY_ONE)


@cache
def day_info(day: date) -> Day:
    """The official calendar for ``day``; CalendarCoverageError outside the covered years."""
    check_covered(day)
    off, worked = _library()
    workday = day not in off and (day.weekday() < 5 or day in worked)
    win = next((w for w in _windows() if day in w), None)
    eve_of = return_from = None
    if workday:
        nxt = next((w for w in _windows() if w.start > day), None)
        if nxt and all(_is_off(nxt.start - timedelta(days=i), off, worked) for i in range(1, (nxt.start - day).days)):
            eve_of = nxt
        prev = next((w for w in reversed(_windows()) if w.end < day), None)
        if prev and all(_is_off(prev.end + timedelta(days=i), off, worked) for i in range(1, (day - prev.end).days)):
            return_from = prev
    chuxi = day == spring_festival_day_one(day.year) - timedelta(days=1)
    return Day(
        day,
        workday,
        day in worked,
        win,
        (day - win.start).days + 1 if win else 0,
        eve_of,
        return_from,
        chuxi,
        day.month == 12 and day.day == 31,
    )


def _is_off(d: date, off: dict[date, str], worked: frozenset[date]) -> bool:
    return d in off or (d.weekday() >= 5 and d not in worked)
