"""A stack started the way an operator starts it: `yzmon up --detach`, its own data dir and ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from yzcore.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class DetachedStack:
    settings: Settings
    env: dict[str, str]

    @classmethod
    def up(cls, data_dir: Path, broker_port: int, worker_port: int, sql_port: int, **extra: str) -> DetachedStack:
        env = {
            **os.environ,
            "YZMON_DATA_DIR": str(data_dir),
            "YZMON_BROKER_PORT": str(broker_port),
            "YZMON_WORKER_PORT": str(worker_port),
            "YZMON_SQL_PORT": str(sql_port),
            "COLUMNS": "250",  # rich tables on one line each, for the assertions
            **{f"YZMON_{k.upper()}": str(v) for k, v in extra.items()},
        }
        env.pop("YZMON_KAFKA_BOOTSTRAP", None)
        env.pop("YZMON_CLICKHOUSE_DSN", None)
        stack = cls(
            Settings(data_dir=data_dir, broker_port=broker_port, worker_port=worker_port, sql_port=sql_port), env
        )
        done = stack.yzmon("up", "--detach", timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        stack.wait(lambda s: s.get("worker"), "the stack to come up")
        return stack

    def yzmon(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "yzmon.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def state(self) -> dict:
        try:
            return json.loads((self.settings.data_dir / "stack.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait(self, condition, what: str, timeout_s: float = 180) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.state()
            if state and condition(state):
                return state
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; supervisor state: {self.state()}")

    def worker_ready(self) -> None:
        """Wait until the (possibly restarted) worker answers, holds its partitions and serves reads."""
        import httpx

        from yzcore.store import interface_up

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"{self.settings.worker_url}/status", timeout=2).json()
                if status.get("assigned") and interface_up(self.settings):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        raise AssertionError(f"the worker did not come back; supervisor state: {self.state()}")

    def down(self) -> None:
        self.yzmon("down", timeout=120)
