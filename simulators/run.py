"""A simulated run: every record of a scenario over a date range, in event-time order, day by day."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import starmap
from typing import NamedTuple

from schemas.feeds import FEEDS
from simulators.generate import bad_events, day_events
from simulators.model import MODELS
from simulators.scenario import Scenario
from simulators.truth import Truth


class SimRecord(NamedTuple):
    """One record to send: a valid event, or deliberately bad bytes with the reason it must get."""

    feed: str
    event: dict | None = None
    bad: bytes | None = None
    reason: str = ""

    @property
    def key(self) -> bytes | None:
        return self.event["district"].encode() if self.event else None


@dataclass(frozen=True)
class RunSpec:
    scenario: Scenario
    seed: int
    start: date
    end: date  # exclusive
    districts: Sequence[str] = tuple(MODELS)
    feeds: Sequence[str] = tuple(FEEDS)
    bad_per_day: int = 0

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]


def records(spec: RunSpec, day: date) -> Iterator[SimRecord]:
    """The records of one day; injected bad records sit at local noon."""
    events = day_events(spec.scenario, spec.seed, day, spec.districts, spec.feeds)
    noon = f"{day.isoformat()}T12:00"
    split = bisect.bisect_left(events, noon, key=lambda fe: fe[1]["event_time"])
    yield from starmap(SimRecord, events[:split])
    yield from bad_records(spec, day)
    yield from starmap(SimRecord, events[split:])


def bad_records(spec: RunSpec, day: date) -> list[SimRecord]:
    """The day's injected bad records, in the order they are sent (at local noon)."""
    per_feed = spec.bad_per_day or spec.scenario.bad_events_per_day
    return [
        SimRecord(feed, bad=payload, reason=reason)
        for feed in spec.feeds
        for reason, payload in bad_events(spec.scenario, spec.seed, day, feed, per_feed)
    ]


def truth(spec: RunSpec) -> Truth:
    """Ground truth of the run, computed from exactly the records a replay would send."""
    t = Truth()
    for day in spec.days:
        for r in records(spec, day):
            if r.event is not None:
                t.add(r.feed, r.event)
            else:
                t.add_rejected(day.isoformat(), r.feed, r.reason)
    return t
