"""Footfall freshness per 商圈 for the operator's screens (`yzmon run`'s live view, `yzmon status`, the briefing).

One reading of the library query footfall_freshness: every 商圈 of the district table, its counters reporting out of
those known (the gates seen in the 7 days before), the age of its newest report and its last occupancy. Past the
feed's ``stale_after_s`` (schemas/feeds.py) the occupancy is never shown as current: the line says 数据中断 with the
last value and its time beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.zone import ZONE
from yzcore.queries import get
from yzcore.store import Reader, rows

__all__ = ["Freshness", "age_text", "describe", "footfall_freshness"]


@dataclass(frozen=True)
class Freshness:
    district: str
    name: str
    known: int  # counters seen in the 7 days before
    reporting: int  # counters with a report in the last stale_after_s
    last_report: datetime | None
    age_s: int | None
    occupancy: int | None  # the last value, current only when not stale
    occupancy_at: datetime | None
    stale: bool

    @property
    def counters(self) -> str:
        return f"计数点 {self.reporting}/{self.known}"


def footfall_freshness(reader: Reader, now: datetime) -> list[Freshness]:
    """Every 商圈 at ``now`` (time-zone-aware), reporting or not."""
    out = []
    for r in rows(reader, get("footfall_freshness").sql, {"now": now.replace(microsecond=0)}):
        out.append(
            Freshness(
                r["district"],
                r["name_zh"],
                int(r["counters_known"] or 0),
                int(r["counters_reporting"] or 0),
                _time(r["last_report"]),
                None if r["age_s"] is None else int(r["age_s"]),
                None if r["occupancy"] is None else int(r["occupancy"]),
                _time(r["occupancy_at"]),
                bool(r["stale"]),
            )
        )
    return out


def _time(value: object) -> datetime | None:
    """A local time as the store returns it (``2024-12-31 23:49:00``, Asia/Shanghai)."""
    return None if value is None else datetime.fromisoformat(str(value)).replace(tzinfo=ZONE)


def age_text(age_s: int | None) -> str:
    if age_s is None:
        return "从未上报"
    if age_s < 60:
        return "刚刚"
    for unit, name in ((86400, "天"), (3600, "小时"), (60, "分钟")):
        if age_s >= unit:
            return f"{age_s // unit} {name}前"
    return "刚刚"  # unreachable


def describe(f: Freshness) -> str:
    """One line: the current occupancy with its age, or 数据中断 with the last value and its time."""
    if f.stale:
        last = (
            "无最后值"
            if f.occupancy is None or f.occupancy_at is None
            else f"最后值 {f.occupancy:,} 人({f.occupancy_at:%m-%d %H:%M})"
        )
        return f"数据中断 · {last} · 最后上报 {age_text(f.age_s)} · {f.counters}"
    return f"在场 {f.occupancy or 0:,} 人 · 数据 {age_text(f.age_s)} · {f.counters}"
