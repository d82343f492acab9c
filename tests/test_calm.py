"""A worker restart on the embedded stack, seen from a second terminal that knows only YZMON_DATA_DIR:
every command finds the stack from its stack.json, says "worker restarting (n)" and nothing else while
the supervisor brings the worker back, and times carry their zone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from support import ROOT, DetachedStack

pytestmark = pytest.mark.e2e


def _second_terminal(stack: DetachedStack, *args: str) -> subprocess.CompletedProcess:
    """yzmon with the data dir alone: no ports, no DSN (a cron job, another shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YZMON_")}
    env |= {"YZMON_DATA_DIR": str(stack.settings.data_dir), "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "yzmon.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_a_worker_restart_leaves_a_calm_screen_and_commands_find_the_stack(tmp_path, free_port):
    # the restart waits 15 s, so the two commands below surely run while the worker is away, however busy the
    # machine (with the default 1 s, a loaded machine once let the worker come back between them)
    stack = DetachedStack.up(tmp_path / "stack", free_port(), free_port(), free_port(), restart_backoff_s=15)
    try:
        state = json.loads((stack.settings.data_dir / "stack.json").read_text())
        assert state["addresses"]["sql_port"] == stack.settings.sql_port
        assert state["sql_url"] == f"http://127.0.0.1:{stack.settings.sql_port}"
        up = _second_terminal(stack, "sql", "SELECT count() AS n FROM dim_district", "--format", "csv")
        assert up.returncode == 0 and up.stdout.splitlines()[-1] == "7", up.stderr  # through the interface

        os.kill(state["worker"], signal.SIGKILL)
        stack.wait(lambda s: s["children"]["worker"]["restarts"] == 1, "the supervisor to see the crash")
        status = _second_terminal(stack, "status")
        sql = _second_terminal(stack, "sql", "SELECT 1")
        assert status.returncode == 0
        assert status.stdout.strip() == "worker restarting (1); `yzmon status` again in a few seconds"
        assert sql.returncode == 1 and sql.stderr.strip() == "error: worker restarting (1): try again in a few seconds"
        for out in (status, sql):
            assert "Unexpected Http Driver Exception" not in out.stdout + out.stderr
            assert "Cannot lock file" not in out.stdout + out.stderr  # nobody opened the store the worker owns

        stack.wait(lambda s: s["children"]["worker"]["state"] == "up", "the worker to be ready", timeout_s=180)
        back = _second_terminal(stack, "status")
        assert "worker restarts 1 (last: was killed by SIGKILL" in back.stdout and " CST)" in back.stdout
        log = (stack.settings.data_dir / "logs" / "supervisor.log").read_text()
        assert " CST the worker was killed by SIGKILL" in log and " CST worker ready" in log
    finally:
        stack.down()
