"""The official calendar against the 国务院办公厅 notices, transcribed here from the published texts."""

from datetime import date, timedelta

import pytest

from schemas import calendar
from schemas.calendar import CalendarCoverageError, day_info, window, windows

D = date.fromisoformat
# year -> {holiday: (first day off, last day off)}, and the 调休 working days, as each notice states them.
NOTICES = {
    2020: (  # with the extension of 春节 to 2-2 (国务院办公厅, 2020-01-26)
        {
            "new_years_day": ("2020-01-01", "2020-01-01"),
            "spring_festival": ("2020-01-24", "2020-02-02"),
            "qingming": ("2020-04-04", "2020-04-06"),
            "labour_day": ("2020-05-01", "2020-05-05"),
            "dragon_boat": ("2020-06-25", "2020-06-27"),
            "national_day": ("2020-10-01", "2020-10-08"),  # 国庆节、中秋节
        },
        ["2020-01-19", "2020-04-26", "2020-05-09", "2020-06-28", "2020-09-27", "2020-10-10"],
    ),
    2023: (
        {
            "new_years_day": ("2022-12-31", "2023-01-02"),
            "spring_festival": ("2023-01-21", "2023-01-27"),
            "qingming": ("2023-04-05", "2023-04-05"),
            "labour_day": ("2023-04-29", "2023-05-03"),
            "dragon_boat": ("2023-06-22", "2023-06-24"),
            "national_day": ("2023-09-29", "2023-10-06"),  # 中秋节、国庆节, 8 days
        },
        ["2023-01-28", "2023-01-29", "2023-04-23", "2023-05-06", "2023-06-25", "2023-10-07", "2023-10-08"],
    ),
    2024: (
        {
            "new_years_day": ("2023-12-30", "2024-01-01"),  # 1月1日放假, 与周末连休
            "spring_festival": ("2024-02-10", "2024-02-17"),
            "qingming": ("2024-04-04", "2024-04-06"),
            "labour_day": ("2024-05-01", "2024-05-05"),
            "dragon_boat": ("2024-06-08", "2024-06-10"),  # 6月10日放假, 与周末连休
            "mid_autumn": ("2024-09-15", "2024-09-17"),
            "national_day": ("2024-10-01", "2024-10-07"),
        },
        [
            "2024-02-04",
            "2024-02-18",
            "2024-04-07",
            "2024-04-28",
            "2024-05-11",
            "2024-09-14",
            "2024-09-29",
            "2024-10-12",
        ],
    ),
    2025: (
        {
            "new_years_day": ("2025-01-01", "2025-01-01"),
            "spring_festival": ("2025-01-28", "2025-02-04"),
            "qingming": ("2025-04-04", "2025-04-06"),
            "labour_day": ("2025-05-01", "2025-05-05"),
            "dragon_boat": ("2025-05-31", "2025-06-02"),
            "national_day": ("2025-10-01", "2025-10-08"),  # 国庆节、中秋节, 8 days
        },
        ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"],
    ),
    2026: (
        {
            "new_years_day": ("2026-01-01", "2026-01-03"),
            "spring_festival": ("2026-02-15", "2026-02-23"),
            "qingming": ("2026-04-04", "2026-04-06"),
            "labour_day": ("2026-05-01", "2026-05-05"),
            "dragon_boat": ("2026-06-19", "2026-06-21"),
            "mid_autumn": ("2026-09-25", "2026-09-27"),
            "national_day": ("2026-10-01", "2026-10-07"),
        },
        ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
    ),
}


def _days(year: int) -> list[date]:
    d, out = date(year, 1, 1), []
    while d.year == year:
        out.append(d)
        d += timedelta(days=1)
    return out


@pytest.mark.parametrize("year", sorted(NOTICES))
def test_holiday_windows_are_those_of_the_notice(year):
    expected, _ = NOTICES[year]
    got = {w.holiday: (w.start.isoformat(), w.end.isoformat()) for w in windows(year)}
    assert got == expected


@pytest.mark.parametrize("year", sorted(NOTICES))
def test_makeup_working_days_are_those_of_the_notice_and_nothing_else_is_off(year):
    _, makeup = NOTICES[year]
    assert [d.isoformat() for d in _days(year) if day_info(d).makeup_workday] == makeup
    off_in_windows = {  # every notice's windows: 元旦 2024 starts in 2023
        d
        for windows_of_year, _ in NOTICES.values()
        for start, end in windows_of_year.values()
        for d in (D(start) + timedelta(days=i) for i in range((D(end) - D(start)).days + 1))
    }
    for d in _days(year):
        info = day_info(d)
        if d in off_in_windows:
            assert not info.workday and info.window is not None, d
        else:
            assert info.workday == (d.weekday() < 5 or d.isoformat() in makeup), d
            assert info.window is None, d


def test_day_of_holiday_counts_from_the_first_day_off_and_names_merged_windows():
    nd = window("national_day", 2023)
    assert (nd.length, nd.name_zh) == (8, "中秋节、国庆节")
    assert [day_info(D("2023-09-29")).holiday_day, day_info(D("2023-10-06")).holiday_day] == [1, 8]
    assert window("national_day", 2024).length == 7
    new_year = day_info(D("2023-12-31"))
    assert (new_year.holiday, new_year.window.year, new_year.holiday_day) == ("new_years_day", 2024, 2)


def test_the_days_around_a_window_and_the_lunar_new_years_eve():
    eve, chuxi, back = day_info(D("2024-02-09")), day_info(D("2024-02-18")), day_info(D("2024-02-19"))
    assert eve.kind == "eve" and eve.chuxi and eve.workday  # 2024: 除夕 a working day
    assert chuxi.kind == "return" and chuxi.makeup_workday  # a 调休 Sunday is the first working day back
    assert back.kind == "workday"
    assert day_info(D("2025-01-28")).chuxi and day_info(D("2025-01-28")).holiday_day == 1  # 2025: 除夕 off
    assert day_info(D("2025-12-31")).new_years_eve and day_info(D("2025-12-31")).kind == "eve"


def test_every_notice_is_cited_and_years_outside_are_refused_with_what_to_do():
    years = calendar.covered_years()
    assert years.start <= 2019 and years.stop - 1 >= 2026
    assert all(n.url.startswith("https://www.gov.cn/") and str(n.year) in n.title for n in calendar.notices())
    with pytest.raises(CalendarCoverageError, match=r"upgrade the `holidays` package"):
        day_info(date(years.stop, 3, 1))
    with pytest.raises(CalendarCoverageError):
        windows(years.start - 1)


def test_dim_calendar_rows_agree_with_the_notices():
    from yzcore.migrate import CALENDAR_COLUMNS, calendar_rows

    rows = [dict(zip(CALENDAR_COLUMNS, r, strict=True)) for r in calendar_rows(range(2023, 2027))]
    by_day = {r["day"]: r for r in rows}
    for year in (2023, 2024, 2025, 2026):
        windows_of_year, makeup = NOTICES[year]
        for holiday, (start, end) in windows_of_year.items():
            days = [D(start) + timedelta(days=i) for i in range((D(end) - D(start)).days + 1)]
            for n, d in enumerate(days, start=1):
                if d in by_day:  # 元旦 2023 starts on 2022-12-31, outside these rows
                    r = by_day[d]
                    assert (r["holiday"], r["holiday_day"], r["holiday_year"], r["holiday_len"]) == (
                        holiday,
                        n,
                        year,
                        len(days),
                    )
                    assert r["is_workday"] == 0 and r["day_kind"] == "holiday"
        got = sorted(r["day"].isoformat() for r in rows if r["day"].year == year and r["is_makeup_workday"])
        assert got == makeup
    notice_days = {
        D(s) + timedelta(days=i)
        for y in (2023, 2024, 2025, 2026)
        for s, e in NOTICES[y][0].values()
        for i in range((D(e) - D(s)).days + 1)
    }
    assert {r["day"] for r in rows if r["holiday"]} == {d for d in notice_days if d.year >= 2023}
