"""Holiday comparisons of like with like: 节日累计同比 and the daily panels of holiday_compare.json compare complete
days only, aligned by day of the holiday (dim_calendar.holiday_day / holiday_year), with today's partial day apart;
sales_targets.json's 同比(分商圈×行业) leaves today's partial day out. Data: tests/synthetic_store.py, every day from
2023-09-25 to a moment of 2024's 国庆 (2023's 中秋国庆 ran 09-29 to 10-06, 2024's 国庆 10-01 to 10-07)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from clickhouse_connect.driver.client import Client
from synthetic_store import load_on_model

from yzcore.store import connect
from yzmon.grafana_macros import ALL, expand

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Asia/Shanghai")
DAY3 = datetime(2024, 10, 3, 15, 0, tzinfo=ZONE)  # during day 3 of 国庆 2024
DAY4 = datetime(2024, 10, 4, 10, 0, tzinfo=ZONE)  # day 3 has ended


def _board(name: str) -> dict:
    return json.loads((ROOT / "dashboards" / name).read_text(encoding="utf-8"))


def _store(store_dsn: str, now: datetime) -> Client:
    client = connect(store_dsn)
    load_on_model(client, date(2023, 9, 25), now)
    return client


def _run(client: Client, board: dict, title: str, now: datetime) -> list[dict]:
    (panel,) = [p for p in board["panels"] if p["title"] == title]
    options = {"district": [r[0] for r in client.query("SELECT district FROM dim_district FINAL").result_rows]}
    sql = expand(
        panel["targets"][0]["rawSql"],
        time_from=datetime(now.year, 1, 1, tzinfo=ZONE),
        time_to=now,
        interval_s=3600,
        variables={"holiday": "national_day", "district": [ALL], "sector": [ALL]},
        all_values={**options, "sector": ["wholesale", "retail", "catering", "lodging"]},
    )
    result = client.query(sql)
    return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]


def _sales(client: Client, first: date, last: date) -> float:
    return client.query(
        "SELECT toFloat64(sum(amount)) FROM sales_daily FINAL WHERE day >= {a:Date} AND day <= {b:Date}",
        parameters={"a": first, "b": last},
    ).result_rows[0][0]


def test_holiday_yoy_on_day_3_compares_three_complete_days_with_three(store_dsn: str):
    """Once day 3 of 国庆 2024 has ended (10-04 10:00): days 1–3 of 2024 (10-01..10-03) against days 1–3 of 2023's
    中秋国庆 (09-29..10-01), and day 4's morning apart. The old stat summed this year's partial day 4 (and ranged to
    31 December) against whole days: about −60 %."""
    client = _store(store_dsn, DAY4)
    board = _board("holiday_compare.json")
    assert board["time"] == {"from": "now/y", "to": "now"}
    (stat,) = _run(client, board, "节日累计同比", DAY4)
    cur, prev = (
        _sales(client, date(2024, 10, 1), date(2024, 10, 3)),
        _sales(client, date(2023, 9, 29), date(2023, 10, 1)),
    )
    assert stat["今年社零"] == pytest.approx(cur / 1e8) and stat["去年社零"] == pytest.approx(prev / 1e8)
    assert stat["社零同比"] == pytest.approx(100 * (cur / prev - 1))
    assert abs(stat["社零同比"]) < 20, "like with like: no partial day against whole days"
    assert stat["评估区间"] == "已结束 3 天(第1—3天)对比去年同节日相同天"
    today = _sales(client, date(2024, 10, 4), date(2024, 10, 4))
    assert stat["今日社零(进行中)"] == pytest.approx(today / 1e8) and 0 < today < _sales(
        client, DAY3.date(), DAY3.date()
    )


def test_during_day_3_the_partial_day_stands_apart(store_dsn: str):
    client = _store(store_dsn, DAY3)
    board = _board("holiday_compare.json")
    (stat,) = _run(client, board, "节日累计同比", DAY3)
    cur, prev = (
        _sales(client, date(2024, 10, 1), date(2024, 10, 2)),
        _sales(client, date(2023, 9, 29), date(2023, 9, 30)),
    )
    assert stat["社零同比"] == pytest.approx(100 * (cur / prev - 1)) and stat["评估区间"].startswith("已结束 2 天")
    assert stat["今日社零(进行中)"] == pytest.approx(_sales(client, DAY3.date(), DAY3.date()) / 1e8)
    bars = {r["节日天"]: r for r in _run(client, board, "每日社零:今年 vs 去年", DAY3)}
    assert bars["第2天"]["今年"] == pytest.approx(_sales(client, date(2024, 10, 2), date(2024, 10, 2)) / 1e8)
    assert bars["第2天"]["今日(进行中)"] is None
    assert bars["第3天"]["今年"] is None and bars["第3天"]["今日(进行中)"] > 0
    assert bars["第5天"]["今年"] is None and bars["第5天"]["今日(进行中)"] is None  # not yet
    assert bars["第8天"]["去年"] > 0  # 2023's window had eight days
    table = {r["节日天"]: r for r in _run(client, board, "逐日明细", DAY3)}
    assert table["第2天"]["状态"] == "已结束" and table["第2天"]["社零同比"] is not None
    assert table["第3天"]["状态"] == "进行中(截至 15:00)" and table["第3天"]["社零同比"] is None
    assert table["第4天"]["状态"] == "未到" and table["第8天"]["状态"] == "今年无此天"


def test_sales_yoy_by_district_and_sector_leaves_out_today(store_dsn: str):
    """同比(分商圈×行业) from 1 January to 10-03 15:00 sets 01-01..10-02 against 2023-01-01..10-02 (the store
    begins on 2023-09-25, so last year is incomplete and shows —; the current period is what is checked)."""
    client = _store(store_dsn, DAY3)
    rows = _run(client, _board("sales_targets.json"), "同比(分商圈×行业)", DAY3)
    total = sum(r["本期社零"] for r in rows) * 1e4
    assert total == pytest.approx(_sales(client, date(2024, 1, 1), date(2024, 10, 2)))
    assert all(r["去年同期"] is None for r in rows)
    later = _run(client, _board("sales_targets.json"), "同比(分商圈×行业)", DAY3.replace(hour=23, minute=59, second=59))
    assert sum(r["本期社零"] for r in later) * 1e4 == pytest.approx(_sales(client, date(2024, 1, 1), DAY3.date()))
