"""`yzmon run`: the embedded stack, today's simulated feeds streaming live, and a live summary.

Today's events up to now are sent at full speed first; from then on each minute's events are sent
as that minute begins (real time). Ctrl-C stops the feed, the worker and the broker.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from producers.kafka import FeedProducer
from producers.live import LiveSource
from producers.source import Interrupted, Pacer, pump
from schemas.feeds import BUSINESS_DAY_START_HOUR
from schemas.zone import ZONE
from simulators.scenario import load, with_sample
from yzcore.settings import Settings
from yzcore.store import Reader, query_reader, rows
from yzmon.broker import StackError
from yzmon.freshness import describe, footfall_freshness
from yzmon.nowcast_view import nowcast_lines, visits_lines
from yzmon.stack import Stack
from yzmon.status import PACE_LABEL, coverage_line, describe_pace, pace_rows

NOW_SQL = """
SELECT d.name_zh AS name,
       ifNull(s.amount, 0) AS sales_today,
       ifNull(f.visits, 0) AS visits_today
FROM dim_district AS d
LEFT JOIN (SELECT district, sum(amount) AS amount FROM sales_agg_1m FINAL
           WHERE toDate(minute, 'Asia/Shanghai') = {day:Date} GROUP BY district) AS s ON s.district = d.district
LEFT JOIN (SELECT district, sum(entries) AS visits FROM footfall_agg_1m FINAL
           WHERE toDate(minute, 'Asia/Shanghai') = {day:Date} GROUP BY district) AS f ON f.district = d.district
ORDER BY sales_today DESC
"""


def summary(reader: Reader, today: date, now: datetime | None = None) -> Table:
    """The live summary: today per 商圈, and the year against its targets. ``now`` (default: the clock, or the
    end of ``today`` when it is past) judges the counters' freshness: a 商圈 whose counters fell silent shows
    数据中断 with its last value and time, never that value as the current occupancy."""
    if now is None:
        clock = datetime.now(ZONE)
        now = clock if clock.date() == today else datetime.combine(today, datetime.max.time(), ZONE)
    table = Table(title=f"渝中商圈 · {today.isoformat()} · 实时", show_lines=False)
    for col in ("商圈", "今日样本销售额(万元)", "今日客流(万人次)", "在场人数", "客流数据"):
        table.add_column(col, justify="left" if col in ("商圈", "客流数据") else "right")
    fresh = {f.name: f for f in footfall_freshness(reader, now)}
    total = Decimal(0)
    for r in rows(reader, NOW_SQL, {"day": today}):
        amount = Decimal(str(r["sales_today"]))
        total += amount
        f = fresh.get(r["name"])
        inside = "[bold red]数据中断[/]" if f is None or f.stale else f"{f.occupancy or 0:,}"
        table.add_row(
            r["name"],
            f"{amount / 10**4:,.1f}",
            f"{int(r['visits_today']) / 10**4:,.2f}",
            inside,
            describe(f) if f else "无计数点",
        )
    lines = [f"今日样本合计 {total / 10**8:,.3f} 亿元(数据源之和, 不是社零)"]
    yesterday = today - timedelta(days=1)
    lines += [f"{label}: {text}" for label, text in nowcast_lines(reader, yesterday) + visits_lines(reader, yesterday)]
    lines.append(f"数据覆盖 {today.year}: {coverage_line(reader, today.year)}")
    for label, p in pace_rows(reader, today):
        lines.append(f"{today.year} {PACE_LABEL.get(label, label)}: {describe_pace(label, p)}")
    table.caption = "\n".join(lines)
    return table


def simulated_releases(settings: Settings, seed: int, today: date) -> str:
    """Import the simulated bureau's releases published by ``today`` (the truth the estimate is judged on)."""
    from schemas.calendar import covered_years
    from simulators.sample import releases, visit_releases
    from yzcore.official import parse_row
    from yzmon.official_cli import store_releases

    years = range(min(covered_years()), today.year + 1)
    found = [parse_row(r) for r in releases(seed, years) + visit_releases(seed, years)]
    result = store_releases(settings, [r for r in found if r.published <= today])
    return f"模拟统计局发布(种子 {seed}): {result['added']} 条新增, {result['unchanged']} 条已有"


def run_live(settings: Settings, scenario: str, seed: int, console: Console, sample: str = "acquirer") -> int:
    stack = Stack(settings, echo=False)  # the supervisor's lines go to its log: the live view keeps the screen
    try:
        with console.status("starting broker and worker …"):
            stack.start()
    except StackError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 1
    console.print(f"[green]stack up[/] · Kafka {settings.bootstrap} · worker {settings.worker_url} — Ctrl-C stops")
    console.print(simulated_releases(settings, seed, datetime.now(ZONE).date()))
    stack.write_state()
    stop = threading.Event()
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            producer = FeedProducer(settings, name="yzmon run (live feed)")
            # from the start of the business day (06:00) now belongs to: occupancy counts from then, so before 06:00
            # yesterday's events go out too (else the night's exits would meet no entries)
            first = (datetime.now(ZONE) - timedelta(hours=BUSINESS_DAY_START_HOUR)).date()
            source = LiveSource(with_sample(load(scenario), sample), seed, first)
            pump(source, producer, Pacer(1.0, datetime.now(ZONE)), show_progress=False, stop=stop)
        except Interrupted:
            producer.close(wait_landed=False)
        except BaseException as exc:  # noqa: BLE001 - reported on the console below
            failure.append(exc)

    threading.Thread(target=feed, name="live-feed", daemon=True).start()
    reader: Reader = query_reader(settings)
    try:
        with Live(console=console, refresh_per_second=1) as live:
            while not failure:
                today = datetime.now(ZONE).date()
                worker = stack.records["worker"]
                try:
                    if worker.state != "up":
                        live.update(f"worker restarting ({worker.restarts})")
                    else:
                        live.update(Group(summary(reader, today)))
                except Exception as exc:  # noqa: BLE001 - a slow store shows as a note, the feed goes on
                    live.update(f"waiting for the store: {str(exc).strip().splitlines()[0][:200]}")
                for _ in range(10):  # the supervisor's rounds: restarts, broker memory (yzmon.stack)
                    if not stack.tick():
                        failure.append(StackError(f"the stack gave up; see {stack.logs['supervisor']}"))
                        break
                    time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        stack.close()
    if failure:
        console.print(f"[bold red]the live feed stopped:[/] {failure[0]}")
        return 1
    return 0
