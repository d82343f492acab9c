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
from simulators.columnar import Day
from simulators.run import RunSpec, SimRecord

__all__ = ["Checkpoint", "Interrupted", "Pacer", "Position", "ReplaySource", "replay", "run_key"]

FULL_SPEED_STEP = 60  # minutes of event time per item at full speed (a stop or a checkpoint waits for one)


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
    """The records of a simulated run, day by day, from a position: each day serialised column-wise
    (`simulators.columnar`), handed over ``step_minutes`` of event time at a time (paced: a minute)."""

    unit = "days"

    def __init__(self, spec: RunSpec, start: Position | None = None, step_minutes: int = FULL_SPEED_STEP):
        self.spec = spec
        self.pos = start or Position()
        self.step = step_minutes
        self.description = f"replay {spec.scenario.name}"
        self._stamp = ""
        self._end = 0  # the record after the item last yielded
        self._records = 0  # records in that item

    def total(self) -> int:
        return len(self.spec.days)

    def items(self) -> Iterator[Item]:
        for day_index, day in enumerate(self.spec.days):
            if day_index < self.pos.day:
                continue
            sim = Day(self.spec, day)
            for minute, first, end, what in sim.chunks(self.step, self.pos.record):
                self._end, self._records = end, end - first
                if isinstance(what, SimRecord):
                    yield Item(what.feed, raw=what.bad or b"")
                    continue
                self._stamp = sim.stamps[minute]
                yield Item("", runs=what, when=datetime.fromisoformat(self._stamp), records=end - first)
            self.pos.day, self.pos.record = day_index + 1, 0

    def sent(self) -> None:
        self.pos.record, self.pos.sent = self._end, self.pos.sent + self._records

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
        ReplaySource(spec, start, FULL_SPEED_STEP if speed is None else 1),
        producer,
        pacer or Pacer(speed, first),
        checkpoint=checkpoint,
        stop=stop,
        show_progress=show_progress,
    )


def _clock(stamp: str) -> str:
    """The simulated clock shown while replaying: an event time to the minute, or — before the first."""
    return stamp[:16].replace("T", " ") or "—"
