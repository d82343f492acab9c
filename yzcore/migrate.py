"""Apply sql/NNN_*.sql in order, once each, recorded with checksums in schema_migrations.

Afterwards the reference dimensions and the seeded targets are synced from schemas/reference/.
Run with `yzmon db migrate`; `yzmon up` runs it once (``python -m yzcore.migrate``) before the worker
starts, and compose's one-shot ``migrate`` service does it in production. The worker only checks that
the store is current (:func:`require_current`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas import calendar, reference
from yzcore.cluster import Cluster

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


def _applied(client: Client) -> dict[int, str]:
    return {
        int(r[0]): r[1]
        for r in client.query(
            "SELECT version, argMax(checksum, applied_at) FROM schema_migrations GROUP BY version"
        ).result_rows
    }


def require_current(client: Client, sql_dir: Path = SQL_DIR) -> None:
    """Raise :class:`MigrationError` with what to do unless every migration file has been applied."""
    exists = client.query("EXISTS TABLE schema_migrations").result_rows[0][0]
    applied = _applied(client) if exists else {}
    missing = [m.name for m in discover(sql_dir) if m.version not in applied]
    if missing:
        raise MigrationError(
            f"the store is not migrated ({len(missing)} pending, first {missing[0]}): run `yzmon db migrate`"
        )


def cluster_plan(client: Client, sql_dir: Path = SQL_DIR, cluster: str | None = None) -> Cluster | None:
    """The renderer for ``cluster`` (default: the setting ``YZMON_CLICKHOUSE_CLUSTER``), or None for one server."""
    if cluster is None:
        from yzcore.settings import get_settings

        cluster = get_settings().clickhouse_cluster
    if not cluster:
        return None
    schema = [LEDGER, *(s for m in discover(sql_dir) for s in m.statements())]
    return Cluster.for_schema(cluster, str(client.command("SELECT currentDatabase()")), schema)


def _render(plan: Cluster | None, statements: list[str]) -> list[str]:
    return statements if plan is None else [out for s in statements for out in plan.render(s)]


def migrate(client: Client, sql_dir: Path = SQL_DIR, cluster: str | None = None) -> list[str]:
    """Apply pending migrations; return the names applied. Refuses if an applied file was edited.

    On a cluster (``cluster`` or the setting) each statement runs as yzcore.cluster renders it.
    """
    plan = cluster_plan(client, sql_dir, cluster)
    for statement in _render(plan, [LEDGER]):
        client.command(statement)
    applied = _applied(client)
    done = []
    for m in discover(sql_dir):
        if m.version in applied:
            if applied[m.version] != m.checksum:
                raise MigrationError(f"{m.name} was changed after it was applied; add a new migration instead")
            continue
        for statement in _render(plan, m.statements()):
            client.command(statement)
        client.insert(
            "schema_migrations", [(m.version, m.name, m.checksum)], column_names=["version", "name", "checksum"]
        )
        done.append(m.name)
    if plan is not None:  # every node has the ledger before a worker checks it there
        client.command(f"SYSTEM SYNC REPLICA {plan.on_cluster} schema_migrations")
    sync_reference(client, plan)
    return done


def replace_table(
    client: Client, table: str, rows: list[tuple], column_names: list[str], cluster: Cluster | None = None
) -> None:
    """Replace a reference table's rows in one step: fill a twin, then swap the two (EXCHANGE TABLES).

    Readers joining the table see the old rows or the new ones, never an empty table.
    """
    twin = f"{table}__next"
    before, after = (
        cluster.swap(table, twin)
        if cluster
        else (
            [f"DROP TABLE IF EXISTS {twin} SYNC", f"CREATE TABLE {twin} AS {table}"],
            [f"EXCHANGE TABLES {twin} AND {table}", f"DROP TABLE {twin} SYNC"],
        )
    )
    for statement in before:
        client.command(statement)
    if rows:
        client.insert(twin, rows, column_names=column_names)
    for statement in after:
        client.command(statement)


def sync_reference(client: Client, cluster: Cluster | None = None) -> None:
    """Load the reference lists and the seeded targets (targets only where none exist yet)."""
    districts = reference.districts().values()
    replace_table(
        client,
        "dim_district",
        [(d.id, d.name_zh, d.area, d.area_zh, d.kind) for d in districts],
        ["district", "name_zh", "area", "area_zh", "kind"],
        cluster,
    )
    replace_table(client, "dim_sector", list(reference.sectors().items()), ["sector", "name_zh"], cluster)
    replace_table(client, "dim_origin", list(reference.origins().items()), ["origin", "name_zh"], cluster)
    existing = {(int(r[0]), r[1], r[2]) for r in client.query("SELECT year, scope, metric FROM targets").result_rows}
    new = [
        (t.year, t.scope, t.metric, t.value, t.unit, t.source, 1)
        for t in reference.seeded_targets()
        if (t.year, t.scope, t.metric) not in existing
    ]
    if new:
        client.insert("targets", new, column_names=["year", "scope", "metric", "value", "unit", "source", "version"])
    replace_table(client, "dim_calendar", calendar_rows(calendar_years()), CALENDAR_COLUMNS, cluster)
    sync_official(client, cluster)


def sync_official(client: Client, cluster: Cluster | None = None) -> None:
    """What each feed source covers (dim_source) and the seeded official releases not yet in the store."""
    from yzcore import official

    replace_table(
        client,
        "dim_source",
        [(s["source"], s["feed"], s["kind"], s["sectors"], s["channels"], s["note"]) for s in reference.sources()],
        ["source", "feed", "kind", "sectors", "channels", "note"],
        cluster,
    )
    have = {
        tuple(r)
        for r in client.query(
            "SELECT DISTINCT metric, scope, year, end_month, sector, basis FROM official_releases"
        ).result_rows
    }
    have = {(m, sc, int(y), int(e), se, b) for m, sc, y, e, se, b in have}
    errors = reference.nowcast_errors()
    replace_table(
        client,
        "dim_nowcast_error",
        [(e["kind"], e["method"], e["horizon"], e["rel_error"], e["source"]) for e in errors],
        ["kind", "method", "horizon", "rel_error", "source"],
        cluster,
    )
    missing = [r for r in official.seeded() if r.key not in have]
    if missing:
        official.import_releases(client, missing)


CALENDAR_COLUMNS = [
    "day",
    "year",
    "month",
    "weekday",
    "is_weekend",
    "holiday",
    "holiday_zh",
    "holiday_day",
    "holiday_year",
    "holiday_len",
    "is_workday",
    "is_makeup_workday",
    "day_kind",
    "event",
    "model_sales_share",
    "model_visits_share",
]


def calendar_years() -> range:
    """The years of the official calendar (schemas/reference/holiday_notices.json)."""
    return calendar.covered_years()


def calendar_rows(years: range) -> list[tuple]:
    """Every day of ``years`` from the official calendar, with the reference seasonal curve."""
    from yzcore.pace import expected_share

    rows = []
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            info = calendar.day_info(day)
            w = info.window
            event = "chuxi" if info.chuxi else "new_years_eve" if info.new_years_eve else ""
            rows.append(
                (
                    day,
                    year,
                    day.month,
                    day.isoweekday(),
                    int(day.weekday() >= 5),
                    w.holiday if w else "",
                    w.name_zh if w else "",
                    info.holiday_day,
                    w.year if w else 0,
                    w.length if w else 0,
                    int(info.workday),
                    int(info.makeup_workday),
                    info.kind,
                    event,
                    expected_share(day, "sales"),
                    expected_share(day, "footfall"),
                )
            )
            day += timedelta(days=1)
    return rows


def main() -> None:
    """``python -m yzcore.migrate``: migrate the configured store once (what `yzmon up` runs first)."""
    import sys

    from yzcore.settings import get_settings
    from yzcore.store import StoreError, connect

    try:
        applied = migrate(connect(get_settings().store_dsn))
    except (MigrationError, StoreError) as exc:
        sys.exit(f"migration failed: {exc}")
    print(f"applied {', '.join(applied)}" if applied else "schema up to date; reference data synced")


if __name__ == "__main__":
    main()
