"""Backups taken online while a replay runs, restored into a fresh data dir: every total comes back, and a
replay of the same range after the restore adds nothing twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import ROOT, DetachedStack, store_totals

from yzcore.store import query_reader, rows

pytestmark = pytest.mark.e2e
REPLAY = ("replay", "--start", "2024-10-01", "--end", "2024-10-02", "--seed", "11", "--bad-events", "3")
REPLACING = ("Replacing", "Collapsing", "Aggregating", "Summing")


def totals(settings, ledger: bool = True) -> dict:
    """Every table's rows (deduplicated where the engine deduplicates), the raw and rollup totals per day,
    商圈, feed and dimension, and the rejected events by reason."""
    reader = query_reader(settings)
    tables = rows(
        reader,
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'",
    )
    counts = {}
    for t in tables:
        if t["name"] == "ingest_batches" and not ledger:
            continue
        final = " FINAL" if any(k in t["engine"] for k in REPLACING) else ""
        counts[t["name"]] = int(rows(reader, f"SELECT count() AS n FROM `{t['name']}`{final}")[0]["n"])
    rejected = rows(reader, "SELECT reason, count() AS n FROM rejected_events FINAL GROUP BY reason ORDER BY reason")
    return {
        "counts": counts,
        "raw": store_totals(reader, "raw"),
        "agg": store_totals(reader, "agg"),
        "rejected": rejected,
    }


def _restored(tmp_path: Path, name: str, backup: Path, free_port) -> DetachedStack:
    data = tmp_path / name
    env = {"YZMON_DATA_DIR": str(data), "YZMON_CLICKHOUSE_DSN": "", "YZMON_KAFKA_BOOTSTRAP": ""}
    env = {k: v for k, v in env.items() if v}
    done = subprocess.run(
        [sys.executable, "-m", "yzmon.cli", "db", "restore", str(backup)],
        env={**{k: v for k, v in __import__("os").environ.items() if not k.startswith("YZMON_")}, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restore RESTORED" in done.stdout
    return DetachedStack.up(data, free_port(), free_port(), free_port())


def test_a_backup_during_a_replay_restores_every_total_and_a_replay_after_it_stays_exact(tmp_path, free_port):
    stack = DetachedStack.up(tmp_path / "live", free_port(), free_port(), free_port())
    try:
        replay = subprocess.Popen(
            # paced (a day in about 24 s): a replay waits until what it sent has landed, so at full speed the whole
            # day could have landed before the backup while the replay still runs
            [sys.executable, "-m", "yzmon.cli", *REPLAY, "--speed", "3600"],
            env=stack.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if int(rows(query_reader(stack.settings), "SELECT count() AS n FROM sales_raw")[0]["n"]) > 0:
                break
            time.sleep(0.2)
        assert replay.poll() is None, "the replay ended before the backup"
        mid = stack.yzmon("db", "backup", "--to", str(tmp_path / "mid"))
        assert mid.returncode == 0 and "BACKUP_CREATED" in mid.stdout, mid.stdout + mid.stderr
        assert replay.poll() is None, "the replay ended while the backup ran: the backup was not taken during it"
        assert replay.wait(timeout=600) == 0
        idle = stack.yzmon("db", "backup")  # the default place: DATA_DIR/backups/yzmon-TIME
        assert idle.returncode == 0, idle.stderr
        (idle_dir,) = (stack.settings.data_dir / "backups").iterdir()
        original = totals(stack.settings)
    finally:
        stack.down()
    assert original["counts"]["sales_raw"] > 0 and original["rejected"]

    whole = _restored(tmp_path, "restored_idle", idle_dir, free_port)
    try:
        assert totals(whole.settings) == original  # every table, to the fen
    finally:
        whole.down()

    partial = _restored(tmp_path, "restored_mid", tmp_path / "mid", free_port)
    try:
        before = totals(partial.settings, ledger=False)
        assert 0 < before["counts"]["sales_raw"] < original["counts"]["sales_raw"]
        again = partial.yzmon(*REPLAY)
        assert again.returncode == 0, again.stderr
        after = totals(partial.settings, ledger=False)
        want = {**original, "counts": {k: v for k, v in original["counts"].items() if k != "ingest_batches"}}
        assert after == want
    finally:
        partial.down()


def test_restore_refuses_a_directory_that_is_not_a_backup(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("YZMON_")}
    done = subprocess.run(
        [sys.executable, "-m", "yzmon.cli", "db", "restore", str(tmp_path / "nothing")],
        env={**env, "YZMON_DATA_DIR": str(tmp_path / "d"), "COLUMNS": "250"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "is not a backup directory" in done.stderr
