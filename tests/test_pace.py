from datetime import date

import pytest

from yzcore.pace import expected_share


def test_expected_share_runs_from_a_day_to_the_whole_year():
    assert 0 < expected_share(date(2025, 1, 1)) < 0.01
    assert expected_share(date(2025, 12, 31)) == pytest.approx(1.0)
    assert expected_share(date(2025, 6, 30)) == pytest.approx(0.5, abs=0.03)


def test_golden_week_days_carry_more_of_the_year_than_ordinary_days():
    gw = expected_share(date(2025, 10, 2)) - expected_share(date(2025, 10, 1))
    ordinary = expected_share(date(2025, 10, 15)) - expected_share(date(2025, 10, 14))
    assert gw > 1.3 * ordinary
