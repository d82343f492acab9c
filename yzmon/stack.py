"""The embedded stack: the broker (unless Kafka is external) and the Faust worker as child processes,
kept alive by a supervisor.

`yzmon up` runs it in the foreground; `--detach` runs the same supervisor in the background and
records its pids and restart history in DATA_DIR/stack.json (`yzmon status`, `yzmon down`).
Children die with the supervisor (PR_SET_PDEATHSIG), so no process outlives it; each runs in a
session and process group of its own, so a signal sent to a child's group never reaches the supervisor.

Supervision: a worker that dies is started again after a backoff (1 s, doubling to 30 s) while
the broker stays up; the worker resumes from its group's committed offsets and the store's
idempotent tables absorb what it lands twice. A broker that dies is started again with its
topics, and the worker with it: the records it held that had not landed are lost, and the log
says how many were waiting. More than ``restart_max`` crashes of one child within
``restart_window_s`` stop the stack with a message. Every few seconds the supervisor also looks
at the broker's memory; past ``broker_recycle_mb`` it recycles the broker behind the producer
gate (``producers.gate``) once every record has landed, so nothing is lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from producers.gate import Gate, gate_path
from schemas.zone import ZONE
from yzcore.memory import resident_mb
from yzcore.settings import Settings
from yzcore.store import interface_up, worker_alive
from yzmon.broker import StackError, die_with_parent, ensure_topics, port_free, start_broker
from yzmon.offsets import group_lag, lag_by_topic, partition_offsets, uncommitted_ranges
from yzmon.stackinfo import addresses

CHECK_S = 5.0  # how often the supervisor samples broker memory and consumer lag
BACKOFF_MAX_S = 30.0
RECYCLE_RETRY_S = 60.0  # after a recycle that was not the moment (producers busy, worker behind)


SETTINGS_PREFIX = Settings.model_config.get("env_prefix", "")


def state_file(settings: Settings) -> Path:
    return settings.data_dir / "stack.json"


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of the worker process: every one of our settings, explicit, whatever the parent's .env
    said (from the settings object), with the broker and store the stack resolved."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIX)}
    env.update(settings.environment())
    env.update({"YZMON_KAFKA_BOOTSTRAP": settings.bootstrap, "YZMON_CLICKHOUSE_DSN": settings.store_dsn})
    return env


@dataclass
class ChildRecord:
    """What the supervisor knows of one child: for `yzmon status` and the log."""

    restarts: int = 0
    last_exit: int | None = None
    last_reason: str = ""
    last_at: str = ""
    state: str = "up"


@dataclass
class Stack:
    settings: Settings
    broker: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    logs: dict[str, Path] = field(default_factory=dict)
    records: dict[str, ChildRecord] = field(default_factory=lambda: {"worker": ChildRecord(), "broker": ChildRecord()})
    recycles: int = 0
    broker_mb: float = 0.0
    lost: str = ""
    gate: Gate | None = None
    _crashes: dict[str, deque] = field(default_factory=lambda: {"worker": deque(), "broker": deque()})
    _last_lag: tuple[str, int] | None = None  # (when, records) at the last check
    _last_ranges: list[str] = field(default_factory=list)  # offset ranges not committed at the last check
    _restart_at: float | None = None  # when to start a crashed worker again (monotonic)
    _next_check: float = 0.0
    _recycle_after: float = 0.0  # no recycle attempt before this (monotonic), after one that was not the moment
    echo: bool = True  # log lines also on stderr (the live view keeps its screen: log file only)

    def start(self, wait_ready_s: float = 60.0) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        log_dir = s.data_dir / "logs"
        log_dir.mkdir(exist_ok=True)
        self.logs = {
            "broker": log_dir / "broker.log",
            "worker": log_dir / "worker.log",
            "supervisor": log_dir / "supervisor.log",
        }
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
                path = gate_path(s.bootstrap)
                self.gate = Gate.create(path) if path is not None else None
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

    def worker_command(self) -> list[str]:
        return [sys.executable, "-m", "streams.worker"]

    def start_worker(self) -> None:
        """Start the worker in a session (and process group) of its own: a signal the engine sends its
        group (ClickHouse's shutdown signals the whole group) reaches the worker, never the supervisor."""
        with self.logs["worker"].open("ab") as log:
            self.worker = subprocess.Popen(
                self.worker_command(),
                env=worker_env(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
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
        """Stop the worker, then the broker: SIGTERM, then SIGKILL after ``timeout_s``; remove the broker gate."""
        for proc in (self.worker, self.broker):
            _stop(proc, timeout_s)
        if self.gate is not None:
            self.gate.release()
            self.gate.path.unlink(missing_ok=True)
            self.gate.wanted.unlink(missing_ok=True)

    def write_state(self) -> None:
        state = {
            "supervisor": os.getpid(),
            "worker": self.worker.pid if self.worker else None,
            "broker": self.broker.pid if self.broker else None,
            "bootstrap": self.settings.bootstrap,
            "worker_url": self.settings.worker_url,
            "sql_url": f"http://{self.settings.sql_host}:{self.settings.sql_port}"
            if self.settings.embedded_store
            else None,
            "store": self.settings.store_dsn if self.settings.embedded_store else None,
            "addresses": addresses(self.settings),
            "children": {name: asdict(r) for name, r in self.records.items()},
            "recycles": self.recycles,
            "broker_mb": round(self.broker_mb, 1),
            "lost": self.lost,
        }
        path = state_file(self.settings)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(path)

    def log(self, message: str) -> None:
        """One line in DATA_DIR/logs/supervisor.log and on stderr (DATA_DIR/stack.log when detached)."""
        line = f"{datetime.now(ZONE):%Y-%m-%d %H:%M:%S %Z} {message}"
        if self.echo:
            print(line, file=sys.stderr, flush=True)
        with self.logs["supervisor"].open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def supervise(self) -> int:
        """Keep the children alive until SIGINT/SIGTERM, or until one crashes too often; return an exit code."""
        stop = {"signal": 0}

        def _on_signal(signum: int, _frame: object) -> None:
            stop["signal"] = signum

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        self.write_state()
        code = 0
        try:
            while not stop["signal"]:
                if not self.tick():
                    code = 1
                    break
                time.sleep(0.2)
        finally:
            self.close()
        return code

    def tick(self) -> bool:
        """One round of supervision (call it often); False when a child crashed too often: stop the stack."""
        if self.broker is not None and self.broker.poll() is not None:
            if not self._crashed("broker", self.broker):
                return False
            self._restart_broker()
            self._restart_at = None
        if self.worker is not None and self.worker.poll() is not None and self._restart_at is None:
            if not self._crashed("worker", self.worker):
                return False
            backoff = min(self.settings.restart_backoff_s * 2 ** (len(self._crashes["worker"]) - 1), BACKOFF_MAX_S)
            self.records["worker"].state = f"restarting in {backoff:.0f} s"
            self.write_state()
            self._restart_at = time.monotonic() + backoff
        if self._restart_at is not None and time.monotonic() >= self._restart_at:
            self._restart_at = None
            self.start_worker()
            self.records["worker"].state = "starting"
            self.log(f"worker started again (pid {self.worker.pid if self.worker else '?'})")
            self.write_state()
        if self.records["worker"].state == "starting" and self._worker_ready():
            self.records["worker"].state = "up"
            self.log("worker ready")
            self.write_state()
        if time.monotonic() >= self._next_check:
            self._check()
            self._next_check = time.monotonic() + CHECK_S
        return True

    def _worker_ready(self) -> bool:
        """The (re)started worker answers, and serves reads when it owns the embedded store."""
        s = self.settings
        return worker_alive(s) and (not s.embedded_store or interface_up(s))

    def close(self) -> None:
        """Stop the children and forget the stack's state."""
        self.stop()
        state_file(self.settings).unlink(missing_ok=True)

    def _crashed(self, name: str, proc: subprocess.Popen) -> bool:
        """Record a child's death; False when it crashed more than restart_max times in the window (give up)."""
        rec, s = self.records[name], self.settings
        now = time.monotonic()
        crashes = self._crashes[name]
        crashes.append(now)
        while crashes and now - crashes[0] > s.restart_window_s:
            crashes.popleft()
        rec.last_exit = proc.returncode
        rec.last_reason = exit_reason(proc.returncode, self.logs[name])
        rec.last_at = f"{datetime.now(ZONE):%Y-%m-%d %H:%M:%S %Z}"
        if len(crashes) > s.restart_max:
            rec.state = "gave up"
            self.write_state()
            self.log(
                f"the {name} {rec.last_reason}; it crashed {len(crashes)} times within {s.restart_window_s:.0f} s, "
                f"more than YZMON_RESTART_MAX={s.restart_max}: giving up and stopping the stack. "
                f"See {self.logs[name]}, fix the cause, then `yzmon up` again"
            )
            return False
        rec.restarts += 1
        self.log(f"the {name} {rec.last_reason}; restart {rec.restarts} (see {self.logs[name]})")
        return True

    def _restart_broker(self) -> None:
        """Start a dead broker again with its topics, and the worker with it (its group is gone)."""
        lag = self._last_lag
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait()
        started = time.monotonic()
        self.broker = self._start_broker_retrying()
        ensure_topics(self.settings)
        if self.gate is not None:
            self.gate.bump()
        self.start_worker()
        self.records["worker"].state = "starting"
        self.records["broker"].state = "up"
        waiting = (
            f"{lag[1]:,} Kafka records (up to {self.settings.bundle_events} events each) were waiting at {lag[0]}"
            if lag
            else "how many were waiting is unknown (no check yet)"
        )
        ranges = (
            f"; not landed at {lag[0]} (offset ranges): {', '.join(self._last_ranges)}, and whatever came after"
            if lag and self._last_ranges
            else ""
        )
        self.lost = (
            f"broker restart at {self.records['broker'].last_at}: the records it held that had not landed are lost; "
            f"{waiting}{ranges}. yzmon's producers (load, replay, live feed) send again what had not landed "
            "(re-sent below); other producers must send those ranges again, or replay the range "
            "(event ids make it idempotent)"
        )
        self.log(f"broker back in {time.monotonic() - started:.1f} s with its topics; {self.lost}")
        self.write_state()

    def _start_broker_retrying(self) -> subprocess.Popen:
        deadline = time.monotonic() + 30
        while True:
            try:
                return start_broker(self.settings, self.logs["broker"])
            except StackError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _check(self) -> None:
        """Sample broker memory and consumer lag; recycle the broker when it holds too much."""
        if self.broker is None or self.broker.poll() is not None:
            return
        self.broker_mb = resident_mb(self.broker.pid)
        try:
            offsets = partition_offsets(self.settings.bootstrap)
        except Exception:  # noqa: BLE001 - a check that fails is only skipped
            offsets = None
        if offsets is not None:
            self._last_lag = (f"{datetime.now(ZONE):%H:%M:%S %Z}", sum(lag_by_topic(offsets).values()))
            self._last_ranges = uncommitted_ranges(offsets)
        limit = self.settings.broker_recycle_mb
        if limit and self.broker_mb > limit and time.monotonic() >= self._recycle_after:
            try:
                done = self.recycle()
            except Exception as exc:  # noqa: BLE001 - a dead child is brought back by the next round
                self.log(f"the broker recycle failed ({type(exc).__name__}: {exc}); the next rounds repair the stack")
                done = False
            self._recycle_after = 0.0 if done else time.monotonic() + RECYCLE_RETRY_S
        self.write_state()

    def recycle(self, drain_timeout_s: float = 60.0) -> bool:
        """Restart the broker to free its memory, losing nothing: producers step back behind the gate,
        the worker lands everything, then broker and worker start afresh. False when it was not the moment."""
        if self.gate is None or self.broker is None:
            return False
        started = time.monotonic()
        if not self.gate.acquire_exclusive(30.0):
            self.log(f"broker at {self.broker_mb:,.0f} MiB: producers did not pause within 30 s; recycling later")
            return False
        try:
            deadline = time.monotonic() + drain_timeout_s
            while True:
                lag = group_lag(self.settings.bootstrap)
                if lag is not None and sum(lag.values()) == 0:
                    break
                if time.monotonic() > deadline or (self.worker is not None and self.worker.poll() is not None):
                    self.log(
                        f"broker at {self.broker_mb:,.0f} MiB: the worker did not land everything in time; "
                        "recycling later"
                    )
                    return False
                time.sleep(0.5)
            before = self.broker_mb
            for proc in (self.worker, self.broker):  # the worker first: it commits what it landed
                _stop(proc)
            self.broker = self._start_broker_retrying()
            ensure_topics(self.settings)
            self.gate.bump()
            self.start_worker()
            self.recycles += 1
            self.broker_mb = resident_mb(self.broker.pid)
            self.log(
                f"broker recycled to free memory ({before:,.0f} MiB → {self.broker_mb:,.0f} MiB) in "
                f"{time.monotonic() - started:.1f} s; nothing lost: every record had landed and producers waited"
            )
            self.write_state()
            return True
        finally:
            self.gate.release()


def _stop(proc: subprocess.Popen | None, timeout_s: float = 30.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def exit_reason(code: int | None, log: Path) -> str:
    """How a child ended, in words: the signal, or the exit code and the last line of its log."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (kill -9, or the out-of-memory killer)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    try:
        with log.open("rb") as f:
            f.seek(max(log.stat().st_size - 4096, 0))
            tail = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        tail = []
    return f"exited with code {code}" + (f" ({tail[-1][:400]})" if tail else "")


def supervision_rows(settings: Settings) -> list[tuple[str, str]]:
    """The supervisor's rows for `yzmon status`; none when no stack of this data dir is supervised."""
    try:
        state = json.loads(state_file(settings).read_text())
    except (OSError, ValueError):
        return []
    parts = [f"pid {state.get('supervisor')}"]
    for name, rec in (state.get("children") or {}).items():
        text = f"{name} restarts {rec['restarts']}"
        if rec.get("last_reason"):
            text += f" (last: {rec['last_reason']} at {rec['last_at']})"
        if rec.get("state", "up") != "up":
            text += f" · {name} {rec['state']}"
        parts.append(text)
    if state.get("broker"):
        parts.append(f"broker {state.get('broker_mb', 0):,.0f} MiB · recycled {state.get('recycles', 0)}×")
    out = [("supervisor", " · ".join(parts))]
    if state.get("lost"):
        out.append(("broker loss", state["lost"]))
    return out


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


def up_detached(settings: Settings, timeout_s: float = 90.0) -> int:
    """Start `yzmon up` in the background with ``settings`` (its output in DATA_DIR/stack.log) and wait until
    its supervisor has written the stack's state; return the supervisor's pid. Raises StackError with the log's
    last line when it exits first, or after ``timeout_s``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "stack.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIX)} | settings.environment()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "yzmon.cli", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
            raise StackError(f"the stack did not start: {' '.join(tail)}")
        if state_file(settings).exists():
            return proc.pid
        time.sleep(0.2)
    raise StackError(f"the stack did not become ready within {timeout_s:.0f} s; see {log_path}")
