"""The model's seasonal curve: the expected cumulative share of a year by a given day.

It fills dim_calendar (`yzmon db migrate`), which the library query pace_vs_target uses when
there is no last year to compare with; pace itself is computed in that query.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from simulators import model


@lru_cache(maxsize=64)
def _cumulative_shares(year: int, feed: str) -> tuple[float, ...]:
    """Cumulative expected share at the end of each day of ``year``, from the seasonal model."""
    weights = {name: (m.sales_yuan if feed == "sales" else m.visits) for name, m in model.MODELS.items()}
    total = sum(weights.values())
    out, acc, d = [], 0.0, date(year, 1, 1)
    while d.year == year:
        acc += sum(w * model.day_share(name, d, feed) for name, w in weights.items()) / total
        out.append(acc)
        d += timedelta(days=1)
    return tuple(out)


def expected_share(day: date, feed: str = "sales") -> float:
    """Share of the annual total expected by the end of ``day`` (0..1)."""
    return _cumulative_shares(day.year, feed)[day.timetuple().tm_yday - 1]
