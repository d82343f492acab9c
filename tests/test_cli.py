"""The command line as an operator uses it: a detached stack, status, sql, down, and clear errors."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from yzcore.settings import Settings
from yzmon.broker import StackError
from yzmon.cli import app
from yzmon.stack import Stack


@pytest.mark.e2e
def test_detached_stack_status_sql_and_targets(shared_stack, tmp_path):
    """The session's shared stack is started with `yzmon up --detach` and stopped with `yzmon down`, which must
    leave no process behind (tests/conftest.py: shared_stack); here the commands an operator runs against it."""
    stack = shared_stack.stack
    assert stack.state()["worker"]
    status = stack.yzmon("status")
    assert "up pid" in status.stdout and "consumer lag" in status.stdout, status.stdout
    out = stack.yzmon(
        "sql",
        "SELECT name_zh FROM dim_district WHERE district = {d:String}",
        "--param",
        "d=daping",
        "--format",
        "csv",
    )
    assert out.returncode == 0 and out.stdout.splitlines() == ['"name_zh"', '"大坪"'], out.stderr
    bad = stack.yzmon("sql", "DROP TABLE sales_raw")
    assert bad.returncode == 1 and "readonly" in bad.stderr.lower()
    targets = tmp_path / "targets.csv"
    targets.write_text(
        "year,scope,metric,value,unit,source\n2027,district,retail_sales,1650,亿元,规划\n", encoding="utf-8"
    )
    imported = stack.yzmon("targets", "import", str(targets))  # through the worker, which owns the store
    assert imported.returncode == 0 and "1 added" in imported.stdout, imported.stderr
    again = stack.yzmon("targets", "import", str(targets))
    assert "1 unchanged" in again.stdout
    listed = stack.yzmon("sql", "SELECT value FROM v_targets WHERE year = 2027", "--format", "csv")
    assert listed.stdout.splitlines()[1] == "165000000000"


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
