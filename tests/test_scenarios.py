"""Each scenario does what its file says, and replays stop and resume without duplicates."""

from __future__ import annotations

import threading
from datetime import date

import numpy as np
import orjson
import pytest

from producers.replay import Checkpoint, Interrupted, replay
from simulators import model
from simulators.generate import business_day_arrays, footfall_arrays, sales_arrays
from simulators.run import RunSpec, records
from simulators.scenario import ScenarioError, available, load

BASE = load("baseline")


def test_every_scenario_file_loads_and_says_what_it_changes():
    names = available()
    assert {
        "baseline",
        "spring_festival",
        "national_day",
        "new_years_eve",
        "rain_week",
        "consumption_festival",
        "flagship_opening",
        "counter_outage",
    } <= set(names)
    for name in names:
        sc = load(name)
        assert sc.description.strip()
        assert all(e.what for e in sc.effects)
        if name != "baseline":
            assert sc.start is not None and sc.effects


def _occupancy_peak(scenario, day: date, district: str, hours: tuple[int, int]) -> int:
    """Peak occupancy in local hours [from, to) of the business day from 06:00 (hours after midnight 24+)."""
    gates = business_day_arrays("footfall", scenario, 7, day, district)
    net = sum(g.values["entries"] - g.values["exits"] for g in gates)
    occupancy = np.cumsum(net)
    return int(occupancy[(hours[0] - 6) * 60 : (hours[1] - 6) * 60].max())


def test_new_years_eve_peak_at_jiefangbei_is_several_times_a_saturday_night():
    saturday = _occupancy_peak(BASE, date(2024, 12, 28), "jiefangbei", (19, 25))
    nye = _occupancy_peak(load("new_years_eve"), date(2024, 12, 31), "jiefangbei", (19, 25))
    assert nye > 3 * saturday


def _visits(scenario, day: date) -> int:
    return sum(int(g.values["entries"].sum()) for d in model.MODELS for g in footfall_arrays(scenario, 7, day, d))


def test_rain_lowers_visits_and_raises_delivery():
    day = date(2024, 6, 12)
    assert _visits(load("rain_week"), day) < 0.8 * _visits(BASE, day)

    def delivery_share(sc) -> float:
        series = sales_arrays(sc, 7, day, "jiefangbei")
        catering = [s for s in series if s.attrs["sector"] == "catering"]
        total = sum(s.values["amount"].sum() for s in catering)
        return sum(s.values["amount"].sum() for s in catering if s.attrs["channel"] == "delivery") / total

    assert delivery_share(load("rain_week")) > 1.5 * delivery_share(BASE)


def test_a_seeded_rainy_day_has_fewer_visits_than_the_same_day_dry():
    rainy_days = [d for d in (date(2024, 6, i) for i in range(1, 29)) if model.rainy(7, d)]
    assert rainy_days
    d = rainy_days[0]
    assert model.rain_factor("hongyadong", "footfall", 7, d) < 1
    wet, expected = (model.raw_day_weight("hongyadong", d, "footfall", s) for s in (7, None))
    assert wet < expected


def test_counter_outage_silences_one_gate_for_two_hours_only():
    sc = load("counter_outage")
    gates = {g.unit: g for g in footfall_arrays(sc, 7, date(2024, 10, 2), "jiefangbei")}
    silent = gates["jiefangbei-gate-03"].values["entries"] + gates["jiefangbei-gate-03"].values["exits"]
    assert silent[14 * 60 : 16 * 60].sum() == 0
    assert silent[12 * 60 : 14 * 60].sum() > 0 and silent[16 * 60 : 18 * 60].sum() > 0
    assert gates["jiefangbei-gate-02"].values["entries"][14 * 60 : 16 * 60].sum() > 0


def test_flagship_opening_lifts_hualongqiao_sales():
    def sales(sc) -> int:
        return sum(int(s.values["amount"].sum()) for s in sales_arrays(sc, 7, date(2024, 11, 9), "hualongqiao"))

    assert sales(load("flagship_opening")) > 1.4 * sales(BASE)


def test_a_bad_scenario_file_is_refused_with_its_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\neffects:\n  - factor: 2\n    hours: [20, 30]\n")
    with pytest.raises(ScenarioError, match="hours"):
        load(str(path))
    path.write_text("name: bad\neffects:\n  - factr: 2\n")
    with pytest.raises(ScenarioError, match="unknown keys"):
        load(str(path))


class Collect:
    """A producer stand-in that records what was confirmed."""

    def __init__(self, stop_after: int | None = None, stop: threading.Event | None = None):
        self.pending: list[str] = []
        self.confirmed: list[str] = []
        self.stop_after, self.stop = stop_after, stop

    def send(self, feed: str, event: dict) -> None:
        self.pending.append(event["event_id"])
        self._maybe_stop()

    def send_run(self, run) -> None:
        self.pending += [orjson.loads(e)["event_id"] for e in run.events()]
        self._maybe_stop()

    def send_raw(self, feed: str, key, value: bytes) -> None:
        self.pending.append(value.decode(errors="replace"))
        self._maybe_stop()

    def _maybe_stop(self) -> None:
        if self.stop_after is not None and len(self.confirmed) + len(self.pending) >= self.stop_after:
            self.stop.set()

    def push(self) -> None:
        pass  # nothing waits here: every event is pending until flush

    def flush(self) -> int:
        self.confirmed += self.pending
        n, self.pending = len(self.pending), []
        return n


def test_interrupted_replay_resumes_without_duplicates_or_gaps(tmp_path):
    spec = RunSpec(BASE, 7, date(2024, 10, 1), date(2024, 10, 3), districts=("eling", "shibati"), bad_per_day=5)
    everything = [
        r.event["event_id"] if r.event else r.bad.decode(errors="replace")
        for day in spec.days
        for r in records(spec, day)
    ]
    checkpoint = Checkpoint(tmp_path, spec)
    stop = threading.Event()
    first = Collect(stop_after=len(everything) // 2 + 17, stop=stop)
    with pytest.raises(Interrupted):
        replay(spec, first, None, show_progress=False, checkpoint=checkpoint, stop=stop)
    second = Collect()
    replay(spec, second, None, show_progress=False, checkpoint=checkpoint, resume=True)
    # an hour of event time goes out at a time, each 商圈's and feed's events in order (tests/test_columnar.py)
    assert 0 < len(first.confirmed) < len(everything)
    assert sorted(first.confirmed + second.confirmed) == sorted(everything)
    assert len(set(everything)) == len(everything)
    assert replay(spec, Collect(), None, show_progress=False, checkpoint=checkpoint, resume=True) == 0
