from datetime import date
from decimal import Decimal

import pytest

from yzmon.pace import expected_share, pace


def test_expected_share_runs_from_a_day_to_the_whole_year():
    assert 0 < expected_share(date(2025, 1, 1)) < 0.01
    assert expected_share(date(2025, 12, 31)) == pytest.approx(1.0)
    assert expected_share(date(2025, 6, 30)) == pytest.approx(0.5, abs=0.03)


def test_golden_week_days_carry_more_of_the_year_than_ordinary_days():
    gw = expected_share(date(2025, 10, 2)) - expected_share(date(2025, 10, 1))
    ordinary = expected_share(date(2025, 10, 15)) - expected_share(date(2025, 10, 14))
    assert gw > 1.3 * ordinary


def test_pace_arithmetic_on_a_hand_checked_example(monkeypatch):
    monkeypatch.setattr("yzmon.pace.expected_share", lambda day, feed="sales": 0.5)
    p = pace(Decimal("150000000000"), Decimal("72000000000"), date(2025, 7, 1))
    assert p.expected == Decimal("75000000000.00")
    assert p.gap == Decimal("-3000000000.00")
    assert p.gap_pct == pytest.approx(-4.0)
    assert p.status == "落后"
    assert pace(Decimal(100), Decimal("50.9"), date(2025, 7, 1)).status == "符合进度"
    assert pace(Decimal(100), Decimal("51.1"), date(2025, 7, 1)).status == "领先"
