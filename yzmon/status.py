"""`yzmon status`: what runs, what landed, and the current year against its targets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

from yzmon.broker import port_open
from yzmon.feeds import FEEDS
from yzmon.pace import pace
from yzmon.settings import Settings
from yzmon.store import Reader, StoreError, query_reader, rows

ZONE = ZoneInfo("Asia/Shanghai")
GROUP = "yzmon"


def consumer_lag(settings: Settings) -> dict[str, int] | None:
    """Records not yet committed by the worker's group, per feed topic; None when Kafka is unreachable."""
    from kafka import KafkaAdminClient, KafkaConsumer
    from kafka.structs import TopicPartition

    host, _, port = settings.bootstrap.split(",")[0].rpartition(":")
    if not port_open(host, int(port)):
        return None
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=5000)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, request_timeout_ms=5000)
    try:
        committed = {tp: meta.offset for tp, meta in admin.list_group_offsets(GROUP).get(GROUP, {}).items()}
        tps = [TopicPartition(f.topic, p) for f in FEEDS.values()
               for p in (consumer.partitions_for_topic(f.topic) or ())]
        ends = consumer.end_offsets(tps) if tps else {}
        lag: dict[str, int] = {f.topic: 0 for f in FEEDS.values()}
        for tp, end in ends.items():
            lag[tp.topic] += max(end - max(committed.get(tp, 0), 0), 0)
        return lag
    finally:
        consumer.close()
        admin.close()


def landed(reader: Reader) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{f.name}' AS feed, count() AS n FROM {f.raw_table} FINAL"
                             for f in FEEDS.values())
    return {r["feed"]: int(r["n"]) for r in rows(reader, sql)}


def year_to_date(reader: Reader, year: int) -> dict[str, Decimal]:
    """社零 (元), 解放碑 visits and tourists so far in ``year`` with their targets."""
    sql = """
    SELECT
      (SELECT sum(amount) FROM sales_agg_1m FINAL WHERE toYear(minute) = {y:UInt16}) AS sales,
      (SELECT sum(entries) FROM footfall_agg_1m FINAL
         WHERE toYear(minute) = {y:UInt16}
           AND district IN (SELECT district FROM dim_district WHERE area = 'jiefangbei')) AS jfb_visits,
      (SELECT sum(arrivals) FROM tourists_agg_1m FINAL WHERE toYear(minute) = {y:UInt16}) AS tourists,
      (SELECT any(value) FROM v_targets WHERE year = {y:UInt16} AND scope = 'district'
         AND metric = 'retail_sales') AS sales_target,
      (SELECT any(value) FROM v_targets WHERE year = {y:UInt16} AND scope = 'jiefangbei'
         AND metric = 'visits') AS visits_target
    """
    r = rows(reader, sql, {"y": year})[0]
    return {k: Decimal(str(v or 0)) for k, v in r.items()}


def render_status(settings: Settings, console: Console) -> int:
    t = Table(title="yzmon status", show_header=False)
    broker_up = port_open(*_host_port(settings.bootstrap))
    t.add_row("broker", f"{settings.bootstrap} " + ("[green]up[/]" if broker_up else "[red]down[/] — `yzmon up`"))
    try:
        worker = httpx.get(f"{settings.worker_url}/status", timeout=2).json()
        t.add_row("worker", f"[green]up[/] pid {worker['pid']} · {len(worker['assigned'])} partitions · "
                            f"{worker['batches']} batches · write errors {worker['write_errors']} · "
                            f"late events {sum(worker.get('late', {}).values()):,}"
                            + (" · [yellow]retrying[/]" if worker["retrying"] else ""))
    except (httpx.HTTPError, ValueError):
        t.add_row("worker", f"[red]down[/] at {settings.worker_url} — `yzmon up`")
    if broker_up:
        lag = consumer_lag(settings) or {}
        t.add_row("consumer lag", " · ".join(f"{k} {v:,}" for k, v in lag.items()))
    try:
        reader = query_reader(settings)
        t.add_row("rows landed", " · ".join(f"{k} {v:,}" for k, v in landed(reader).items()))
        rejected = rows(reader, "SELECT reason, count() AS n FROM rejected_events FINAL "
                                "GROUP BY reason ORDER BY reason")
        t.add_row("rejected", " · ".join(f"{r['reason']} {int(r['n']):,}" for r in rejected) or "none")
        today = datetime.now(ZONE).date()
        ytd = year_to_date(reader, today.year)
        if ytd["sales_target"]:
            p = pace(ytd["sales_target"], ytd["sales"], today)
            t.add_row(f"{today.year} 社零", f"{ytd['sales'] / 10**8:,.2f} 亿元 / 目标 "
                      f"{ytd['sales_target'] / 10**8:,.0f} 亿元 · 应达 {p.expected / 10**8:,.2f} 亿元 · "
                      f"{p.status} ({p.gap_pct:+.1f}%)")
        if ytd["visits_target"]:
            p = pace(ytd["visits_target"], ytd["jfb_visits"], today, "footfall")
            t.add_row(f"{today.year} 解放碑客流", f"{ytd['jfb_visits'] / 10**4:,.1f} 万人次 / 目标 "
                      f"{ytd['visits_target'] / 10**4:,.0f} 万人次 · {p.status} ({p.gap_pct:+.1f}%)")
    except StoreError as exc:
        t.add_row("store", f"[red]{exc}[/]")
    console.print(t)
    return 0


def _host_port(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host, int(port)
