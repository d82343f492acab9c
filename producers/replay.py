"""Replay a simulated run onto Kafka at a chosen speed, with a progress bar, stoppable and resumable.

Ctrl-C stops at a record boundary: everything sent so far is flushed and confirmed, and the
position is written to a checkpoint (DATA_DIR/replay/<run key>.json). The same command with
``--resume`` skips exactly the confirmed records, so nothing is sent twice.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas.zone import ZONE
from simulators.run import RunSpec, records

PROGRESS_EVERY = 5_000  # records between looks at the clock (progress bar, checkpoint due)
CHECKPOINT_SECONDS = 5.0  # at least this long between confirmed checkpoints; after a crash, --resume sends
# again what came after the last one (the event ids make that idempotent)


class Sink(Protocol):
    def send(self, feed: str, event: dict) -> None: ...
    def send_raw(self, feed: str, key: bytes | None, value: bytes) -> None: ...
    def push(self) -> None: ...  # hand over whatever waits, without waiting for acknowledgements
    def flush(self) -> int: ...


class Pacer:
    """Maps event time to wall time: ``speed`` simulated seconds per wall second (None = as fast as possible)."""

    def __init__(self, speed: float | None, anchor_event: datetime, anchor_wall: float | None = None):
        self.speed = speed
        self.anchor_event = anchor_event.timestamp()
        self.anchor_wall = time.time() if anchor_wall is None else anchor_wall

    def wait_until(
        self, event_time: datetime, stop: threading.Event | None = None, idle: Callable[[], None] | None = None
    ) -> None:
        """Sleep until ``event_time`` is due; ``idle`` runs first (a producer sends its waiting bundles)."""
        if self.speed is None:
            return
        due = self.anchor_wall + (event_time.timestamp() - self.anchor_event) / self.speed
        delay = due - time.time()
        if delay > 0:
            if idle is not None:
                idle()
            if stop is None:
                time.sleep(delay)
            else:
                stop.wait(delay)


@dataclass
class Position:
    """Where a replay stands: whole days done, and records done within the next day."""

    day: int = 0
    record: int = 0
    sent: int = 0
    done: bool = False


def run_key(spec: RunSpec) -> str:
    text = "|".join(
        [
            spec.scenario.name,
            str(spec.seed),
            spec.start.isoformat(),
            spec.end.isoformat(),
            ",".join(spec.districts),
            ",".join(spec.feeds),
            str(spec.bad_per_day),
            *(() if spec.scenario.sample is None else (repr(spec.scenario.sample),)),
        ]
    )
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class Checkpoint:
    def __init__(self, directory: Path, spec: RunSpec):
        self.path = directory / "replay" / f"{run_key(spec)}.json"

    def load(self) -> Position | None:
        return Position(**json.loads(self.path.read_text())) if self.path.exists() else None

    def save(self, pos: Position) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(pos.__dict__))
        tmp.replace(self.path)


class Interrupted(Exception):
    """The replay stopped on request; ``position`` says where."""

    def __init__(self, position: Position, clock: str):
        super().__init__(f"stopped at simulated {clock}")
        self.position = position
        self.clock = clock


def replay(
    spec: RunSpec,
    producer: Sink,
    speed: float | None,
    pacer: Pacer | None = None,
    show_progress: bool = True,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Send every record of ``spec`` (after the checkpoint when resuming); return how many were sent now.

    Raises Interrupted after a clean stop (Ctrl-C, or ``stop`` set); the checkpoint then holds the
    position of the last confirmed record.
    """
    stop = stop or threading.Event()
    start = (checkpoint.load() if (checkpoint and resume) else None) or Position()
    if start.done:
        return 0
    pos = Position(start.day, start.record, start.sent)
    first = datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=ZONE)
    pacer = pacer or Pacer(speed, first)
    restore = _catch_sigint(stop)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · 模拟时钟 {task.fields[clock]} · {task.fields[rate]} events/s"),
        TimeElapsedColumn(),
        disable=not show_progress,
    )
    sent_now, stamp, started = 0, "", time.monotonic()
    confirmed_at = started

    def confirm() -> None:
        nonlocal confirmed_at
        producer.flush()
        confirmed_at = time.monotonic()
        if checkpoint:
            checkpoint.save(pos)

    try:
        with progress:
            task = progress.add_task(
                f"replay {spec.scenario.name}", total=len(spec.days), completed=pos.day, clock="—", rate="0"
            )
            for day_index, day in enumerate(spec.days):
                if day_index < pos.day:
                    continue
                for i, record in enumerate(records(spec, day)):
                    if i < pos.record:
                        continue
                    if record.event is not None:
                        stamp = record.event["event_time"]
                        if pacer.speed is not None:
                            pacer.wait_until(datetime.fromisoformat(stamp), stop, producer.push)
                    if stop.is_set():
                        confirm()
                        raise Interrupted(pos, _clock(stamp))
                    if record.event is not None:
                        producer.send(record.feed, record.event)
                    else:
                        producer.send_raw(record.feed, None, record.bad or b"")
                    pos.record, pos.sent, sent_now = i + 1, pos.sent + 1, sent_now + 1
                    if pos.record % PROGRESS_EVERY == 0:
                        now = time.monotonic()
                        if now - confirmed_at >= CHECKPOINT_SECONDS:
                            confirm()
                        rate = f"{sent_now / max(now - started, 1e-6):,.0f}"
                        progress.update(task, clock=_clock(stamp), rate=rate)
                pos.day, pos.record = day_index + 1, 0
                progress.update(task, completed=pos.day, clock=_clock(stamp))
            confirm()
        pos.done = True
        if checkpoint:
            checkpoint.save(pos)
        return sent_now
    finally:
        restore()


def _clock(stamp: str) -> str:
    """The simulated clock shown while replaying: an event time to the minute, or — before the first."""
    return stamp[:16].replace("T", " ") or "—"


def _catch_sigint(stop: threading.Event):
    """Turn Ctrl-C into a request to stop at the next record boundary (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    return lambda: signal.signal(signal.SIGINT, previous)
