"""The command line as an operator uses it: a detached stack, status, sql, down, and clear errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from yzcore.settings import Settings
from yzmon.broker import StackError
from yzmon.cli import app
from yzmon.stack import Stack


def _yzmon(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "yzmon.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.e2e
def test_detached_stack_status_sql_and_down_leave_no_process(tmp_path, free_port):
    env = {
        **os.environ,
        "YZMON_DATA_DIR": str(tmp_path),
        "YZMON_BROKER_PORT": str(free_port()),
        "YZMON_WORKER_PORT": str(free_port()),
        "YZMON_SQL_PORT": str(free_port()),
    }
    up = _yzmon(env, "up", "--detach")
    assert up.returncode == 0, up.stderr + up.stdout
    state = json.loads((tmp_path / "stack.json").read_text())
    try:
        status = _yzmon(env, "status")
        assert "up pid" in status.stdout and "consumer lag" in status.stdout, status.stdout
        out = _yzmon(
            env,
            "sql",
            "SELECT name_zh FROM dim_district WHERE district = {d:String}",
            "--param",
            "d=daping",
            "--format",
            "csv",
        )
        assert out.returncode == 0 and out.stdout.splitlines() == ['"name_zh"', '"大坪"'], out.stderr
        bad = _yzmon(env, "sql", "DROP TABLE sales_raw")
        assert bad.returncode == 1 and "readonly" in bad.stderr.lower()
        targets = tmp_path / "targets.csv"
        targets.write_text(
            "year,scope,metric,value,unit,source\n2027,district,retail_sales,1650,亿元,规划\n", encoding="utf-8"
        )
        imported = _yzmon(env, "targets", "import", str(targets))  # through the worker, which owns the store
        assert imported.returncode == 0 and "1 added" in imported.stdout, imported.stderr
        again = _yzmon(env, "targets", "import", str(targets))
        assert "1 unchanged" in again.stdout
        listed = _yzmon(env, "sql", "SELECT value FROM v_targets WHERE year = 2027", "--format", "csv")
        assert listed.stdout.splitlines()[1] == "165000000000"
    finally:
        down = _yzmon(env, "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    time.sleep(0.5)
    assert not any(_alive(state[k]) for k in ("supervisor", "worker", "broker") if state[k])


def test_a_taken_port_is_a_one_line_error(tmp_path, free_port):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = Stack(Settings(data_dir=tmp_path, broker_port=port, worker_port=free_port(), sql_port=free_port()))
        with pytest.raises(StackError, match=f"port {port} is taken.*YZMON_BROKER_PORT"):
            stack.start()
    assert stack.broker is None and stack.worker is None


def test_simulate_writes_identical_truth_for_identical_arguments(tmp_path):
    runner = CliRunner()
    args = ["simulate", "--start", "2024-10-01", "--seed", "7", "--district", "eling", "--bad-events", "5"]
    a = runner.invoke(app, [*args, "--truth", str(tmp_path / "a.csv")])
    b = runner.invoke(app, [*args, "--truth", str(tmp_path / "b.csv")])
    assert a.exit_code == b.exit_code == 0
    text = (tmp_path / "a.csv").read_bytes()
    assert text == (tmp_path / "b.csv").read_bytes()
    assert text.startswith(b"day,district,feed,dimension,measure,value\n2024-10-01,")


def test_unknown_scenario_and_district_name_the_choices():
    runner = CliRunner()
    r = runner.invoke(app, ["simulate", "--start", "2024-10-01", "--scenario", "nope", "--truth", "-"])
    assert r.exit_code == 1 and "baseline" in r.output
    r = runner.invoke(app, ["simulate", "--start", "2024-10-01", "--district", "atlantis", "--truth", "-"])
    assert r.exit_code == 1 and "jiefangbei" in r.output
