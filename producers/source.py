"""One shape for everything that sends events: a source yields items, ``pump`` sends them.

A :class:`Source` knows its records (``items``), how far it got (``progress``, and a
``position`` for its checkpoint) and what to show; ``pump`` does the rest the same way for the
replay, the file load and the live feed: pacing by event time, a rich progress bar, confirmed
checkpoints, and a clean stop (Ctrl-C or a ``stop`` event) at a record boundary. The producer's
``close`` then waits until the worker landed what was sent (``FeedProducer.wait_landed``).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas.wire import EventRun

PROGRESS_EVERY = 5_000  # records between looks at the clock (progress bar, checkpoint due)
CHECKPOINT_SECONDS = 5.0  # at least this long between confirmed checkpoints; after a crash, a resume sends
# again what came after the last one (the event ids make that idempotent)


@dataclass(frozen=True)
class Item:
    """What to send next: a valid event (into its 商圈's bundle), runs of serialised events (each into its
    商圈's bundles), or bytes sent as a record of their own."""

    feed: str
    event: dict[str, Any] | None = None
    raw: bytes | None = None
    when: datetime | None = None  # event time, for pacing
    runs: list[EventRun] | None = None
    records: int = 1  # how many of the source's records this item is


class Sink(Protocol):
    def send(self, feed: str, event: dict) -> None: ...
    def send_run(self, run: EventRun) -> None: ...
    def send_raw(self, feed: str, key: bytes | None, value: bytes) -> None: ...
    def push(self) -> None: ...  # hand over whatever waits, without waiting for acknowledgements
    def flush(self) -> int: ...


class Discard:
    """A sink that sends nothing: a dry run goes through the same loop."""

    def send(self, feed: str, event: dict) -> None:
        pass

    def send_run(self, run: EventRun) -> None:
        pass

    def send_raw(self, feed: str, key: bytes | None, value: bytes) -> None:
        pass

    def push(self) -> None:
        pass

    def flush(self) -> int:
        return 0


class Source(Protocol):
    description: str  # shown beside the progress bar
    unit: str  # what progress counts ("days", "rows")

    def total(self) -> int | None: ...
    def items(self) -> Iterator[Item]: ...  # from the position it was resumed at
    def sent(self) -> None: ...  # the item last yielded went out
    def progress(self) -> tuple[int, str]: ...  # completed units, and a short note (the simulated clock)
    def position(self) -> dict[str, Any]: ...  # what was sent so far, for the checkpoint
    def finish(self) -> None: ...  # every item was sent


class Pacer:
    """Maps event time to wall time: ``speed`` simulated seconds per wall second (None = as fast as possible)."""

    def __init__(self, speed: float | None, anchor_event: datetime | None = None, anchor_wall: float | None = None):
        self.speed = speed
        self.anchor_event = anchor_event.timestamp() if anchor_event is not None else None
        self.anchor_wall = time.time() if anchor_wall is None else anchor_wall

    def wait_until(
        self, event_time: datetime, stop: threading.Event | None = None, idle: Callable[[], None] | None = None
    ) -> None:
        """Sleep until ``event_time`` is due; ``idle`` runs first (a producer sends its waiting bundles).
        Without an anchor, the first event anchors the pace."""
        if self.speed is None:
            return
        if self.anchor_event is None:
            self.anchor_event, self.anchor_wall = event_time.timestamp(), time.time()
        due = self.anchor_wall + (event_time.timestamp() - self.anchor_event) / self.speed
        delay = due - time.time()
        if delay > 0:
            if idle is not None:
                idle()
            if stop is None:
                time.sleep(delay)
            else:
                stop.wait(delay)


class Checkpoint:
    """A source's position, saved atomically as JSON (only after what it covers was confirmed)."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, Any] | None:
        return json.loads(self.path.read_text()) if self.path.exists() else None

    def save(self, position: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(position))
        tmp.replace(self.path)


class Interrupted(Exception):
    """Sending stopped on request; ``position`` says where (everything before it is confirmed)."""

    def __init__(self, position: dict[str, Any], where: str):
        super().__init__(f"stopped at {where}")
        self.position = position
        self.where = where


def pump(
    source: Source,
    producer: Sink,
    pacer: Pacer | None = None,
    checkpoint: Checkpoint | None = None,
    stop: threading.Event | None = None,
    show_progress: bool = True,
    console: Console | None = None,
) -> int:
    """Send every item of ``source``; return how many were sent. Raises Interrupted after a clean stop."""
    stop = stop or threading.Event()
    pacer = pacer or Pacer(None)
    restore = _catch_sigint(stop)
    completed, note = source.progress()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{source.unit} · {{task.fields[note]}} · {{task.fields[rate]}} events/s"),
        TimeElapsedColumn(),
        disable=not show_progress,
        console=console,
        transient=console is not None and console.stderr,
    )
    sent, started = 0, time.monotonic()
    look_at = PROGRESS_EVERY  # records sent at the next look at the clock
    confirmed_at = started

    def confirm() -> None:
        nonlocal confirmed_at
        producer.flush()
        confirmed_at = time.monotonic()
        if checkpoint is not None:
            checkpoint.save(source.position())

    try:
        with progress:
            task = progress.add_task(
                source.description, total=source.total(), completed=completed, note=note or "—", rate="0"
            )
            for item in source.items():
                if pacer.speed is not None and item.when is not None:
                    pacer.wait_until(item.when, stop, producer.push)
                if stop.is_set():
                    confirm()
                    raise Interrupted(source.position(), source.progress()[1])
                if item.event is not None:
                    producer.send(item.feed, item.event)
                elif item.runs is not None:
                    for run in item.runs:
                        producer.send_run(run)
                else:
                    producer.send_raw(item.feed, None, item.raw or b"")
                source.sent()
                sent += item.records
                if sent >= look_at:
                    look_at = sent + PROGRESS_EVERY
                    now = time.monotonic()
                    if checkpoint is not None and now - confirmed_at >= CHECKPOINT_SECONDS:
                        confirm()
                    completed, note = source.progress()
                    rate = f"{sent / max(now - started, 1e-6):,.0f}"
                    progress.update(task, completed=completed, note=note, rate=rate)
            confirm()
            completed, note = source.progress()
            progress.update(task, completed=completed, note=note)
        source.finish()
        if checkpoint is not None:
            checkpoint.save(source.position())
        return sent
    finally:
        restore()


def _catch_sigint(stop: threading.Event):
    """Turn Ctrl-C into a request to stop at the next record boundary (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    return lambda: signal.signal(signal.SIGINT, previous)
