"""The pipeline benchmark at a tiny size, so that it keeps working. No timing is asserted here:
timings live in BENCHMARKS.md (`python -m benchmarks.pipeline`)."""

from __future__ import annotations

from datetime import date

import pytest

from benchmarks.freshness_path import SEGMENTS
from benchmarks.pipeline import HEADER, BenchConfig, record, run
from benchmarks.year import run_year
from simulators.run import RunSpec
from simulators.scenario import load

pytestmark = pytest.mark.e2e


def test_benchmark_runs_at_a_tiny_size(tmp_path, store_dsn):
    # one small 商圈 (~5.5k records of the three feeds), a 2 s freshness run of 1000 events; the baseline lands
    # in a database of this process's shared chDB directory (chDB allows one directory per process)
    config = BenchConfig(
        days=1,
        districts=("eling",),
        per_feed=False,
        freshness_seconds=2,
        freshness_rate=500,
        partitions=2,
        batch_max=2000,
        baseline_dsn=store_dsn,
    )
    result = run(config, data_dir=tmp_path, log=lambda *_: None)

    assert result["exactly_once"], (
        result["exactly_once_pipeline"]["problems"],
        result["exactly_once_baseline"]["problems"],
    )
    assert {
        "config",
        "pipeline",
        "baseline",
        "ratio",
        "freshness",
        "worker_memory_mb",
        "year",
        "exactly_once_pipeline",
        "exactly_once_baseline",
        "limits",
        "ratios",
    } <= result.keys()
    assert result["limits"]["store_ingest"]["records"] == mixed_events(result) > 0
    assert result["limits"]["kafka_read"]["records"] == result["pipeline"]["mixed"]["records"]
    assert result["ratios"]["pipeline_to_store_ingest"] > 0
    mixed = result["pipeline"]["mixed"]
    assert mixed["records"] == result["baseline"]["mixed"]["records"] > 2000
    assert {"events_per_s", "landed_s", "committed_s", "startup_s"} <= mixed.keys()
    assert result["freshness"]["events"] == result["freshness"]["sent"] == 1000
    assert {"p50_ms", "p99_ms"} <= result["freshness"].keys()
    path = result["freshness"]["path"]  # every live event joined to its batch's ledger row, its path adding up
    assert (path["events"], path["unmatched"]) == (1000, 0)
    worst = path["worst"]
    assert worst["total_ms"] == result["freshness"]["max_ms"] == sum(worst[s] for s in SEGMENTS)
    assert worst["record_time_known"] and min(worst[s] for s in SEGMENTS) >= -1  # times kept to the millisecond
    assert result["worker_memory_mb"]["VmHWM"] > 0
    assert result["year"]["extrapolated"] is True


def mixed_events(result: dict) -> int:
    return result["pipeline"]["mixed"]["events"]


def test_year_replay_runs_at_a_tiny_size(tmp_path):
    """The measured-year runner over two days of one small 商圈: counts, money and rejections match what was sent."""
    result = run_year(
        2024, data_dir=tmp_path, days=2, districts=("eling",), bad_per_day=3, log=lambda *_: None, show_progress=False
    )
    check = result["exactly_once"]
    assert check["ok"], check["problems"]
    assert result["days"] == 2 and result["records"] == sum(f["sent"] + f["bad_sent"] for f in check["feeds"].values())
    assert check["feeds"]["sales"]["rows"] > 0 and check["feeds"]["sales"]["bad_sent"] > 0
    assert result["worker_memory_mb"]["samples"] >= 1
    assert result["worker_cpu_s"] > 0  # the worker decoded and landed the two days


def test_rows_go_to_the_end_of_the_pipeline_table(tmp_path):
    md = tmp_path / "BENCHMARKS.md"
    md.write_text("# Benchmarks\n\n" + HEADER + "| old row |\n\n## Another table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    phase = {"events_per_s": 1000.0}
    result = {
        "date": "2026-11-23 12:00",
        "machine": {"nproc": 2, "cpu": "cpu", "ram_gb": 24},
        "command": "python -m benchmarks.pipeline",
        "pipeline": {"mixed": phase, "sales": phase},
        "baseline": {"mixed": phase, "sales": phase},
        "ratio": {"mixed": 1.0, "sales": 1.0},
        "limits": {"store_ingest": {"events_per_s": 5000.0}, "kafka_read": {"events_per_s": 9000.0}},
        "ratios": {"pipeline_to_store_ingest": 0.2},
        "freshness": {"p50_ms": 5, "p99_ms": 9},
        "year": {"wall_s_for_365_days": 600},
        "worker_memory_mb": {"VmHWM": 1},
        "exactly_once": True,
    }
    record(result, tmp_path / "r.json", md)
    lines = md.read_text().splitlines()
    at = lines.index("| old row |")
    assert lines[at + 1].startswith("| 2026-11-23 12:00 |") and "sales 1,000 (1.00)" in lines[at + 1]
    assert "| 1,000 | 5,000 | 0.200 | 9,000 | 1,000 | 1.00 |" in lines[at + 1]
    assert "≈10 min extrapolated" in lines[at + 1] and lines[at + 2] == ""
    assert lines[-1] == "| 1 | 2 |"


def test_producer_benchmark_runs_at_a_tiny_size():
    """Both paths of `benchmarks.producer` count the same records; the send step acknowledges every record of
    each client on an embedded broker of its own."""
    from benchmarks.producer import measure, measure_send

    spec = RunSpec(load("baseline"), 7, date(2024, 10, 1), date(2024, 10, 2), districts=("eling",), bad_per_day=2)
    steps = measure(spec, repeat=1, log=lambda *_: None)
    assert len({s["records"] for s in steps.values()}) == 1 and all(s["cpu_s"] > 0 for s in steps.values())
    sent = measure_send(spec, repeat=1, log=lambda *_: None)
    clients = {"kafka-python, bare send", "kafka-python through FeedProducer", "confluent-kafka, bare produce"}
    assert set(sent) == clients
    assert {s["events"] for s in sent.values()} == {steps["per event: generate (records)"]["records"]}  # bad ones too
