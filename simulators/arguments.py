"""A run's command-line arguments checked into a :class:`~simulators.run.RunSpec`: the scenario, the
商圈 and feeds by name, the date range (explicit, a whole year, or the scenario's own dates) inside the
official calendar. Every problem is a :class:`RunArgumentError` naming the choices or the fix."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from schemas.calendar import CalendarCoverageError, check_covered
from schemas.feeds import FEEDS
from simulators.model import COVID_YEARS, MODELS
from simulators.run import RunSpec
from simulators.scenario import ScenarioError, load, with_sample


class RunArgumentError(ValueError):
    """Arguments that describe no run, with what to give instead."""


def run_spec(
    scenario: str,
    start: date | None = None,
    end: date | None = None,
    year: int | None = None,
    seed: int = 7,
    districts: Sequence[str] | None = None,
    feeds: Sequence[str] | None = None,
    bad_events: int = 0,
    sample: str = "census",
) -> RunSpec:
    """The run the arguments describe: ``year``, else [``start``, ``end``) (one day without ``end``), else the
    scenario's dates; ``sample`` is what the district receives (``census`` or ``acquirer``)."""
    try:
        sc = with_sample(load(scenario), sample)
    except (FileNotFoundError, ScenarioError) as exc:
        raise RunArgumentError(str(exc)) from None
    for d in districts or []:
        if d not in MODELS:
            raise RunArgumentError(f"unknown 商圈 {d!r}; choose from {', '.join(MODELS)}")
    for f in feeds or []:
        if f not in FEEDS:
            raise RunArgumentError(f"unknown feed {f!r}; choose from {', '.join(FEEDS)}")
    if year is not None:
        first, last = date(year, 1, 1), date(year + 1, 1, 1)
    elif start is not None:
        first = start
        last = end or first + timedelta(days=1)
    elif sc.start is not None:
        first, last = sc.start, sc.end or sc.start + timedelta(days=1)
    else:
        raise RunArgumentError(f"give --start (and --end) or --year; scenario {sc.name!r} has no default dates")
    if last <= first:
        raise RunArgumentError("--end must be after --start (the range is [start, end))")
    try:
        check_covered(first)
        check_covered(last - timedelta(days=1))
    except CalendarCoverageError as exc:
        raise RunArgumentError(str(exc)) from None
    return RunSpec(sc, seed, first, last, tuple(districts or MODELS), tuple(feeds or FEEDS), bad_events)


def notes(spec: RunSpec) -> list[str]:
    """What a reader of the run's figures should know (the COVID years are simulated as normal years)."""
    if any(spec.start.year <= y <= (spec.end - timedelta(days=1)).year for y in COVID_YEARS):
        return ["2020–2022 are simulated as normal years; the COVID years were not (a counterfactual)"]
    return []
