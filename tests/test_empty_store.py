"""Every command on a fresh, empty or half-migrated data dir answers with a plain sentence, never a
traceback (run as the operator runs them: the `yzmon` entry point in a process of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "feeds"


def _yzmon(data_dir: Path, free_port, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "YZMON_DATA_DIR": str(data_dir),
        "YZMON_BROKER_PORT": str(free_port()),  # nothing listens there: no stack is up
        "YZMON_WORKER_PORT": str(free_port()),
        "COLUMNS": "250",
    }
    for key in ("YZMON_KAFKA_BOOTSTRAP", "YZMON_CLICKHOUSE_DSN", "YZMON_READER_DSN"):
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "yzmon.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )


def _half_migrated(data_dir: Path) -> None:
    """A store where the first three migrations ran and the rest did not (an interrupted upgrade)."""
    code = (
        "from yzcore.store import connect; from yzcore.migrate import LEDGER, discover\n"
        f"c = connect('chdb:///{data_dir / 'clickhouse'}'); c.command(LEDGER)\n"
        "for m in discover()[:3]:\n"
        "    for statement in m.statements(): c.command(statement)\n"
        "    c.insert('schema_migrations', [(m.version, m.name, m.checksum)], "
        "column_names=['version', 'name', 'checksum'])\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=180)


COMMANDS = {
    "status": (["status"], 0, "its schema is missing or incomplete"),
    "sql": (["sql", "SELECT count() FROM sales_raw FINAL"], 1, "if that name is right"),
    "sql --query": (
        ["sql", "--query", "pace_vs_target", "--param", "day=2026-05-01", "--param", "scope=district",
         "--param", "metric=retail_sales"],
        1,
        "`yzmon db migrate`",
    ),
    "report": (["report", "--date", "2024-05-01", "--out", "{dir}/briefing.html"], 1, "`yzmon up`"),
    "targets list": (["targets", "list"], 1, "has no v_targets"),
    "down": (["down"], 0, "no detached stack was running"),
    "replay": (["replay", "--start", "2024-05-01", "--end", "2024-05-02"], 1, "start it with `yzmon up`"),
    "load": (
        ["load", str(EXAMPLES / "sales_unionpay.csv"), "--feed", "sales", "--mapping",
         str(EXAMPLES / "sales_unionpay.mapping.yaml")],
        1,
        "start it with `yzmon up`",
    ),
}  # fmt: skip


CASES = [(command, "fresh") for command in COMMANDS] + [
    (command, "half-migrated") for command in ("status", "report", "targets list")
]


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory) -> dict[str, Path]:
    half = tmp_path_factory.mktemp("half-migrated")
    _half_migrated(half)
    return {"fresh": tmp_path_factory.mktemp("fresh"), "half-migrated": half}


@pytest.mark.parametrize(("command", "state"), CASES)
def test_commands_answer_with_a_sentence_on_an_empty_store(data_dirs, free_port, command, state):
    args, code, says = COMMANDS[command]
    data_dir = data_dirs[state]
    done = _yzmon(data_dir, free_port, *[a.replace("{dir}", str(data_dir)) for a in args])
    out = done.stdout + done.stderr
    assert "Traceback" not in out and 'File "' not in out, out
    assert done.returncode == code, out
    assert says in " ".join(out.split()), out
