"""Back-test of the 社零 nowcast (推算) over simulated years, against the bureau's simulated first releases.

    python -m benchmarks.nowcast [--first 2018 --last 2025 --seed 7] [--write-errors]

The acquirer's sample (`simulators.sample`, with drift: merchants join and leave, a yearly provider outage,
a rising card share, no 批发) is loaded column-wise, one row per merchant and day, into a chDB store of its
own with the simulated releases; then, at the end of every month, the library query ``nowcast`` (the one
definition the commands and dashboards use) estimates this quarter's cumulative period and the year. Each
estimate is compared with the first release of its period, beside two naive baselines: last year's official
level × (1 + the 5 % target growth), and the raw sample × a fixed ratio (official ÷ sample of the first year).
``--write-errors`` stores the 90th-percentile errors per horizon in schemas/reference/nowcast_errors.json,
which the nowcast's interval uses. The last line is ``nowcast quarter-end MAPE X% (naive Y%, ratio Z%)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from schemas import SCHEMA_DIR
from schemas.zone import ZONE
from simulators import sample
from simulators.scenario import Sample
from yzcore import official
from yzcore.queries import get
from yzcore.store import DirectReader, connect, rows

TARGET_GROWTH = 0.05
ERRORS_FILE = SCHEMA_DIR / "reference" / "nowcast_errors.json"
COLUMNS = ["event_id", "event_time", "district", "sector", "merchant_group", "channel", "amount", "txn_count", "source"]


def month_end(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)


def load_store(client, seed: int, first: int, last: int, spec: Sample) -> dict:
    """The sample of [first, last] as one event per merchant and day, and the releases; returns the releases
    ({(year, end_month): level in 元}) and the sample's sum per year and month."""
    frame = sample.daily_sample(seed, spec, date(first, 1, 1), date(last + 1, 1, 1))
    noon = [datetime(d.year, d.month, d.day, 12, tzinfo=ZONE) for d in frame["day"]]
    out = [
        (
            hashlib.blake2b(f"{m}|{d}".encode(), digest_size=12).hexdigest(),
            t,
            dist,
            sec,
            m,
            "in_store",
            Decimal(f"{v:.2f}"),
            1,
            f"sim-acquirer:backtest-{seed}",
        )
        for m, d, t, dist, sec, v in zip(
            frame["merchant_group"],
            frame["day"],
            noon,
            frame["district"],
            frame["sector"],
            frame["amount"],
            strict=True,
        )
    ]
    for i in range(0, len(out), 200_000):
        client.insert("sales_raw", out[i : i + 200_000], column_names=COLUMNS)
    releases = [official.parse_row(r) for r in sample.releases(seed, range(first, last + 1))]
    official.import_releases(client, releases)
    frame["ym"] = [(d.year, d.month) for d in frame["day"]]
    return {
        "official": {(r.year, r.end_month): float(r.level) for r in releases if r.sector == "" and r.level},
        "sample_month": frame.groupby("ym")["amount"].sum().to_dict(),
    }


def backtest(client, seed: int = 7, first: int = 2018, last: int = 2025, progress: bool = True) -> dict:
    """Errors of the nowcast and the baselines at every month end of (first, last]."""
    spec = Sample(drift=True)
    data = load_store(client, seed, first, last, spec)
    off, by_month = data["official"], data["sample_month"]
    ratio = off[(first, 12)] / sum(v for (y, _), v in by_month.items() if y == first)
    shares = {
        (int(r[0]), int(r[1])): float(r[2])
        for r in client.query(
            "SELECT year, toMonth(day), max(model_sales_share) FROM dim_calendar FINAL GROUP BY year, toMonth(day)"
        ).result_rows
    }
    reader = DirectReader(client)
    query = get("nowcast").sql
    results = []
    months = [(y, m) for y in range(first + 1, last + 1) for m in range(1, 13)]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("nowcast back-test", total=len(months))
        for y, m in months:
            as_of = month_end(y, m)
            for r in rows(reader, query, {"as_of": as_of}):
                e = int(r["end_month"])
                truth = off.get((y, e))
                if truth is None:
                    continue
                ytd = sum(v for (yy, mm), v in by_month.items() if yy == y and mm <= m)
                ratio_est = ytd * ratio * shares[(y - 1, e)] / shares[(y - 1, m)]
                results.append(
                    {
                        "kind": r["period"],
                        "method": r["method"],
                        "year": y,
                        "end_month": e,
                        "horizon": m - e + 3 if r["period"] == "quarter" else m,
                        "nowcast": float(r["estimate"]) / truth - 1,
                        "naive": off[(y - 1, e)] * (1 + TARGET_GROWTH) / truth - 1,
                        "ratio": ratio_est / truth - 1,
                    }
                )
            bar.advance(task)
    return {"seed": seed, "first": first, "last": last, "results": results}


def summarise(result: dict) -> dict:
    """MAPE per horizon for the nowcast and the baselines, the share of quarters within 1.5 %, p90 errors."""
    res = result["results"]

    def mape(kind: str, horizon: int, key: str) -> float:
        return 100 * float(np.mean([abs(r[key]) for r in res if r["kind"] == kind and r["horizon"] == horizon]))

    horizons = [("quarter", h) for h in (1, 2, 3)] + [("year", h) for h in (9, 11)]
    table = {f"{k}@{h}": {key: mape(k, h, key) for key in ("nowcast", "naive", "ratio")} for k, h in horizons}
    ends = [r for r in res if r["kind"] == "quarter" and r["horizon"] == 3]
    within = sum(abs(r["nowcast"]) <= 0.015 for r in ends) / len(ends)
    p90 = {}
    for r in res:
        p90.setdefault((r["kind"], r["method"], r["horizon"]), []).append(abs(r["nowcast"]))
    return {
        "table": table,
        "quarters": len(ends),
        "within_1_5": within,
        "p90": {k: float(np.quantile(v, 0.9)) for k, v in sorted(p90.items())},
    }


def write_errors(summary: dict, command: str) -> None:
    rows_out = [
        {"kind": k, "method": m, "horizon": h, "rel_error": round(v, 5), "source": command}
        for (k, m, h), v in summary["p90"].items()
    ]
    ERRORS_FILE.write_text(json.dumps({"errors": rows_out}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def report(summary: dict, console: Console) -> str:
    t = Table(title="社零推算回测: 与统计局首次发布的误差 (MAPE %)")
    for col in ("horizon", "nowcast", "naive: 上年官方×1.05", "ratio: 样本×固定比例"):
        t.add_column(col, justify="right")
    names = {"quarter@1": "季内第1月末", "quarter@2": "季内第2月末", "quarter@3": "季末", "year@9": "全年@9月末",
             "year@11": "全年@11月末"}  # fmt: skip
    for key, v in summary["table"].items():
        t.add_row(names[key], f"{v['nowcast']:.2f}", f"{v['naive']:.2f}", f"{v['ratio']:.2f}")
    console.print(t)
    end = summary["table"]["quarter@3"]
    console.print(f"quarters at quarter end within 1.5 %: {summary['within_1_5']:.0%} of {summary['quarters']}")
    line = f"nowcast quarter-end MAPE {end['nowcast']:.2f}% (naive {end['naive']:.2f}%, ratio {end['ratio']:.2f}%)"
    console.print(line)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, default=2018, help="first simulated year (its sample is the base)")
    parser.add_argument("--last", type=int, default=2025)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write-errors", action="store_true", help=f"store the p90 errors in {ERRORS_FILE.name}")
    args = parser.parse_args()
    from yzcore.migrate import migrate

    with tempfile.TemporaryDirectory(prefix="yzmon-nowcast-") as tmp:
        client = connect(f"chdb://{Path(tmp) / 'store'}")
        migrate(client)
        result = backtest(client, args.seed, args.first, args.last)
    summary = summarise(result)
    if args.write_errors:
        write_errors(
            summary, f"python -m benchmarks.nowcast --first {args.first} --last {args.last} --seed {args.seed}"
        )
    report(summary, Console())


if __name__ == "__main__":
    main()
