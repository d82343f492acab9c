"""Replay a simulated run onto Kafka at a chosen speed, with a progress bar."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from producers.kafka import FeedProducer
from simulators.run import RunSpec, records

ZONE = ZoneInfo("Asia/Shanghai")


class Pacer:
    """Maps event time to wall time: ``speed`` simulated seconds per wall second (None = as fast as possible)."""

    def __init__(self, speed: float | None, anchor_event: datetime, anchor_wall: float | None = None):
        self.speed = speed
        self.anchor_event = anchor_event.timestamp()
        self.anchor_wall = time.time() if anchor_wall is None else anchor_wall

    def wait_until(self, event_time: datetime) -> None:
        if self.speed is None:
            return
        due = self.anchor_wall + (event_time.timestamp() - self.anchor_event) / self.speed
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)


def replay(spec: RunSpec, producer: FeedProducer, speed: float | None, pacer: Pacer | None = None,
           show_progress: bool = True) -> int:
    """Send every record of ``spec``; returns how many were acknowledged by Kafka."""
    first = datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=ZONE)
    pacer = pacer or Pacer(speed, first)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("days · 模拟时钟 {task.fields[clock]} · {task.fields[rate]} events/s"),
                        TimeElapsedColumn(), disable=not show_progress)
    sent = 0
    clock = "—"
    started = time.monotonic()
    with progress:
        task = progress.add_task(f"replay {spec.scenario.name}", total=len(spec.days), clock="—", rate="0")
        for day in spec.days:
            for i, record in enumerate(records(spec, day)):
                if record.event is not None:
                    pacer.wait_until(datetime.fromisoformat(record.event["event_time"]))
                    producer.send(record.feed, record.event)
                    clock = record.event["event_time"]
                else:
                    producer.send_raw(record.feed, None, record.bad or b"")
                sent += 1
                if i % 2000 == 0:
                    rate = sent / max(time.monotonic() - started, 1e-6)
                    progress.update(task, clock=clock[:16].replace("T", " "), rate=f"{rate:,.0f}")
            producer.flush()
            progress.update(task, advance=1)
    return sent
