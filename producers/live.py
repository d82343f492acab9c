"""The live feed as a source (``producers.source``): the simulated events of a first day from midnight, then the
next days', without end. Paced in real time from now, so what is already past goes out at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from producers.source import Item
from simulators.run import RunSpec, records
from simulators.scenario import Scenario


class LiveSource:
    unit = "days"
    description = "live feed"

    def __init__(self, scenario: Scenario, seed: int, first: date):
        self.scenario, self.seed, self.first = scenario, seed, first
        self.days = 0  # days sent whole
        self.count = 0
        self._stamp = ""

    def total(self) -> int | None:
        return None

    def items(self) -> Iterator[Item]:
        day = self.first
        while True:
            spec = RunSpec(self.scenario, self.seed, day, day + timedelta(days=1))
            for record in records(spec, day):
                if record.event is None:
                    yield Item(record.feed, raw=record.bad or b"")
                    continue
                self._stamp = record.event["event_time"]
                yield Item(record.feed, record.event, when=datetime.fromisoformat(self._stamp))
            day += timedelta(days=1)
            self.days += 1

    def sent(self) -> None:
        self.count += 1

    def progress(self) -> tuple[int, str]:
        return self.days, self._stamp[:16].replace("T", " ")

    def position(self) -> dict[str, Any]:
        return {"days": self.days, "sent": self.count}

    def finish(self) -> None:
        pass
