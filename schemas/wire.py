"""Events already serialised for the wire: a run of one feed's and 商圈's events, in order.

The events are JSON objects (as ``orjson.dumps`` writes them) joined by commas, so that a bundle of
consecutive events is a slice of ``data`` between brackets (``schemas.contracts``). A producer cuts
runs into bundles without a Python object per event; ``totals`` says what the run adds up to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EventRun:
    feed: str
    district: str
    data: bytes  # the events' JSON objects joined by b","
    ends: np.ndarray  # int64, per event: the offset just past its comma (len(data) + 1 for the last)
    totals: dict[str, int]  # per measure, the sum over these events (money in fen)

    @property
    def count(self) -> int:
        return len(self.ends)

    def events(self) -> list[bytes]:
        """Each event's JSON (for a check, or a test; the hot path slices ``data`` instead)."""
        starts = [0, *self.ends[:-1].tolist()]
        return [self.data[a : b - 1] for a, b in zip(starts, self.ends.tolist(), strict=True)]
