from datetime import date
from decimal import Decimal

from simulators.generate import day_events
from simulators.run import RunSpec, records, truth
from simulators.scenario import load

BASE = load("baseline")


def test_same_arguments_give_identical_truth_bytes():
    spec = RunSpec(BASE, 7, date(2024, 10, 1), date(2024, 10, 2), bad_per_day=5)
    assert truth(spec).to_csv().encode() == truth(spec).to_csv().encode()


def test_same_seed_same_event_ids_other_seed_differs():
    a = [e["event_id"] for _, e in day_events(BASE, 7, date(2024, 5, 1), ["daping"])]
    b = [e["event_id"] for _, e in day_events(BASE, 7, date(2024, 5, 1), ["daping"])]
    c = [e["event_id"] for _, e in day_events(BASE, 8, date(2024, 5, 1), ["daping"])]
    assert a == b
    assert len(set(a)) == len(a)
    assert not set(a) & set(c)


def test_filtering_districts_does_not_change_a_districts_events():
    alone = day_events(BASE, 3, date(2024, 2, 10), ["shibati"])
    both = day_events(BASE, 3, date(2024, 2, 10), ["shibati", "daping"])
    together = [fe for fe in both if fe[1]["district"] == "shibati"]
    assert sorted(alone, key=lambda fe: fe[1]["event_id"]) == sorted(together, key=lambda fe: fe[1]["event_id"])


def test_truth_equals_the_sum_of_the_records_sent():
    spec = RunSpec(BASE, 5, date(2024, 10, 1), date(2024, 10, 2), districts=("hongyadong",), bad_per_day=5)
    sent = list(records(spec, spec.start))
    amount = sum(Decimal(r.event["amount"]) for r in sent if r.event and r.feed == "sales")
    rows = truth(spec).rows()
    assert sum(Decimal(v) for (_, _, feed, _, m, v) in rows if m == "amount") == amount
    assert sum(int(v) for (*_, m, v) in rows if m == "rejected") == 15 == sum(1 for r in sent if r.bad)


def test_events_are_time_ordered_with_zone_and_footfall_balances():
    events = day_events(BASE, 9, date(2024, 7, 6), ["jiefangbei"])
    times = [e["event_time"] for _, e in events]
    assert times == sorted(times) and all(t.endswith("+08:00") for t in times)
    foot = [e for f, e in events if f == "footfall"]
    assert sum(e["entries"] for e in foot) == sum(e["exits"] for e in foot) > 0


def test_golden_week_and_weekend_are_busier_than_a_weekday():
    def sales(d: date) -> Decimal:
        return sum(Decimal(e["amount"]) for f, e in day_events(BASE, 1, d, ["jiefangbei"], ["sales"]))

    tuesday, saturday, national_day = sales(date(2024, 9, 10)), sales(date(2024, 9, 14)), sales(date(2024, 10, 2))
    assert tuesday < saturday < national_day
