from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from simulators import model
from simulators.generate import ARRAYS, business_day_arrays, day_events, sales_arrays
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


def test_events_are_time_ordered_with_zone_and_footfall_balances_over_the_business_day():
    events = day_events(BASE, 9, date(2024, 7, 6), ["jiefangbei"])
    times = [e["event_time"] for _, e in events]
    assert times == sorted(times) and all(t.endswith("+08:00") for t in times)
    for d in (date(2024, 7, 6), date(2024, 12, 31)):  # 06:00 to 06:00: whoever comes in goes out
        gates = business_day_arrays("footfall", BASE, 9, d, "jiefangbei")
        entries, exits = (sum(int(g.values[m].sum()) for g in gates) for m in ("entries", "exits"))
        assert entries == exits > 0


def test_the_calendar_day_is_the_two_business_days_it_straddles():
    day = date(2024, 10, 3)
    for feed in ("sales", "footfall", "tourists"):
        cal = {s.unit: s.values for s in ARRAYS[feed](BASE, 4, day, "hongyadong")}
        before = {s.unit: s.values for s in business_day_arrays(feed, BASE, 4, date(2024, 10, 2), "hongyadong")}
        own = {s.unit: s.values for s in business_day_arrays(feed, BASE, 4, day, "hongyadong")}
        for unit, values in cal.items():
            for m, arr in values.items():
                assert (arr[:360] == before[unit][m][1080:]).all() and (arr[360:] == own[unit][m][:1080]).all()


def _occupancy_from_six(events: list[dict]) -> dict[str, int]:
    """Occupancy at each minute of a replay, counted from 06:00 each day (the counters' quietest hour)."""
    net: dict[str, int] = defaultdict(int)
    for e in events:
        net[e["event_time"]] += e["entries"] - e["exits"]
    out, running = {}, 0
    for stamp in sorted(net):
        if stamp[11:16] == "06:00":
            running = 0  # everyone of the business day before has left by 05:59
        running += net[stamp]
        out[stamp] = running
    return out


def test_replayed_new_years_eve_peaks_at_the_countdown_and_nobody_is_swept_out_at_2359():
    spec = RunSpec(BASE, 7, date(2024, 12, 31), date(2025, 1, 3), districts=("jiefangbei",), feeds=("footfall",))
    events = [r.event for day in spec.days for r in records(spec, day) if r.event]
    occupancy = _occupancy_from_six([e for e in events if e["event_time"] >= "2024-12-31T06:00"])
    peak_at = max(occupancy, key=occupancy.__getitem__)
    assert "2024-12-31T23:30" <= peak_at <= "2025-01-01T00:10", peak_at
    assert occupancy["2025-01-01T00:00:00+08:00"] > 0.9 * occupancy[peak_at]  # the crowd is still there at 00:00
    assert occupancy["2025-01-01T02:00:00+08:00"] < 0.1 * occupancy[peak_at]  # and has gone by 02:00
    exits: dict[str, int] = defaultdict(int)
    for e in events:
        exits[e["event_time"][:16]] += e["exits"]
    evening = [exits[f"2024-12-31T23:{m:02d}"] for m in range(30, 59)]
    assert exits["2024-12-31T23:59"] < 1.5 * max(evening)  # no exodus in the last minute of the day
    assert max(exits[f"2025-01-01T00:{m:02d}"] for m in range(60)) > 5 * max(evening)  # they leave after midnight


def test_holiday_days_are_at_holiday_level_whatever_the_weekday():
    w = lambda d: model.raw_day_weight("jiefangbei", d, "footfall", None)  # noqa: E731
    # 2024 国庆: Friday 10-4 and Saturday 10-5 are days 4 and 5 of the same holiday.
    assert w(date(2024, 10, 4)) == w(date(2024, 10, 5))
    # 2024-02-17, the last day of 春节 (a Saturday), is no ordinary Saturday.
    assert w(date(2024, 2, 17)) > 1.2 * w(date(2024, 2, 24))
    # 清明 2024-04-04 (Thursday) beats an ordinary Thursday.
    assert w(date(2024, 4, 4)) > 1.1 * w(date(2024, 4, 11))

    def sales(d: date) -> float:
        return sum(int(s.values["amount"].sum()) for s in sales_arrays(BASE, 3, d, "jiefangbei"))

    assert sales(date(2024, 10, 5)) == pytest.approx(sales(date(2024, 10, 4)), rel=0.1)


def test_makeup_working_days_are_working_days():
    w = lambda d: model.raw_day_weight("jiefangbei", d, "sales", None)  # noqa: E731
    assert w(date(2024, 5, 11)) == w(date(2024, 5, 15))  # 调休 Saturday = an ordinary Wednesday
    assert w(date(2023, 10, 7)) < w(date(2023, 10, 14))  # 调休 Saturday after 国庆 < an ordinary Saturday
    days = [date(2023, 1, 1) + timedelta(days=i) for i in range(364)]  # 跨年夜 12-31 is its own event
    busiest = max(days, key=lambda d: model.raw_day_weight("jiefangbei", d, "footfall", None))
    assert date(2023, 9, 29) <= busiest <= date(2023, 10, 6)  # inside 中秋国庆, not on 10-07


def test_chuxi_sells_in_the_morning_and_fills_restaurants_at_dinner():
    def hours(sector: str, d: date) -> tuple[float, float]:
        arr = sum(s.values["amount"] for s in sales_arrays(BASE, 2, d, "jiefangbei") if s.attrs["sector"] == sector)
        return arr[9 * 60 : 13 * 60].sum() / arr.sum(), arr[17 * 60 : 20 * 60].sum() / arr.sum()

    chuxi, ordinary = hours("retail", date(2025, 1, 28)), hours("retail", date(2025, 2, 12))
    assert chuxi[0] > 1.5 * ordinary[0] and chuxi[1] < ordinary[1]
    assert hours("catering", date(2025, 1, 28))[1] > hours("catering", date(2025, 2, 12))[1]


def test_golden_week_and_weekend_are_busier_than_a_weekday():
    def sales(d: date) -> Decimal:
        return sum(Decimal(e["amount"]) for f, e in day_events(BASE, 1, d, ["jiefangbei"], ["sales"]))

    tuesday, saturday, national_day = sales(date(2024, 9, 10)), sales(date(2024, 9, 14)), sales(date(2024, 10, 2))
    assert tuesday < saturday < national_day
