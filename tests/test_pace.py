from datetime import date, timedelta

import pytest

from schemas import seasonal
from yzcore.pace import expected_share


def _day_share(d: date, feed: str = "sales") -> float:
    return expected_share(d, feed) - expected_share(d - timedelta(days=1), feed)


def test_expected_share_runs_from_a_day_to_the_whole_year():
    assert 0 < expected_share(date(2025, 1, 1)) < 0.01
    assert expected_share(date(2025, 12, 31)) == pytest.approx(1.0)
    assert expected_share(date(2025, 6, 30)) == pytest.approx(0.5, abs=0.03)


def test_golden_week_days_carry_more_of_the_year_than_ordinary_days():
    gw = expected_share(date(2025, 10, 2)) - expected_share(date(2025, 10, 1))
    ordinary = expected_share(date(2025, 10, 15)) - expected_share(date(2025, 10, 14))
    assert gw > 1.3 * ordinary


def test_the_curve_follows_the_official_calendar():
    # 2023-10-07 is a 调休 Saturday: a working day, below the holiday days just before it.
    assert _day_share(date(2023, 10, 7)) < _day_share(date(2023, 10, 6)) / 1.3
    # 2024-02-17, the last day of 春节 on a Saturday, is a holiday day; 02-18, a 调休 Sunday, is not.
    assert _day_share(date(2024, 2, 17)) > _day_share(date(2024, 2, 18)) * 1.2
    # Two days of the same month and kind carry the same share, whatever their weekday.
    assert _day_share(date(2024, 10, 4), "footfall") == pytest.approx(_day_share(date(2024, 10, 5), "footfall"))


def test_a_makeup_saturday_weighs_as_a_working_day():
    assert seasonal.day_weight(date(2024, 5, 11), "sales") == seasonal.day_weight(date(2024, 5, 15), "sales")
    assert seasonal.day_weight(date(2024, 5, 18), "sales") > seasonal.day_weight(date(2024, 5, 11), "sales")
