"""`yzmon status`: what runs, what landed, and the current year against its targets."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import httpx
from rich.console import Console
from rich.table import Table

from schemas.feeds import FEEDS
from schemas.zone import ZONE
from yzcore.queries import get
from yzcore.settings import Settings
from yzcore.store import Reader, StoreError, query_reader, rows
from yzmon.broker import group_lag, port_open
from yzmon.errors import explain
from yzmon.stack import supervision_rows


def consumer_lag(settings: Settings) -> dict[str, int] | None:
    """Records not yet committed by the worker's group, per feed topic; None when Kafka is unreachable."""
    return group_lag(settings.bootstrap)


def landed(reader: Reader) -> dict[str, int]:
    sql = " UNION ALL ".join(
        f"SELECT '{f.name}' AS feed, count() AS n FROM {f.raw_table} FINAL" for f in FEEDS.values()
    )
    return {r["feed"]: int(r["n"]) for r in rows(reader, sql)}


def pace_rows(reader: Reader, day: date) -> list[tuple[str, dict]]:
    """The library's pace_vs_target for 渝中 社零 and 解放碑 客流 on ``day`` (rows without a target are left out)."""
    query = get("pace_vs_target")
    out = []
    for label, scope, metric in (("社零", "district", "retail_sales"), ("解放碑客流", "jiefangbei", "visits")):
        row = rows(reader, query.sql, {"day": day, "scope": scope, "metric": metric})[0]
        if row["target"]:
            out.append((label, row))
    return out


def describe_pace(label: str, p: dict) -> str:
    yi = label == "社零"
    scale, unit = (Decimal(10**8), "亿元") if yi else (Decimal(10**4), "万人次")

    def fmt(x: object) -> str:
        return f"{Decimal(str(x)) / scale:,.2f}"

    return (
        f"{fmt(p['actual'])} {unit} / 目标 {fmt(p['target'])} {unit} · 按进度应达 {fmt(p['expected'])} {unit} · "
        f"{p['status']} ({float(p['gap_pct'] or 0):+.1f}%, 参照{CURVE_ZH[p['curve']]})"
    )


CURVE_ZH = {"last_year": "上年实际", "model": "模型"}


def render_status(settings: Settings, console: Console) -> int:
    t = Table(title="yzmon status", show_header=False)
    broker_up = port_open(*_host_port(settings.bootstrap))
    t.add_row("broker", f"{settings.bootstrap} " + ("[green]up[/]" if broker_up else "[red]down[/] — `yzmon up`"))
    try:
        worker = httpx.get(f"{settings.worker_url}/status", timeout=2).json()
        t.add_row(
            "worker",
            f"[green]up[/] pid {worker['pid']} · {len(worker['assigned'])} partitions · "
            f"{worker['batches']} batches · write errors {worker['write_errors']} · "
            f"late events {sum(worker.get('late', {}).values()):,}"
            + (" · [yellow]retrying[/]" if worker["retrying"] else ""),
        )
    except (httpx.HTTPError, ValueError):
        t.add_row("worker", f"[red]down[/] at {settings.worker_url} — `yzmon up`")
    for label, text in supervision_rows(settings):
        t.add_row(label, text)
    if broker_up:
        lag = consumer_lag(settings) or {}
        t.add_row("consumer lag", " · ".join(f"{k} {v:,}" for k, v in lag.items()))
    try:
        reader = query_reader(settings)
        t.add_row("rows landed", " · ".join(f"{k} {v:,}" for k, v in landed(reader).items()))
        rejected = rows(
            reader, "SELECT reason, count() AS n FROM rejected_events FINAL GROUP BY reason ORDER BY reason"
        )
        t.add_row("rejected", " · ".join(f"{r['reason']} {int(r['n']):,}" for r in rejected) or "none")
        late = rows(reader, "SELECT topic, sum(late) AS n FROM ingest_batches FINAL GROUP BY topic ORDER BY topic")
        t.add_row("late events", " · ".join(f"{r['topic']} {int(r['n']):,}" for r in late) or "none")
        today = datetime.now(ZONE).date()
        for label, p in pace_rows(reader, today):
            t.add_row(f"{today.year} {label}", describe_pace(label, p))
    except StoreError as exc:
        t.add_row("store", f"[red]{exc}[/]")
    except Exception as exc:  # noqa: BLE001 - an empty or half-migrated store is a state to report, not a crash
        t.add_row("store", f"[yellow]{explain(exc, settings.query_dsn)}[/]")
    console.print(t)
    return 0


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host, int(port)
