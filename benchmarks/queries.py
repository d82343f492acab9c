"""Query latency at a year of data: every dashboard panel and every library query.

    python -m benchmarks.queries --year 2024 --data-dir /tmp/yzmon-bench-queries

Loads a simulated year into a chDB store of its own (the worker's write path: raw rows, then the
rollups recomputed for every touched window, one day per batch), then runs each query 2 times to
warm up and 20 times measured, and reports p50/p95 against the 200 ms goal. A store that already
holds the year is reused (--reload to rebuild). Results go to results/ and BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from schemas.feeds import FEEDS
from schemas.zone import ZONE
from simulators.generate import ARRAYS, event_id
from simulators.model import MODELS
from simulators.scenario import load
from streams.batch import Prepared
from streams.sink import ClickHouseSink
from yzcore.queries import library
from yzcore.settings import Settings
from yzcore.store import DirectReader, connect
from yzmon.report import panel_queries

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 200.0


def day_batch(feed: str, day: date, seed: int = 7) -> Prepared:
    """One day of one feed as the worker would land it, built from the simulator's arrays (no JSON)."""
    scenario = load("baseline")
    start = datetime(day.year, day.month, day.day, tzinfo=ZONE)
    stamps = [start + timedelta(minutes=m) for m in range(1440)]
    columns: list[list] = [[] for _ in range(len(FEEDS[feed].columns) + 2)]
    touched: set = set()
    for district in MODELS:
        for s in ARRAYS[feed](scenario, seed, day, district):
            key = {"sales": "txn_count", "tourists": "arrivals"}.get(feed)
            active = s.values[key] if key else s.values["entries"] + s.values["exits"]
            for m in np.flatnonzero(active):
                ts = stamps[m]
                eid = event_id(scenario, seed, feed, s.unit, ts.isoformat())
                if feed == "sales":
                    row = (
                        eid,
                        ts,
                        district,
                        s.attrs["sector"],
                        s.unit,
                        s.attrs["channel"],
                        Decimal(int(s.values["amount"][m])) / 100,
                        int(s.values["txn_count"][m]),
                        "bench",
                    )
                elif feed == "footfall":
                    row = (eid, ts, district, s.unit, int(s.values["entries"][m]), int(s.values["exits"][m]), "bench")
                else:
                    row = (
                        eid,
                        ts,
                        district,
                        s.attrs["origin"],
                        int(s.values["arrivals"][m]),
                        Decimal(int(s.values["spend"][m])) / 100,
                        "bench",
                    )
                for column, value in zip(columns, (*row, 0, 0), strict=True):
                    column.append(value)
                touched.add((district, int(ts.timestamp()) // 60 * 60, int(ts.timestamp()) // 60 * 60 + 60))
    return Prepared(FEEDS[feed], columns=columns, accepted=len(columns[0]), touched=touched)


def load_year(sink: ClickHouseSink, year: int, console: Console) -> int:
    days = [date(year, 1, 1) + timedelta(days=i) for i in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
    rows = 0
    with Progress(
        TextColumn("load {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(str(year), total=len(days), rate="0")
        started = time.monotonic()
        for day in days:
            for feed in FEEDS:
                batch = day_batch(feed, day)
                sink.write(batch)
                rows += batch.accepted
            progress.update(task, advance=1, rate=f"{rows / (time.monotonic() - started):,.0f}")
    return rows


def time_query(reader: DirectReader, sql: str, params: dict | None, runs: int = 20) -> list[float]:
    for _ in range(2):
        reader.raw(sql, params, "JSONCompact")
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        reader.raw(sql, params, "JSONCompact")
        out.append((time.perf_counter() - t) * 1000)
    return out


def library_params(year: int) -> dict[str, dict]:
    return {
        "yoy_mom": {"month": f"{year}-10-01"},
        "sales_per_visitor": {"start": f"{year}-01-01", "end": f"{year + 1}-01-01"},
        "night_share": {"start": f"{year}-01-01", "end": f"{year + 1}-01-01"},
        "origin_mix": {"start": f"{year}-01-01", "end": f"{year + 1}-01-01"},
        "holiday_vs_last_year": {"holiday": "national_day", "year": str(year)},
        "district_ranking": {"start": f"{year}-01-01", "end": f"{year + 1}-01-01"},
        "pace_vs_target": {"day": f"{year}-10-07", "scope": "district", "metric": "retail_sales"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/yzmon-bench-queries"))
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    console = Console()
    dsn = f"chdb://{args.data_dir}"
    sink = ClickHouseSink(dsn)
    sink.call(lambda c: None)  # migrate
    reader = DirectReader(connect(dsn, readonly=True, settings=Settings()))
    have = json.loads(
        reader.raw(
            "SELECT count() AS n FROM sales_daily FINAL WHERE toYear(day) = {y:UInt16}", {"y": args.year}, "JSON"
        )
    )["data"][0]["n"]
    load_s = None
    if args.reload or int(have) == 0:
        started = time.monotonic()
        rows = load_year(sink, args.year, console)
        load_s = time.monotonic() - started
        console.print(f"loaded {rows:,} events in {load_s:,.0f} s")
    raw_rows = json.loads(
        reader.raw(
            "SELECT (SELECT count() FROM sales_raw) + (SELECT count() FROM footfall_raw) + "
            "(SELECT count() FROM tourists_raw) AS n",
            None,
            "JSON",
        )
    )["data"][0]["n"]
    results = []
    day = date(args.year, 10, 7)
    for board, panel, sql in panel_queries(reader, day, sorted((ROOT / "dashboards").glob("*.json"))):
        ms = time_query(reader, sql, None, args.runs)
        results.append({"kind": "panel", "name": f"{board['title']} / {panel['title']}", "ms": ms})
    for name, params in library_params(args.year).items():
        ms = time_query(reader, library()[name].sql, params, args.runs)
        results.append({"kind": "library", "name": name, "ms": ms})
    table = Table(title=f"query latency · {int(raw_rows):,} raw rows · {args.runs} runs each")
    for col in ("query", "p50 ms", "p95 ms", "≤ 200 ms"):
        table.add_column(col, justify="left" if col == "query" else "right")
    for r in results:
        r["p50"] = statistics.median(r["ms"])
        r["p95"] = float(np.percentile(r["ms"], 95))
        table.add_row(r["name"], f"{r['p50']:.1f}", f"{r['p95']:.1f}", "✓" if r["p95"] <= GOAL_MS else "✗")
    console.print(table)
    worst = max(results, key=lambda r: r["p95"])
    summary = {
        "date": datetime.now(UTC).date().isoformat(),
        "year": args.year,
        "raw_rows": int(raw_rows),
        "load_seconds": load_s,
        "queries": len(results),
        "worst": worst["name"],
        "worst_p95_ms": worst["p95"],
        "over_goal": [r["name"] for r in results if r["p95"] > GOAL_MS],
        "machine": f"{platform.machine()} {_cpu()} · {_cores()} cores",
        "results": results,
    }
    out = ROOT / "results" / f"query-bench-{summary['date']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    console.print(
        f"worst p95 {worst['p95']:.1f} ms ({worst['name']}); {len(summary['over_goal'])} over 200 ms; results in {out}"
    )


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
