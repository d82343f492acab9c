"""The supervisor's rules, with stand-in children (no broker): restart with backoff, give up on a
crash loop, say why a child ended; and the broker gate that lets it recycle the broker."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from producers.gate import Gate
from yzcore.settings import Settings
from yzmon.stack import Stack, exit_reason, state_file, supervision_rows


class ScriptedStack(Stack):
    """A stack whose worker is a small Python script, and no broker (as with an external Kafka)."""

    script: str = ""

    def worker_command(self) -> list[str]:
        return [sys.executable, "-c", self.script]


def _stack(tmp_path: Path, script: str, **overrides) -> ScriptedStack:
    settings = Settings(
        data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", restart_backoff_s=0.1, restart_window_s=60, **overrides
    )
    stack = ScriptedStack(settings)
    stack.script = script
    (tmp_path / "logs").mkdir()
    stack.logs = {name: tmp_path / "logs" / f"{name}.log" for name in ("worker", "broker", "supervisor")}
    stack.start_worker()
    return stack


@contextmanager
def _stop_when(condition, timeout_s: float = 30) -> Iterator[None]:
    """While the block runs, SIGTERM this process (the supervisor's stop signal) once ``condition()`` holds or
    after ``timeout_s``; never once the block is left (the test restores the default handler after it)."""
    left = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not condition():
            if left.wait(0.05):
                return
        if not left.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        left.set()
        thread.join()


def _state(stack: Stack) -> dict:
    try:
        return json.loads(state_file(stack.settings).read_text())
    except (OSError, ValueError):
        return {}


def test_a_crashed_worker_is_started_again_and_the_restart_is_recorded(tmp_path):
    marker = tmp_path / "crashed-once"
    script = (
        f"import pathlib, sys, time\np = pathlib.Path({str(marker)!r})\n"
        "if not p.exists():\n    p.touch(); print('boom: simulated crash'); sys.exit(3)\ntime.sleep(60)\n"
    )
    stack = _stack(tmp_path, script)
    first = stack.worker.pid
    seen: dict = {}

    def restarted() -> bool:
        state = _state(stack)
        if state.get("children", {}).get("worker", {}).get("restarts") == 1 and state.get("worker") != first:
            seen.update(state, rows=supervision_rows(stack.settings))
            return stack.worker.poll() is None
        return False

    old = signal.getsignal(signal.SIGTERM)
    try:
        with _stop_when(restarted):
            code = stack.supervise()
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert code == 0
    worker = seen["children"]["worker"]
    assert worker["last_exit"] == 3 and "exited with code 3 (boom: simulated crash)" in worker["last_reason"]
    # started again, not ready: this stand-in never answers on the worker port (a real one turns "up")
    assert worker["state"] == "starting" and seen["worker"] != first
    assert "worker restarts 1 (last: exited with code 3" in seen["rows"][0][1]
    log = (tmp_path / "logs" / "supervisor.log").read_text()
    assert "restart 1" in log and "worker started again" in log
    assert not state_file(stack.settings).exists()  # removed when the supervisor stops
    assert stack.worker.poll() is not None  # and its children stopped with it


def test_a_worker_signalling_its_whole_process_group_does_not_reach_the_supervisor(tmp_path):
    """ClickHouse's SYSTEM SHUTDOWN signals the engine's process group: the worker's own, not the supervisor's."""
    count = tmp_path / "starts"
    script = (
        f"import os, pathlib, signal, time\np = pathlib.Path({str(count)!r})\n"
        "n = len(p.read_text()) if p.exists() else 0\np.write_text('x' * (n + 1))\ntime.sleep(0.3)\n"
        "if n < 2:\n    os.killpg(0, signal.SIGKILL if n == 0 else signal.SIGTERM)\ntime.sleep(60)\n"
    )
    stack = _stack(tmp_path, script)
    assert os.getpgid(stack.worker.pid) != os.getpgid(0) and os.getsid(stack.worker.pid) == stack.worker.pid
    seen: dict = {}

    def restarted_twice() -> bool:
        state = _state(stack)
        if state.get("children", {}).get("worker", {}).get("restarts") == 2:
            seen.update(state)
            return stack.worker.poll() is None
        return False

    old = signal.getsignal(signal.SIGTERM)
    try:
        with _stop_when(restarted_twice):
            code = stack.supervise()
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert code == 0 and count.read_text() == "xxx"  # killed by SIGKILL, by SIGTERM, then started a third time
    assert seen["children"]["worker"]["restarts"] == 2 and "SIGTERM" in seen["children"]["worker"]["last_reason"]
    log = (tmp_path / "logs" / "supervisor.log").read_text()
    assert "SIGKILL" in log and "SIGTERM" in log


def test_a_crash_loop_gives_up_after_restart_max_tries_with_a_clear_message(tmp_path):
    stack = _stack(tmp_path, "import sys; print('cannot start: bad config'); sys.exit(2)", restart_max=2)
    old = signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    try:
        with _stop_when(lambda: False, timeout_s=60):  # a guard: the supervisor must stop on its own well before
            code = stack.supervise()
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert code == 1 and time.monotonic() - started < 30
    log = (tmp_path / "logs" / "supervisor.log").read_text()
    assert log.count("exited with code 2 (cannot start: bad config); restart") == 2
    assert "crashed 3 times within 60 s, more than YZMON_RESTART_MAX=2: giving up" in log
    assert "`yzmon up` again" in log


def test_exit_reasons_name_the_signal_or_the_code_and_last_log_line(tmp_path):
    log = tmp_path / "w.log"
    log.write_text("starting\nValueError: the store is locked\n\n")
    assert exit_reason(-signal.SIGKILL, log) == "was killed by SIGKILL (kill -9, or the out-of-memory killer)"
    assert exit_reason(-signal.SIGSEGV, log) == "was killed by SIGSEGV"
    assert exit_reason(1, log) == "exited with code 1 (ValueError: the store is locked)"
    assert exit_reason(1, tmp_path / "missing.log") == "exited with code 1"


def test_the_gate_keeps_a_recycle_out_while_a_producer_holds_unacknowledged_records(tmp_path):
    path = tmp_path / "b.gate"
    supervisor = Gate.create(path)
    producer = Gate(path)
    producer.acquire_shared(1)
    assert not supervisor.acquire_exclusive(0.3)  # a producer has records in flight: no recycle
    assert not supervisor.requested()  # the request is withdrawn when it was not granted
    producer.release()
    assert supervisor.acquire_exclusive(1)
    supervisor.bump()
    late = Gate(path)
    got = threading.Event()
    threading.Thread(target=lambda: (late.acquire_shared(5), got.set()), daemon=True).start()
    time.sleep(0.3)
    assert not got.is_set()  # producers wait while the broker is being recycled
    supervisor.release()
    assert got.wait(5) and late.generation() != "0"  # then go on, knowing the broker is new
    late.release()


def test_a_request_left_by_a_killed_supervisor_does_not_block_producers(tmp_path):
    path = tmp_path / "b.gate"
    Gate.create(path)
    wanted = path.with_suffix(".wanted")
    wanted.touch()
    os.utime(wanted, (time.time() - 3600, time.time() - 3600))
    producer = Gate(path)
    producer.acquire_shared(1)
    assert producer.held
    producer.release()


@pytest.mark.parametrize("code", [0, 1])
def test_no_supervision_rows_without_a_supervised_stack(tmp_path, code):
    settings = Settings(data_dir=tmp_path)
    if code:
        state_file(settings).write_text("{not json")
    assert supervision_rows(settings) == []


def test_a_producer_steps_back_for_a_recycle_and_reconnects_to_the_new_broker(monkeypatch, free_port):
    """Mid-stream, the supervisor asks for the gate: the producer confirms what it sent, waits out the
    recycle, then opens a fresh connection (the new broker knows none of the old producer ids)."""
    import orjson

    import producers.kafka as kafka_mod
    from producers.gate import gate_path

    sent: list[bytes] = []

    class FakeKafka:
        def send(self, topic, key=None, value=None):
            sent.append(value)
            md = type("Md", (), {"topic": topic, "partition": 0, "offset": len(sent)})()
            return type(
                "F", (), {"is_done": True, "value": md, "failed": lambda s: False, "succeeded": lambda s: True}
            )()

        def flush(self, timeout=None):
            pass

        def close(self, timeout=None):
            pass

    monkeypatch.setattr(kafka_mod.FeedProducer, "_connect", lambda self: FakeKafka())
    bootstrap = f"127.0.0.1:{free_port()}"
    path = gate_path(bootstrap)
    supervisor = Gate.create(path)
    try:
        producer = kafka_mod.FeedProducer(
            Settings(kafka_bootstrap=bootstrap), validate=False, linger_ms=0, bundle_events=1, track_landing=False
        )
        producer.send("sales", {"event_id": "a", "district": "daping"})
        assert producer._gate is not None and producer._gate.held
        recycled = threading.Event()

        def recycle() -> None:
            assert supervisor.acquire_exclusive(10)
            time.sleep(0.3)  # the broker restarts meanwhile
            supervisor.bump()
            supervisor.release()
            recycled.set()

        thread = threading.Thread(target=recycle)
        thread.start()
        for i in range(200):
            time.sleep(0.01)
            producer.send("sales", {"event_id": f"b{i}", "district": "daping"})
        thread.join()
        producer.close()
        assert recycled.is_set() and producer.reconnects == 1
        assert sorted(e["event_id"] for v in sent for e in orjson.loads(v)) == sorted(
            ["a", *(f"b{i}" for i in range(200))]
        )
    finally:
        path.unlink(missing_ok=True)
        path.with_suffix(".wanted").unlink(missing_ok=True)
