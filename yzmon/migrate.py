"""Apply sql/NNN_*.sql in order, once each, recorded with checksums in schema_migrations.

Afterwards the reference dimensions and the seeded targets are synced from schemas/reference/.
Run with `yzmon db migrate` (the embedded worker also runs it when it starts).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas import reference

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at) ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in body.split(";") if s.strip()]


class MigrationError(RuntimeError):
    pass


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The migration files, checked to be numbered 001, 002, ... without gaps."""
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_description.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    for expected, m in enumerate(found, start=1):
        if m.version != expected:
            raise MigrationError(f"{m.name}: expected migration number {expected:03d}; numbers must be contiguous")
    return found


def migrate(client: Client, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations; return the names applied. Refuses if an applied file was edited."""
    client.command(LEDGER)
    applied = {
        int(r[0]): r[1]
        for r in client.query(
            "SELECT version, argMax(checksum, applied_at) FROM schema_migrations GROUP BY version"
        ).result_rows
    }
    done = []
    for m in discover(sql_dir):
        if m.version in applied:
            if applied[m.version] != m.checksum:
                raise MigrationError(f"{m.name} was changed after it was applied; add a new migration instead")
            continue
        for statement in m.statements():
            client.command(statement)
        client.insert(
            "schema_migrations", [(m.version, m.name, m.checksum)], column_names=["version", "name", "checksum"]
        )
        done.append(m.name)
    sync_reference(client)
    return done


def sync_reference(client: Client) -> None:
    """Load the reference lists and the seeded targets (targets only where none exist yet)."""
    districts = reference.districts().values()
    client.command("TRUNCATE TABLE dim_district")
    client.insert(
        "dim_district",
        [(d.id, d.name_zh, d.area, d.area_zh, d.kind) for d in districts],
        column_names=["district", "name_zh", "area", "area_zh", "kind"],
    )
    client.command("TRUNCATE TABLE dim_sector")
    client.insert("dim_sector", list(reference.sectors().items()), column_names=["sector", "name_zh"])
    client.command("TRUNCATE TABLE dim_origin")
    client.insert("dim_origin", list(reference.origins().items()), column_names=["origin", "name_zh"])
    existing = {(int(r[0]), r[1], r[2]) for r in client.query("SELECT year, scope, metric FROM targets").result_rows}
    new = [
        (t.year, t.scope, t.metric, t.value, t.unit, t.source, 1)
        for t in reference.seeded_targets()
        if (t.year, t.scope, t.metric) not in existing
    ]
    if new:
        client.insert("targets", new, column_names=["year", "scope", "metric", "value", "unit", "source", "version"])
    client.command("TRUNCATE TABLE dim_calendar")
    client.insert("dim_calendar", calendar_rows(CALENDAR_YEARS), column_names=CALENDAR_COLUMNS)


CALENDAR_YEARS = range(2022, 2029)
CALENDAR_COLUMNS = [
    "day",
    "year",
    "month",
    "weekday",
    "is_weekend",
    "holiday",
    "holiday_zh",
    "holiday_day",
    "model_sales_share",
    "model_visits_share",
]
HOLIDAY_ZH = {"spring_festival": "春节", "labour_day": "五一", "national_day": "国庆", "new_years_eve": "跨年夜"}


def calendar_rows(years: range) -> list[tuple]:
    """Every day of ``years``: weekday, holiday and its day number, and the model's cumulative shares."""
    from simulators.model import holiday_day_index
    from yzmon.pace import expected_share

    rows = []
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            holiday = holiday_day_index(day)
            name, n = holiday if holiday else ("", 0)
            rows.append(
                (
                    day,
                    year,
                    day.month,
                    day.isoweekday(),
                    int(day.weekday() >= 5),
                    name,
                    HOLIDAY_ZH.get(name, ""),
                    n,
                    expected_share(day, "sales"),
                    expected_share(day, "footfall"),
                )
            )
            day += timedelta(days=1)
    return rows
