"""Ground truth of a simulated run: totals per Asia/Shanghai day × 商圈 × feed × dimension.

Rows are (day, district, feed, dimension, measure, value), sorted, so the same run always writes
the same bytes. Injected bad events appear as feed=<feed>, district='', dimension=<reason>,
measure='rejected'.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from schemas.feeds import FEEDS

Row = tuple[str, str, str, str, str, str]


class Truth:
    def __init__(self) -> None:
        self._totals: dict[tuple[str, str, str, str, str], Decimal | int] = defaultdict(int)

    def add(self, feed: str, event: dict) -> None:
        spec = FEEDS[feed]
        day = event["event_time"][:10]  # events carry +08:00, so the date prefix is the local day
        dimension = event[spec.dims[0]] if spec.dims else ""
        for m in spec.measures:
            value = event.get(m, 0)
            value = Decimal(value) if isinstance(value, str) else value  # money travels as a decimal string
            self._totals[(day, event["district"], feed, dimension, m)] += value

    def add_rejected(self, day: str, feed: str, reason: str) -> None:
        self._totals[(day, "", feed, reason, "rejected")] += 1

    def extend(self, events: Iterable[tuple[str, dict]]) -> None:
        for feed, event in events:
            self.add(feed, event)

    def rows(self) -> list[Row]:
        return sorted((*key, str(value)) for key, value in self._totals.items())

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["day", "district", "feed", "dimension", "measure", "value"])
        writer.writerows(self.rows())
        return out.getvalue()
