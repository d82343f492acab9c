"""Official releases (官方) as reference data: published figures with their source, date and basis (口径).

A release is a cumulative period of a year (1—3月, 1—6月, 1—9月, 全年) of one metric and scope, for the
total or one sector: a level, a growth rate, or both. Levels convert exactly (Decimal) to base units
(亿元 → 元, 万人次 → 人次). Imports are versioned like targets (`yzcore.versioned`): a changed value is
refused without ``replace``. The key includes the basis, so a release on a new basis is a new series and
two levels are compared only within one basis (:func:`comparable_growth`): a change of basis is never
read as growth. This module is the only writer of ``official_releases``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas import SCHEMA_DIR, reference
from yzcore.versioned import UNIT_FACTORS, ImportResult, plan_versions, read_rows

METRIC_UNITS = {"retail_sales": "元", "tourist_spend": "元", "visits": "人次", "tourists": "人次"}
PERIODS = {"1—3月": 3, "1-3月": 3, "一季度": 3, "1—6月": 6, "1-6月": 6, "上半年": 6, "1—9月": 9, "1-9月": 9,
           "前三季度": 9, "全年": 12, "1—12月": 12, "1-12月": 12}  # fmt: skip
PERIOD_ZH = {3: "1—3月", 6: "1—6月", 9: "1—9月", 12: "全年"}
FIELDS = ("metric", "scope", "year", "period", "sector", "basis", "level", "growth_pct", "unit", "published", "source")
REQUIRED = ("metric", "scope", "year", "period", "basis", "unit", "published", "source")
COLUMNS = [*(f for f in FIELDS if f != "period"), "end_month", "version"]


class OfficialFileError(ValueError):
    """Every problem of an official-release file, one per line, with line numbers."""


@dataclass(frozen=True)
class Release:
    metric: str
    scope: str
    year: int
    end_month: int  # 3, 6, 9 or 12: cumulative from January
    sector: str  # "" for the total
    basis: str
    level: Decimal | None  # base units
    growth_pct: Decimal | None
    unit: str  # base unit
    published: date
    source: str

    @property
    def key(self) -> tuple:
        return (self.metric, self.scope, self.year, self.end_month, self.sector, self.basis)

    @property
    def value(self) -> tuple:
        return (self.level, self.growth_pct, self.published)

    def row(self) -> tuple:
        return (self.metric, self.scope, self.year, self.sector, self.basis, self.level, self.growth_pct,
                self.unit, self.published, self.source, self.end_month)  # fmt: skip


def _decimal(raw: object, name: str) -> Decimal | None:
    text = str(raw if raw is not None else "").replace(",", "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} {raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {raw!r} must be finite")
    return value


def parse_row(r: object) -> Release:
    """One release from a mapping of FIELDS; ValueError says what is wrong."""
    if not isinstance(r, dict):
        raise ValueError("each release is a mapping with " + ", ".join(FIELDS))
    missing = [f for f in REQUIRED if str(r.get(f) or "").strip() == ""]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    metric, scope, unit = (str(r[k]).strip() for k in ("metric", "scope", "unit"))
    if metric not in METRIC_UNITS:
        raise ValueError(f"metric {metric!r} is not one of {', '.join(METRIC_UNITS)}")
    scopes = {"district"} | set(reference.districts()) | {x.area for x in reference.districts().values()}
    if scope not in scopes:
        raise ValueError(f"scope {scope!r} is not district or a known 商圈/片区")
    try:
        year = int(str(r["year"]))
    except ValueError:
        raise ValueError(f"year {r['year']!r} is not a year") from None
    period = str(r["period"]).strip()
    end_month = PERIODS.get(period) or (int(period) if period in ("3", "6", "9", "12") else None)
    if end_month is None:
        raise ValueError(f"period {period!r} is not one of 1—3月, 1—6月, 1—9月, 全年 (or 3, 6, 9, 12)")
    sector = str(r.get("sector") or "").strip()
    if sector and sector not in reference.sectors():
        raise ValueError(f"sector {sector!r} is not one of {', '.join(reference.sectors())} (or empty for the total)")
    if unit not in UNIT_FACTORS or not unit.endswith(METRIC_UNITS[metric]):
        raise ValueError(f"unit {unit!r} does not fit {metric} (base unit {METRIC_UNITS[metric]})")
    level, growth = _decimal(r.get("level"), "level"), _decimal(r.get("growth_pct"), "growth_pct")
    if level is None and growth is None:
        raise ValueError("give a level, a growth_pct or both")
    if level is not None and level < 0:
        raise ValueError(f"level {r['level']!r} must be ≥ 0")
    try:
        published = date.fromisoformat(str(r["published"]).strip())
    except ValueError:
        raise ValueError(f"published {r['published']!r} is not a date (YYYY-MM-DD)") from None
    if published.year < year:
        raise ValueError(f"published {published} is before the year {year} it reports")
    level = None if level is None else (level * UNIT_FACTORS[unit]).quantize(Decimal("0.01"))
    return Release(metric, scope, year, end_month, sector, str(r["basis"]).strip(), level, growth,
                   METRIC_UNITS[metric], published, str(r["source"]).strip())  # fmt: skip


def parse(path: Path) -> list[Release]:
    """Read and validate a CSV or YAML file of releases (YAML: a list under ``releases:``)."""
    return read_rows(path, "releases", parse_row, OfficialFileError)


def seeded() -> list[Release]:
    """The published figures of the seed documents (schemas/reference/official.json)."""
    raw = json.loads((SCHEMA_DIR / "reference" / "official.json").read_text(encoding="utf-8"))
    return [parse_row(r) for r in raw["releases"]]


def import_releases(client: Client, releases: list[Release], replace: bool = False) -> ImportResult:
    """Write new releases (version 1) or, with ``replace``, new versions of changed ones."""
    current = {
        tuple(r[:6]): ((r[6], r[7], r[8]), int(r[9]))
        for r in client.query(
            "SELECT metric, scope, year, end_month, sector, basis, level, growth_pct, published, latest_version "
            "FROM v_official"
        ).result_rows
    }
    current = {(k[0], k[1], int(k[2]), int(k[3]), k[4], k[5]): v for k, v in current.items()}
    out, result = plan_versions(current, [(r.key, r.value, r.row()) for r in releases], replace, OfficialFileError)
    if out:
        client.insert("official_releases", out, column_names=COLUMNS)
        written = {(row[0], row[1], row[2], row[10], row[3], row[4]) for row in out}  # the key of each row
        reconcile(client, [r for r in releases if r.key in written])
    return result


def reconcile(client: Client, releases: list[Release]) -> None:
    """Record each district 社零 total release beside the nowcast of its period that stood before it: the library
    query nowcast as of the period's last day (releases published by then, the sample the store holds now)."""
    from datetime import timedelta

    from yzcore.queries import get

    query = get("nowcast").sql
    out = []
    for r in releases:
        if (r.metric, r.scope, r.sector) != ("retail_sales", "district", "") or r.level is None:
            continue
        last_day = date(r.year + (r.end_month == 12), r.end_month % 12 + 1, 1) - timedelta(days=1)
        as_of = min(last_day, r.published - timedelta(days=1))  # the release itself is not yet known
        result = client.query(query, parameters={"as_of": as_of})
        found = [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
        row = next((x for x in found if int(x["end_month"]) == r.end_month and int(x["year"]) == r.year), None)
        if row is None or row["estimate"] is None or row["basis"] != r.basis:  # levels compare on one basis only
            continue
        nowcast = float(row["estimate"])
        error = 100 * (nowcast / float(r.level) - 1)
        out.append((r.year, r.end_month, r.basis, r.published, r.level, nowcast, row["low"], row["high"], row["method"],
                    error))  # fmt: skip
    if out:
        client.insert(
            "nowcast_reconciliation",
            out,
            column_names=["year", "end_month", "basis", "published", "official", "nowcast", "low", "high", "method",
                          "error_pct"],
        )  # fmt: skip


def comparable_growth(earlier: Release, later: Release) -> Decimal | None:
    """Growth (%) from ``earlier`` to ``later`` by their levels, only on one basis: the later release's own
    published growth when the basis changed (or None when it published none). Never a basis change as growth."""
    if later.basis != earlier.basis:
        return later.growth_pct
    if earlier.level is None or later.level is None or earlier.level == 0:
        return later.growth_pct
    return (later.level / earlier.level - 1) * 100


def releases(client: Client, metric: str = "retail_sales", scope: str = "district") -> list[Release]:
    """The current version of every release of ``metric`` and ``scope``, oldest period first."""
    out = []
    for r in client.query(
        "SELECT metric, scope, year, end_month, sector, basis, level, growth_pct, unit, published, source "
        "FROM v_official WHERE metric = {m:String} AND scope = {s:String} ORDER BY year, end_month, sector, published",
        parameters={"m": metric, "s": scope},
    ).result_rows:
        published = r[9] if isinstance(r[9], date) else date.fromisoformat(str(r[9]))
        out.append(Release(r[0], r[1], int(r[2]), int(r[3]), r[4], r[5], r[6], r[7], r[8], published, r[10]))
    return out
