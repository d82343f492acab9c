"""A simulated 2024 and 2025 reproduce the seed figures within ±2%, the published holiday, night and
visitor-origin figures within ±10% (shares also within ±3 points)."""

import pytest

from simulators.calibration import (
    CITED,
    SHARE_POINTS,
    anchors,
    cited,
    night_share,
    sector_growth_rows,
    year_totals,
)
from simulators.scenario import load

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run


@pytest.fixture(scope="module")
def years():
    baseline = load("baseline")
    return year_totals(baseline, 7, 2024), year_totals(baseline, 7, 2025)


@pytest.fixture(scope="module")
def published(years):
    return cited(load("baseline"), 7, years[0])


def test_every_annual_anchor_within_two_percent(years):
    for anchor in anchors(*years):
        assert abs(anchor.error) <= 0.02, f"{anchor.label}: {anchor.simulated / anchor.unit:,.1f} {anchor.unit_name}"


def test_seed_figures_that_are_floors_are_exceeded(years):
    y2024, _ = years
    assert y2024["sales:jiefangbei_area"] > 1100e8  # 社零超1100亿元
    assert y2024["visits:jiefangbei_area"] > 2e8  # 年吸引客流超2亿人次


def test_district_growth_is_about_five_percent_and_sectors_keep_the_seed_ranking(years):
    y2024, y2025 = years
    assert y2025["sales"] / y2024["sales"] - 1 == pytest.approx(0.05, abs=0.005)
    growth = [sim for _, sim, _ in sector_growth_rows(y2024, y2025)]
    assert growth == sorted(growth)  # 批发 < 零售 < 餐饮 < 住宿, as in seed 004


def test_hualongqiao_grows_faster_than_daping(years):
    y2024, y2025 = years
    assert y2025["sales:hualongqiao"] / y2024["sales:hualongqiao"] > y2025["sales:daping"] / y2024["sales:daping"]


def test_published_holiday_and_night_figures_within_ten_percent(published):
    results = published
    assert [r.figure for r in results] == list(CITED)
    for r in results:
        assert abs(r.error) <= 0.10, f"{r.figure.label}: {r.simulated / r.figure.unit:,.1f} {r.figure.unit_name}"
        assert r.figure.url.startswith("http") and r.figure.source and r.figure.says


def test_the_night_carries_more_than_half_of_consumer_spending_and_wholesale_is_by_day(years):
    y2024, _ = years
    assert night_share(y2024) > 0.5  # 人民日报 2025-10-09: 超过一半的城市消费发生在夜间
    assert y2024["night_sales/wholesale"] < 0.1 * y2024["sales/wholesale"]


@pytest.mark.parametrize("district", ["hongyadong", "shibati"])
def test_each_scenic_district_reproduces_its_published_counts_in_two_kinds_of_holiday(published, district):
    own = [r for r in published if r.figure.districts == (district,)]
    assert {r.figure.holiday for r in own} >= {"labour_day", "spring_festival"}
    for r in own:
        assert abs(r.error) <= 0.10, f"{r.figure.label}: {r.simulated / r.figure.unit:,.1f} {r.figure.unit_name}"


def test_origin_shares_within_three_points_of_the_published_ones(published):
    shares = [r for r in published if r.figure.origins]
    labels = {r.figure.label for r in shares}
    assert any("市外" in label for label in labels) and any("四川" in label for label in labels)
    assert any("成都" in label for label in labels)
    for r in shares:
        assert abs(r.simulated - r.figure.value) <= SHARE_POINTS, f"{r.figure.label}: {r.simulated:.1%}"
