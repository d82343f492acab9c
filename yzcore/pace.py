"""The expected cumulative share of a year by a given day, from the product's reference data.

The curve is the official calendar (`schemas.calendar`) weighted by the seasonal profile
(`schemas.seasonal`: month factors, weekend, each holiday's level, the days before and after a
window). It fills dim_calendar (`yzmon db migrate`), which the library query pace_vs_target uses
when there is no last year to compare with; pace itself is computed in that query.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from schemas import seasonal


@lru_cache(maxsize=64)
def _cumulative_shares(year: int, feed: str) -> tuple[float, ...]:
    """Cumulative expected share at the end of each day of ``year`` (CalendarCoverageError outside)."""
    weights, d = [], date(year, 1, 1)
    while d.year == year:
        weights.append(seasonal.day_weight(d, feed))
        d += timedelta(days=1)
    total, acc, out = sum(weights), 0.0, []
    for w in weights:
        acc += w
        out.append(acc / total)
    return tuple(out)


def expected_share(day: date, feed: str = "sales") -> float:
    """Share of the annual total expected by the end of ``day`` (0..1); ``feed`` sales or footfall."""
    return _cumulative_shares(day.year, feed)[day.timetuple().tm_yday - 1]
