"""`yzmon status`: what runs, what landed, and the current year against its targets."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import httpx
from rich.console import Console
from rich.table import Table

from schemas.feeds import FEEDS
from schemas.zone import ZONE
from yzcore.queries import get
from yzcore.settings import Settings
from yzcore.store import Reader, StoreError, query_reader, rows
from yzmon.broker import port_open
from yzmon.errors import explain
from yzmon.freshness import describe, footfall_freshness
from yzmon.nowcast_view import nowcast_lines, visits_lines
from yzmon.offsets import group_lag
from yzmon.stack import supervision_rows
from yzmon.stackinfo import worker_restarting


def consumer_lag(settings: Settings) -> dict[str, int] | None:
    """Records not yet committed by the worker's group, per feed topic; None when Kafka is unreachable."""
    return group_lag(settings.bootstrap)


def landed(reader: Reader) -> dict[str, int]:
    sql = " UNION ALL ".join(
        f"SELECT '{f.name}' AS feed, count() AS n FROM {f.raw_table} FINAL" for f in FEEDS.values()
    )
    return {r["feed"]: int(r["n"]) for r in rows(reader, sql)}


def pace_rows(reader: Reader, today: date) -> list[tuple[str, dict]]:
    """The library's pace_vs_target for 渝中 社零 and 解放碑 客流, judged up to yesterday (today is not complete) on the
    days the store fully covers; rows without a target are left out."""
    query = get("pace_vs_target")
    out = []
    for label, scope, metric in (("社零", "district", "retail_sales"), ("解放碑客流", "jiefangbei", "visits")):
        row = rows(reader, query.sql, {"day": today - timedelta(days=1), "scope": scope, "metric": metric})[0]
        if row["target"]:
            out.append((label, row))
    return out


def describe_pace(label: str, p: dict) -> str:
    yi = label == "社零"
    scale, unit = (Decimal(10**8), "亿元") if yi else (Decimal(10**4), "万人次")

    def fmt(x: object) -> str:
        return f"{Decimal(str(x)) / scale:,.2f}"

    target = f"目标 {fmt(p['target'])} {unit}" + ("(推算)" if p.get("target_note") == "推算" else "")
    if p["gap_pct"] is None:
        return f"{target} · 暂不评估进度(本年尚无完整覆盖的日)"
    return (
        f"{_day(p['first_day']):%m-%d}—{_day(p['last_day']):%m-%d} 共 {p['days']} 天 "
        f"{fmt(p['actual'])} {unit} · {target} · "
        f"同期应达 {fmt(p['expected'])} {unit} · {p['status']} {float(p['gap_pct']):+.1f}%(参照{CURVE_ZH[p['curve']]})"
    )


FEED_ZH = {"sales": "社零", "footfall": "客流", "tourists": "游客"}


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class Coverage(NamedTuple):
    """What the store holds of one feed in a year (library query coverage)."""

    first: date
    last: date
    days: int  # days with data
    gaps: int  # days without data between first and last
    complete: int  # days on which every 商圈 reported


def coverage_by_feed(reader: Reader, year: int) -> dict[str, Coverage]:
    """Per feed with data in ``year``: its coverage."""
    out = {}
    for r in rows(reader, get("coverage").sql):
        if int(r["year"]) == year:
            days = int(r["days_covered"])
            gaps = int(r["span_days"]) - days
            out[r["feed"]] = Coverage(_day(r["first_day"]), _day(r["last_day"]), days, gaps, int(r["complete_days"]))
    return out


def uncovered_start(found: dict[str, Coverage], year: int) -> date | None:
    """The last day of the year's start that no feed covers (None when 1 January is covered)."""
    first = min(c.first for c in found.values())
    return None if first == date(year, 1, 1) else first - timedelta(days=1)


def coverage_line(reader: Reader, year: int) -> str:
    """What the store covers in ``year`` per feed (library query coverage), saying so when it is not the whole year."""
    found = coverage_by_feed(reader, year)
    if not found:
        return f"{year} 年尚无数据"
    parts = []
    for feed, name in FEED_ZH.items():
        c = found.get(feed)
        if c is None:
            parts.append(f"{name} 无数据")
            continue
        parts.append(
            f"{name} {c.first:%m-%d}—{c.last:%m-%d} {c.days} 天"
            + (f"(缺 {c.gaps} 天)" if c.gaps else "")
            + (f"(其中 {c.complete} 天各商圈齐全)" if c.complete != c.days else "")
        )
    until = uncovered_start(found, year)
    note = "" if until is None else f";{year}-01-01 至 {until:%m-%d} 无数据"
    return " · ".join(parts) + note


CURVE_ZH = {"last_year": "上年实际", "model": "模型"}
# The feed's own sum is a sample of 社零 (a card acquirer's merchants, some sectors), never 社零 itself.
PACE_LABEL = {"社零": "社零样本(数据源合计, 非社零)"}


def freshness_rows(reader: Reader, now: datetime) -> list[tuple[str, str]]:
    """Per 商圈: 客流 occupancy with its data age and counters reporting, or 数据中断 with the last value; one line
    when no counter at all reported in the 7 days before (an empty or idle store)."""
    found = footfall_freshness(reader, now)
    if not any(f.known for f in found):
        return [("客流", "[yellow]近 7 天没有任何计数点上报:在场人数不可知[/]")]
    out = []
    for f in found:
        text = describe(f)
        out.append((f"客流 {f.name}", f"[bold red]{text}[/]" if f.stale else text))
    return out


def render_status(settings: Settings, console: Console) -> int:
    restarting = worker_restarting(settings)
    if restarting is not None:  # the supervisor brings it back: that is all there is to say
        console.print(f"{restarting}; `yzmon status` again in a few seconds")
        return 0
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
    for line in resent_lines(settings):
        t.add_row("re-sent", line)
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
        now = datetime.now(ZONE)
        for label, text in freshness_rows(reader, now):
            t.add_row(label, text)
        today = now.date()
        t.add_row(f"{today.year} 数据覆盖", coverage_line(reader, today.year))
        yesterday = today - timedelta(days=1)
        for label, text in nowcast_lines(reader, yesterday) + visits_lines(reader, yesterday):
            t.add_row(label, text)
        for label, p in pace_rows(reader, today):
            t.add_row(f"{today.year} {PACE_LABEL.get(label, label)}", describe_pace(label, p))
    except StoreError as exc:
        t.add_row("store", f"[red]{exc}[/]")
    except Exception as exc:  # noqa: BLE001 - an empty or half-migrated store is a state to report, not a crash
        t.add_row("store", f"[yellow]{explain(exc, settings.query_dsn)}[/]")
    console.print(t)
    return 0


RESENT_SHOWN = 3


def resent_lines(settings: Settings) -> list[str]:
    """The last lines of DATA_DIR/logs/resent.log: what producers sent again after a broker restart."""
    try:
        text = (settings.data_dir / "logs" / "resent.log").read_text(encoding="utf-8")
    except OSError:
        return []
    return text.strip().splitlines()[-RESENT_SHOWN:]


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host, int(port)
