"""Pace against an annual target: the expected cumulative share of the year by a given day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
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


@dataclass(frozen=True)
class Pace:
    target: Decimal
    actual: Decimal
    expected: Decimal

    @property
    def gap(self) -> Decimal:
        return self.actual - self.expected

    @property
    def gap_pct(self) -> float:
        return float(self.gap / self.expected * 100) if self.expected else 0.0

    @property
    def status(self) -> str:
        """领先 ahead / 符合进度 on track (within ±2%) / 落后 behind."""
        if self.gap_pct > 2:
            return "领先"
        if self.gap_pct < -2:
            return "落后"
        return "符合进度"


def pace(target: Decimal, actual: Decimal, day: date, feed: str = "sales") -> Pace:
    return Pace(target, actual, (target * Decimal(str(expected_share(day, feed)))).quantize(Decimal("0.01")))
