"""The sample scenario: the acquirer files part of the same economy, column-wise totals agree with the
events, and the bureau's releases are the truth's cumulative periods."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from simulators import model, sample
from simulators.generate import events_of
from simulators.scenario import Outage, Sample, Scenario, load, with_sample

DAYS = (date(2024, 2, 10), date(2024, 7, 3), date(2025, 10, 1))  # 春节, an ordinary Wednesday, 国庆


def _event_totals(scenario: Scenario, day: date, key: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for district in model.MODELS:
        for ev in events_of("sales", scenario, 7, day, district):
            out[ev[key]] += Decimal(ev["amount"])
    return out


@pytest.mark.parametrize("day", DAYS)
def test_column_wise_truth_agrees_with_the_census_events(day):
    events = _event_totals(load("baseline"), day, "sector")
    truth = sample.daily_truth(7, day, day + timedelta(days=1)).set_index("sector")["amount"]
    for sector, amount in events.items():
        assert float(amount) == pytest.approx(truth[sector], rel=0.02), sector


@pytest.mark.parametrize("day", DAYS)
def test_column_wise_sample_agrees_with_the_acquirer_events(day):
    acquirer = with_sample(load("baseline"), "acquirer")
    events = _event_totals(acquirer, day, "sector")
    cols = sample.daily_sample(7, acquirer.sample, day, day + timedelta(days=1))
    assert set(events) == set(cols["sector"]) <= {"retail", "catering", "lodging"}  # never 批发
    per_sector = cols.groupby("sector")["amount"].sum()
    for sector, amount in events.items():
        assert float(amount) == pytest.approx(per_sector[sector], rel=0.03), sector
    merchants = _event_totals(acquirer, day, "merchant_group")
    assert set(merchants) == set(cols["merchant_group"])  # the same merchants are served


def test_the_sample_is_a_minority_of_the_truth_and_never_wholesale():
    acquirer = with_sample(load("baseline"), "acquirer").sample
    start, end = date(2024, 1, 1), date(2025, 1, 1)
    share = (
        sample.daily_sample(7, acquirer, start, end)["amount"].sum() / sample.daily_truth(7, start, end)["amount"].sum()
    )
    assert 0.1 < share < 0.4


def test_an_outage_silences_a_share_of_the_served_merchants_for_its_days():
    quiet = Sample(drift=False)
    out = Sample(drift=False, outages=(Outage(date(2025, 3, 1), date(2025, 3, 31), 0.2),))
    days = [date(2025, 2, 27), date(2025, 3, 15)]
    _, before = sample.factors(7, quiet, days)
    _, after = sample.factors(7, out, days)
    served = (before > 0).sum(axis=1)
    left = (after > 0).sum(axis=1)
    assert left[0] == served[0]  # before the outage, nothing changes
    assert 0.1 < 1 - left[1] / served[1] < 0.3  # about 20 % silent during it


def test_merchants_join_and_leave_the_acquirer():
    ms = sample.merchants(7)
    assert sum(len(m.switches) for m in ms if m.sector in sample.SERVED) > 100
    assert not any(m.switches or m.served_at_epoch for m in ms if m.sector == "wholesale")


def test_bureau_releases_are_the_truths_cumulative_periods():
    rows = sample.releases(7, range(2024, 2025))
    total = {r["period"]: r for r in rows if r["sector"] == ""}
    truth = sample.daily_truth(7, date(2024, 1, 1), date(2024, 4, 1))["amount"].sum()
    assert float(total["3"]["level"]) == pytest.approx(truth / model.YI, abs=0.05)
    assert total["3"]["published"] == "2024-04-24" and total["12"]["published"] == "2025-01-24"
    sectors = [r for r in rows if r["period"] == "12" and r["sector"]]
    assert {r["sector"] for r in sectors} == {"wholesale", "retail", "catering", "lodging"}
    assert float(total["12"]["level"]) == pytest.approx(sum(float(r["level"]) for r in sectors), abs=0.3)
