"""Replay a simulated run onto Kafka at a chosen speed: a source (``producers.source``) of its records.

Ctrl-C stops at a record boundary: everything sent so far is flushed and confirmed, and the
position is written to a checkpoint (DATA_DIR/replay/<run key>.json). The same command with
``--resume`` skips exactly the confirmed records, so nothing is sent twice.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from producers.source import Checkpoint as _Checkpoint
from producers.source import Interrupted, Item, Pacer, Sink, pump
from schemas.zone import ZONE
from simulators.run import RunSpec, records

__all__ = ["Checkpoint", "Interrupted", "Pacer", "Position", "ReplaySource", "replay", "run_key"]


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


class Checkpoint(_Checkpoint):
    """The replay of ``spec``'s checkpoint: DATA_DIR/replay/<run key>.json."""

    def __init__(self, directory: Path, spec: RunSpec):
        super().__init__(directory / "replay" / f"{run_key(spec)}.json")


class ReplaySource:
    """The records of a simulated run, day by day, from a position."""

    unit = "days"

    def __init__(self, spec: RunSpec, start: Position | None = None):
        self.spec = spec
        self.pos = start or Position()
        self.description = f"replay {spec.scenario.name}"
        self._stamp = ""
        self._index = 0

    def total(self) -> int:
        return len(self.spec.days)

    def items(self) -> Iterator[Item]:
        for day_index, day in enumerate(self.spec.days):
            if day_index < self.pos.day:
                continue
            for i, record in enumerate(records(self.spec, day)):
                if i < self.pos.record:
                    continue
                self._index = i
                if record.event is None:
                    yield Item(record.feed, raw=record.bad or b"")
                    continue
                self._stamp = record.event["event_time"]
                yield Item(record.feed, record.event, when=datetime.fromisoformat(self._stamp))
            self.pos.day, self.pos.record = day_index + 1, 0

    def sent(self) -> None:
        self.pos.record, self.pos.sent = self._index + 1, self.pos.sent + 1

    def progress(self) -> tuple[int, str]:
        return self.pos.day, f"模拟时钟 {_clock(self._stamp)}"

    def position(self) -> dict[str, Any]:
        return asdict(self.pos)

    def finish(self) -> None:
        self.pos.done = True


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
    saved = checkpoint.load() if (checkpoint and resume) else None
    start = Position(**saved) if saved else Position()
    if start.done:
        return 0
    first = datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=ZONE)
    return pump(
        ReplaySource(spec, start),
        producer,
        pacer or Pacer(speed, first),
        checkpoint=checkpoint,
        stop=stop,
        show_progress=show_progress,
    )


def _clock(stamp: str) -> str:
    """The simulated clock shown while replaying: an event time to the minute, or — before the first."""
    return stamp[:16].replace("T", " ") or "—"
