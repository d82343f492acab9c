"""The embedded stack: the broker (unless Kafka is external) and the Faust worker as child processes.

`yzmon up` runs it in the foreground; `--detach` runs the same supervisor in the background and
records its pid in DATA_DIR/stack.json for `yzmon down`. Children die with the supervisor
(PR_SET_PDEATHSIG, for the broker and the worker), so no process outlives it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from yzcore.readlimits import LIMITS
from yzcore.settings import Settings
from yzcore.store import interface_up, worker_alive
from yzmon.broker import StackError, die_with_parent, ensure_topics, port_free, start_broker


def state_file(settings: Settings) -> Path:
    return settings.data_dir / "stack.json"


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of the worker process: our settings, explicit, whatever the parent's .env said."""
    env = dict(os.environ)
    env.update(
        {
            "YZMON_DATA_DIR": str(settings.data_dir.resolve()),
            "YZMON_KAFKA_BOOTSTRAP": settings.bootstrap,
            "YZMON_CLICKHOUSE_DSN": settings.store_dsn,
            "YZMON_WORKER_HOST": settings.worker_host,
            "YZMON_WORKER_PORT": str(settings.worker_port),
            "YZMON_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "YZMON_BATCH_MAX": str(settings.batch_max),
            "YZMON_BATCH_SECONDS": str(settings.batch_seconds),
            "YZMON_LOG_LEVEL": settings.log_level,
            "YZMON_ALLOWED_LATENESS_S": str(settings.allowed_lateness_s),
            "YZMON_FUTURE_TOLERANCE_S": str(settings.future_tolerance_s),
            "YZMON_FAULT_INJECTION": str(settings.fault_injection).lower(),
            "YZMON_SQL_HOST": settings.sql_host,
            "YZMON_SQL_PORT": str(settings.sql_port),
            **{f"YZMON_{limit.field.upper()}": str(getattr(settings, limit.field)) for limit in LIMITS},
            "YZMON_READ_MAX_CONCURRENT": str(settings.read_max_concurrent),
        }
    )
    for name in ("sql_reader_password", "sql_analyst_password"):
        secret = getattr(settings, name)
        if secret is not None:
            env[f"YZMON_{name.upper()}"] = secret.get_secret_value()
    return env


@dataclass
class Stack:
    settings: Settings
    broker: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, wait_ready_s: float = 60.0) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        log_dir = s.data_dir / "logs"
        log_dir.mkdir(exist_ok=True)
        self.logs = {"broker": log_dir / "broker.log", "worker": log_dir / "worker.log"}
        if worker_alive(s) or not port_free(s.worker_host, s.worker_port):
            raise StackError(
                f"port {s.worker_port} is taken (is a stack already up? `yzmon status`); "
                "stop it with `yzmon down` or set YZMON_WORKER_PORT"
            )
        if s.embedded_store and not port_free(s.sql_host, s.sql_port):
            raise StackError(
                f"port {s.sql_port} (ClickHouse HTTP interface) is taken on {s.sql_host}; "
                "stop what holds it (a ClickHouse server?) or set YZMON_SQL_PORT"
            )
        try:
            if s.embedded_broker:
                self.broker = start_broker(s, self.logs["broker"])
            ensure_topics(s)
            self.migrate()
            self.start_worker()
            self.wait_ready(wait_ready_s)
        except BaseException:
            self.stop()
            raise

    def migrate(self) -> None:
        """Migrate the store once, in a process of its own (chDB allows one process per directory)."""
        done = subprocess.run(
            [sys.executable, "-m", "yzcore.migrate"],
            env=worker_env(self.settings),
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if done.returncode != 0:
            raise StackError((done.stderr.strip().splitlines() or ["migration failed"])[-1])

    def start_worker(self) -> None:
        with self.logs["worker"].open("ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "streams.worker"],
                env=worker_env(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
                cwd=Path(__file__).resolve().parent.parent,
            )

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until the worker answers on its web port, holds its partitions and serves the HTTP interface."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.worker is not None and self.worker.poll() is not None:
                raise StackError(f"the worker exited with code {self.worker.returncode}; see {self.logs['worker']}")
            try:
                status = httpx.get(f"{self.settings.worker_url}/status", timeout=2).json()
                if status.get("assigned") and (not self.settings.embedded_store or interface_up(self.settings)):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        raise StackError(f"the worker was not ready within {timeout_s:.0f} s; see {self.logs['worker']}")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the worker, then the broker: SIGTERM, then SIGKILL after ``timeout_s``."""
        for proc in (self.worker, self.broker):
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def write_state(self) -> None:
        state = {
            "supervisor": os.getpid(),
            "worker": self.worker.pid if self.worker else None,
            "broker": self.broker.pid if self.broker else None,
            "bootstrap": self.settings.bootstrap,
            "worker_url": self.settings.worker_url,
        }
        state_file(self.settings).write_text(json.dumps(state))

    def supervise(self) -> int:
        """Run until SIGINT/SIGTERM or a child dies; return an exit code."""
        stop = {"signal": 0}

        def _on_signal(signum: int, _frame: object) -> None:
            stop["signal"] = signum

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        self.write_state()
        code = 0
        try:
            while not stop["signal"]:
                for name, proc in (("worker", self.worker), ("broker", self.broker)):
                    if proc is not None and proc.poll() is not None:
                        print(f"the {name} exited with code {proc.returncode}; see {self.logs[name]}", file=sys.stderr)
                        code = 1
                        stop["signal"] = -1
                time.sleep(0.2)
        finally:
            self.stop()
            state_file(self.settings).unlink(missing_ok=True)
        return code


def down(settings: Settings, timeout_s: float = 30.0) -> bool:
    """Stop a detached stack recorded in DATA_DIR/stack.json. Returns False when none was running."""
    path = state_file(settings)
    if not path.exists():
        return False
    state = json.loads(path.read_text())
    pid = state["supervisor"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        for key in ("worker", "broker", "supervisor"):
            if state.get(key):
                try:
                    os.kill(state[key], signal.SIGKILL)
                except ProcessLookupError:
                    pass
    path.unlink(missing_ok=True)
    return True
