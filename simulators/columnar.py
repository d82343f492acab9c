"""A simulated day serialised column-wise, as a replay sends it: no Python object per event.

Per feed and 商圈 (one Kafka key), the day's events are made from the simulator's arrays
(`generate.reported_series`) one unit at a time: ids, stamps and measures as columns, each event's
JSON from one template per unit (its constant fields written once), merged in event-time order and
joined into one bytes object. The result is, byte for byte, ``orjson.dumps`` of the events that
`simulators.run.records` yields, and each event keeps its place among the day's records, so a
replay resumes at the same record either way (tests/test_columnar.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from operator import itemgetter

import numpy as np
import orjson

from schemas.feeds import DECIMAL, FEEDS, Feed
from schemas.wire import EventRun
from simulators.generate import Series, active_minutes, event_ids, minute_stamps, reported_series, yuan_texts
from simulators.run import RunSpec, SimRecord, bad_records

NOON = 720  # the day's injected bad records are sent before the first event of this minute


@dataclass(frozen=True)
class _KeyDay:
    """One key's events of the day, in event-time order (ties in unit order)."""

    feed: str
    district: str
    data: bytes  # the events' JSON joined by b","
    ends: np.ndarray  # per event, the offset past its comma
    minutes: np.ndarray  # per event, its minute of the day
    measures: dict[str, np.ndarray]  # per measure, each event's value (money in fen)
    positions: np.ndarray  # per event, its index among the day's records


class Day:
    """One simulated day's records: valid events per key, and the bad records sent at noon."""

    def __init__(self, spec: RunSpec, day: date):
        self.day = day
        self.stamps = minute_stamps(day)
        self.bad = bad_records(spec, day)
        keys = [
            k
            for feed in spec.feeds
            for district in spec.districts
            if (k := _key_day(feed, spec, day, district, self.stamps)) is not None
        ]
        per_key = np.stack([np.bincount(k.minutes, minlength=1440) for k in keys]) if keys else np.zeros((0, 1440))
        before = np.concatenate([[0], np.cumsum(per_key.sum(axis=0))]).astype(np.int64)  # events before minute m
        earlier_keys = np.cumsum(per_key, axis=0) - per_key  # per key and minute: events of the keys before it
        nbad = len(self.bad)
        self._keys = []
        for i, k in enumerate(keys):
            m = k.minutes
            rank = np.arange(len(m)) - np.searchsorted(m, m, side="left")  # among the key's events of its minute
            positions = before[m] + earlier_keys[i, m] + rank + nbad * (m >= NOON)
            self._keys.append(_KeyDay(k.feed, k.district, k.data, k.ends, m, k.measures, positions))
        self._before = before
        self.records = int(before[-1]) + nbad

    def start(self, minute: int) -> int:
        """The index of the day's first record of ``minute`` (the bad records come before noon's events)."""
        return int(self._before[minute]) + (len(self.bad) if minute >= NOON else 0)

    def noon(self) -> int:
        """The index of the first bad record."""
        return int(self._before[NOON])

    def runs(self, first: int, end: int) -> list[EventRun]:
        """The valid events among records [first, end), one run per key (in key order)."""
        out = []
        for k in self._keys:
            i, j = np.searchsorted(k.positions, [first, end]).tolist()
            if i == j:
                continue
            a = int(k.ends[i - 1]) if i else 0
            b = int(k.ends[j - 1])
            totals = {m: int(v[i:j].sum()) for m, v in k.measures.items()}
            out.append(EventRun(k.feed, k.district, k.data[a : b - 1], k.ends[i:j] - a, totals))
        return out

    def chunks(self, step: int, first: int = 0) -> Iterator[tuple[int, int, int, list[EventRun] | SimRecord]]:
        """From record ``first`` on, in record order: (minute, first, end, what) with the events of ``step``
        minutes at a time as runs, and each bad record on its own."""
        for minute in range(0, 1440, step):
            if minute == NOON:
                for n, record in enumerate(self.bad, start=self.noon()):
                    if n >= first:
                        yield minute, n, n + 1, record
            end = minute + step  # the chunk stops before the bad records at noon, or at the next minute's events
            a, b = max(self.start(minute), first), int(self._before[end]) + (len(self.bad) if end > NOON else 0)
            if a < b:
                yield minute, a, b, self.runs(a, b)


def _key_day(feed: str, spec: RunSpec, day: date, district: str, stamps: tuple[str, ...]) -> _KeyDay | None:
    f = FEEDS[feed]
    series, source = reported_series(feed, spec.scenario, spec.seed, day, district)
    texts: list[str] = []
    minutes: list[np.ndarray] = []
    measures: dict[str, list[np.ndarray]] = {m: [] for m in f.measures}
    measure_columns = [c for c in f.columns if c.name in f.measures]
    for s in series:
        active = active_minutes(feed, s)
        if not active.size:
            continue
        times = itemgetter(*active.tolist())(stamps) if active.size > 1 else (stamps[int(active[0])],)
        columns: list = [event_ids(spec.scenario, spec.seed, feed, s.unit, times), times]
        for c in measure_columns:
            values = s.values[c.name][active]
            measures[c.name].append(values)
            columns.append(yuan_texts(values) if c.kind == DECIMAL else values.tolist())
        texts += map(_template(f, s, district, source).__mod__, zip(*columns, strict=True))
        minutes.append(active)
    if not texts:
        return None
    minute = np.concatenate(minutes)
    order = np.argsort(minute, kind="stable")  # event time, ties in unit order (as the dict path sorts)
    texts = list(itemgetter(*order.tolist())(texts)) if len(texts) > 1 else texts
    data = ",".join(texts).encode()
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    if len(data) != int(lengths.sum()) + len(texts) - 1:  # not ASCII: lengths in bytes
        lengths = np.fromiter((len(t.encode()) for t in texts), np.int64, len(texts))
    return _KeyDay(
        feed,
        district,
        data,
        np.cumsum(lengths + 1),
        minute[order],
        {m: np.concatenate(v)[order] for m, v in measures.items()},
        np.empty(0, np.int64),
    )


def _template(f: Feed, s: Series, district: str, source: str) -> str:
    """One unit's event as a %-template of its id, time and measures (in the feed's column order)."""
    fields = []
    for c in f.columns:
        if c.name in ("event_id", "event_time") or (c.name in f.measures and c.kind == DECIMAL):
            value = '"%s"'  # ids are hex, stamps ISO and money digits: nothing to escape
        elif c.name in f.measures:
            value = "%d"
        elif c.name == "district":
            value = _literal(district)
        elif c.name == "source":
            value = _literal(source)
        else:
            value = _literal(s.attrs.get(c.name, s.unit))
        fields.append(f"{_literal(c.name)}:{value}")
    return "{" + ",".join(fields) + "}"


def _literal(text: str) -> str:
    """``text`` as orjson writes it, safe inside a %-template."""
    return orjson.dumps(text).decode().replace("%", "%%")
