"""The pipeline benchmark at a tiny size, so that it keeps working. No timing is asserted here:
timings live in BENCHMARKS.md (`python -m benchmarks.pipeline`)."""

from __future__ import annotations

import pytest

from benchmarks.pipeline import BenchConfig, run

pytestmark = pytest.mark.e2e


def test_benchmark_runs_at_a_tiny_size(tmp_path, store_dsn):
    # one small 商圈 (~5.5k records of the three feeds), a 5 s freshness run; the baseline lands in a
    # database of this process's shared chDB directory (chDB allows one directory per process)
    config = BenchConfig(districts=("eling",), per_feed=False, freshness_seconds=5, freshness_rate=200,
                         partitions=2, batch_max=2000, baseline_dsn=store_dsn)
    result = run(config, data_dir=tmp_path, log=lambda *_: None)

    assert result["exactly_once"], (result["exactly_once_pipeline"]["problems"],
                                    result["exactly_once_baseline"]["problems"])
    assert {"config", "pipeline", "baseline", "ratio", "freshness", "worker_memory_mb", "year",
            "exactly_once_pipeline", "exactly_once_baseline"} <= result.keys()
    mixed = result["pipeline"]["mixed"]
    assert mixed["records"] == result["baseline"]["mixed"]["records"] > 2000
    assert {"events_per_s", "landed_s", "committed_s", "startup_s"} <= mixed.keys()
    assert result["freshness"]["events"] == result["freshness"]["sent"] == 1000
    assert {"p50_ms", "p99_ms"} <= result["freshness"].keys()
    assert result["worker_memory_mb"]["VmHWM"] > 0
    assert result["year"]["extrapolated"] is True
