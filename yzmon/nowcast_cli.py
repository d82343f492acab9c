"""``yzmon nowcast [--as-of DATE]``: 推算社零 for this quarter and the year, with the release it builds on.

Registered in yzmon/cli.py with ``app.add_typer(nowcast_app, name="nowcast")``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["nowcast_app"]

nowcast_app = typer.Typer(help="推算社零: this quarter and the year from the sample and the official releases.")
_out = Console()


@nowcast_app.callback(invoke_without_command=True)
def nowcast(
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Data up to this day and releases published by it (default: yesterday).",
    ),
) -> None:
    """推算社零 (estimate, interval, comparable growth against the target) and the official release it builds on."""
    from schemas.zone import ZONE
    from yzcore.settings import get_settings
    from yzcore.store import query_reader, rows
    from yzmon.nowcast_view import PERIOD_ZH, nowcast_lines

    day = as_of.date() if as_of else datetime.now(ZONE).date() - timedelta(days=1)
    reader = query_reader(get_settings())
    t = Table(title=f"推算社零 · 渝中区 · 截至 {day.isoformat()}", show_header=False)
    for label, text in nowcast_lines(reader, day):
        t.add_row(label, text)
    sample = rows(
        reader,
        "SELECT toFloat64(sum(amount)) AS v FROM sales_daily FINAL WHERE day BETWEEN {a:Date} AND {b:Date}",
        {"a": date(day.year, 1, 1), "b": day},
    )
    total = float(sample[0]["v"] or 0) / 1e4
    t.add_row("样本(原始合计)", f"{day.year}年至今 {total:,.1f} 万元 — 数据源样本之和, 不是社零")
    _out.print(t)
    history = rows(
        reader,
        "SELECT year, end_month, published, official, nowcast, low, high, method, error_pct"
        " FROM nowcast_reconciliation FINAL ORDER BY published DESC LIMIT 8",
    )
    if history:
        h = Table(title="官方发布与发布前推算的对照(最近 8 次)")
        for col in ("期别", "发布", "官方(亿元)", "推算(亿元)", "区间", "误差"):
            h.add_column(col, justify="right")
        for r in history:
            h.add_row(
                f"{r['year']}年{PERIOD_ZH[int(r['end_month'])]}",
                str(r["published"]),
                f"{float(r['official']) / 1e8:,.1f}",
                f"{float(r['nowcast']) / 1e8:,.1f}",
                f"{float(r['low']) / 1e8:,.1f}—{float(r['high']) / 1e8:,.1f}",
                f"{float(r['error_pct']):+.2f}%",
            )
        _out.print(h)
