"""A run's arguments are checked where runs are defined (simulators/arguments.py); the CLI only prints."""

from datetime import date

import pytest

from schemas.feeds import FEEDS
from simulators.arguments import RunArgumentError, notes, run_spec
from simulators.model import MODELS


def test_a_start_alone_is_one_day_and_a_year_is_the_whole_year():
    one = run_spec("baseline", start=date(2024, 10, 1))
    assert (one.start, one.end, tuple(one.districts), tuple(one.feeds)) == (
        date(2024, 10, 1),
        date(2024, 10, 2),
        tuple(MODELS),
        tuple(FEEDS),
    )
    year = run_spec("baseline", year=2024, start=date(2024, 10, 1), seed=3, feeds=["sales"], bad_events=2)
    assert (year.start, year.end, year.seed, tuple(year.feeds), year.bad_per_day) == (
        date(2024, 1, 1),
        date(2025, 1, 1),
        3,
        ("sales",),
        2,
    )


def test_a_scenario_brings_its_own_dates():
    spec = run_spec("rain_week")
    assert (spec.start, spec.end) == (date(2024, 6, 10), date(2024, 6, 17))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scenario": "nope", "start": date(2024, 10, 1)}, "baseline"),
        ({"scenario": "baseline", "start": date(2024, 10, 1), "districts": ["atlantis"]}, "jiefangbei"),
        ({"scenario": "baseline", "start": date(2024, 10, 1), "feeds": ["weather"]}, "sales, footfall, tourists"),
        ({"scenario": "baseline"}, "give --start"),
        ({"scenario": "baseline", "start": date(2024, 10, 2), "end": date(2024, 10, 1)}, "--end must be after"),
        ({"scenario": "baseline", "year": 1999}, "1999"),
    ],
)
def test_arguments_that_describe_no_run_say_what_to_give(arguments, message):
    with pytest.raises(RunArgumentError, match=message):
        run_spec(**arguments)


def test_the_covid_years_come_with_a_note():
    assert notes(run_spec("baseline", year=2021)) and "counterfactual" in notes(run_spec("baseline", year=2021))[0]
    assert notes(run_spec("baseline", year=2024)) == []
