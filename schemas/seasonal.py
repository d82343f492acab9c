"""The expected shape of a year in 渝中 (reference data): how busy a day is, by month and kind of day.

A day's level is relative to an ordinary working day of the same month (= 1) and follows the
official calendar (`schemas.calendar`): every day of a holiday window is at that holiday's level
whatever its weekday, a 调休 Saturday or Sunday is a working day, the working day before a window
(节前) and the first one after it (节后) have their own levels, and each holiday its own character
(春节 moves spending from shops to visits and tourists; 清明 is quieter in the city centre).
The pace curves (`yzcore.pace`) and the simulator's day weights both use it.
"""

from __future__ import annotations

from datetime import date

from schemas.calendar import Day, day_info

FEEDS = ("sales", "footfall", "tourists")

# Month-of-year factors (Jan..Dec), mean ≈ 1.
SEASON = (1.08, 1.06, 0.92, 0.95, 1.0, 0.96, 1.02, 1.04, 0.95, 1.06, 0.96, 1.1)
WEEKEND = {"sales": 1.25, "footfall": 1.3, "tourists": 1.3}  # a Saturday or Sunday off
# Level of a day inside each holiday window (sales, footfall, tourists), before its day shape.
HOLIDAY_LEVEL: dict[str, dict[str, float]] = {
    "new_years_day": {"sales": 1.40, "footfall": 1.55, "tourists": 1.5},
    "spring_festival": {"sales": 1.30, "footfall": 1.85, "tourists": 2.2},
    "qingming": {"sales": 1.15, "footfall": 1.25, "tourists": 1.4},
    "labour_day": {"sales": 1.45, "footfall": 1.80, "tourists": 2.3},
    "dragon_boat": {"sales": 1.30, "footfall": 1.45, "tourists": 1.6},
    "mid_autumn": {"sales": 1.35, "footfall": 1.45, "tourists": 1.6},
    "national_day": {"sales": 1.55, "footfall": 2.15, "tourists": 2.6},
}
EVE = {"sales": 1.12, "footfall": 1.1, "tourists": 1.1}  # 节前: shopping before the days off
SPRING_FESTIVAL_EVE = {"sales": 1.35, "footfall": 1.1, "tourists": 1.0}  # 年货 before 春节
RETURN = {"sales": 0.92, "footfall": 0.9, "tourists": 0.85}  # 节后: back at work, tired, spent


def holiday_day_factor(info: Day, feed: str) -> float:
    """The shape within a window: the first days busiest, the last day (返程) lower; 春节 by lunar day."""
    w = info.window
    assert w is not None
    n, length = info.holiday_day, w.length
    if w.holiday == "spring_festival":
        if info.chuxi:  # 除夕: 年货 in the morning, then home for 年夜饭
            return {"sales": 0.85, "footfall": 0.6, "tourists": 0.6}[feed]
        return 0.9 if n == length else 1.0
    if length >= 3 and n == length:
        return 0.85
    if length >= 5 and n <= 3:
        return 1.08
    return 1.0


def day_level(day: date, feed: str, weekend: float | None = None, holiday_scale: float = 1.0) -> float:
    """How busy ``day`` is relative to an ordinary working day of its month (calendar and holidays).

    ``weekend`` overrides the weekend level (a 商圈's own); ``holiday_scale`` scales a holiday's lift.
    """
    info = day_info(day)
    if info.window:
        lift = HOLIDAY_LEVEL[info.window.holiday][feed] * holiday_day_factor(info, feed)
        return max(0.5, 1 + (lift - 1) * holiday_scale)
    if info.eve_of:
        table = SPRING_FESTIVAL_EVE if info.eve_of.holiday == "spring_festival" else EVE
        return table[feed]
    if info.return_from:
        return RETURN[feed]
    if not info.workday:
        return WEEKEND[feed] if weekend is None else weekend
    return 1.0


def day_weight(day: date, feed: str) -> float:
    """Month factor × day level: the expected weight of ``day`` in its year for the whole district."""
    return SEASON[day.month - 1] * day_level(day, feed)
