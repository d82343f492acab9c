"""Apply sql/NNN_*.sql in order, once each, recorded with checksums in schema_migrations.

A migration's checksum covers its statements as sqlparse reads them, without comments and with
whitespace collapsed outside literals: a comment can be mended, a statement cannot (add a new
migration). Stores migrated when the checksum covered the whole file are recognised (the file's
hash, or one of ``MENDED``: files whose comments were mended since) and their ledger rows moved to
statement checksums. ``store_releases`` records each release of yzmon that migrated the store.

Afterwards the reference dimensions and the seeded targets are synced from schemas/reference/.
Run with `yzmon db migrate`; `yzmon up` runs it once (``python -m yzcore.migrate``) before the worker
starts, and compose's one-shot ``migrate`` service does it in production. The worker only checks that
the store is current (:func:`require_current`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import sqlparse
from clickhouse_connect.driver.client import Client

from schemas import calendar, reference
from yzcore.cluster import Cluster
from yzcore.settings import Settings
from yzcore.store import StoreError, connect
from yzcore.targets import seed_targets

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

RELEASES = """
CREATE TABLE IF NOT EXISTS store_releases
(
    release     String,
    migrated_at DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3)
)
ENGINE = MergeTree ORDER BY migrated_at
"""

STATEMENTS = "stmt:"  # the prefix of a statement checksum (a whole-file checksum has none)

# Whole-file checksums of applied migrations whose comments were mended since (the statements are unchanged).
MENDED = {
    1: {"354da2c045b5eeb7ebc69f7c9d40c66e3e02be5e004854b6071864e5c2d15655"},
    3: {"fd511f43d7ca955ebc671225ab402121aed0f23de9dd26be710c95d16399cb0d"},
    4: {"190df7f810aca3f0f87ea1a7e728d2703dcefc0318938fa81c87390820518a70"},
}


def release() -> str:
    """This release of yzmon (the installed package's version)."""
    try:
        return version("yzmon")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """Over the statements, comments stripped and whitespace collapsed outside literals."""
        return _statements_checksum(self.sql)

    @property
    def file_checksum(self) -> str:
        """The whole file's hash: what stores migrated by earlier releases recorded."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        return list(_statements(self.sql))

    def matches(self, recorded: str) -> bool:
        """Whether ``recorded`` (a ledger checksum) is this migration's, as any release recorded it."""
        if recorded.startswith(STATEMENTS):
            return recorded == self.checksum
        return recorded == self.file_checksum or recorded in MENDED.get(self.version, ())


@functools.cache
def _statements(sql: str) -> tuple[str, ...]:
    """A migration's statements without comments. Parsing is the costly part of a migration run (sqlparse, about
    a second for every file together), and a file's text decides its result, so each text is parsed once."""
    body = sqlparse.format(sql, strip_comments=True)
    return tuple(s.strip().rstrip(";").strip() for s in sqlparse.split(body) if s.strip().rstrip(";").strip())


@functools.cache
def _statements_checksum(sql: str) -> str:
    text = ";\n".join(sqlparse.format(s, strip_whitespace=True) for s in _statements(sql))
    return STATEMENTS + hashlib.sha256(text.encode()).hexdigest()


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
    return {version: checksum for version, (checksum, _) in applied_at(client).items()}


def applied_at(client: Client) -> dict[int, tuple[str, object]]:
    """Per applied version: its recorded checksum and when it was applied."""
    return {
        int(r[0]): (r[1], r[2])
        for r in client.query(
            "SELECT version, argMax(checksum, applied_at), min(applied_at) FROM schema_migrations GROUP BY version"
        ).result_rows
    }


def store_release(client: Client) -> str | None:
    """The release that last migrated the store (None before any recorded one)."""
    exists = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'store_releases'"
    found = client.query(exists).result_rows  # (EXISTS is no query the read path serves)
    if not found or not found[0][0]:
        return None
    got = client.query("SELECT argMax(release, migrated_at) FROM store_releases HAVING count() > 0").result_rows
    return str(got[0][0]) if got else None


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
    """The renderer for ``cluster`` (the setting ``YZMON_CLICKHOUSE_CLUSTER``), or None for one server."""
    if not cluster:
        return None
    schema = [LEDGER, RELEASES, *(s for m in discover(sql_dir) for s in m.statements())]
    return Cluster.for_schema(cluster, str(client.command("SELECT currentDatabase()")), schema)


def _render(plan: Cluster | None, statements: list[str]) -> list[str]:
    return statements if plan is None else [out for s in statements for out in plan.render(s)]


def migrate(client: Client, sql_dir: Path = SQL_DIR, cluster: str | None = None) -> list[str]:
    """Apply pending migrations; return the names applied. Refuses if an applied file was edited.

    On a cluster (``cluster``, from the setting: :func:`migrate_configured`) each statement runs as
    yzcore.cluster renders it.
    """
    plan = cluster_plan(client, sql_dir, cluster)
    for statement in _render(plan, [LEDGER, RELEASES]):
        client.command(statement)
    applied = _applied(client)
    done = []
    for m in discover(sql_dir):
        if m.version in applied:
            if not m.matches(applied[m.version]):
                raise MigrationError(
                    f"{m.name}: its statements were changed after it was applied; add a new migration instead"
                )
            if applied[m.version] != m.checksum:  # recorded by an earlier release over the whole file
                client.insert(
                    "schema_migrations", [(m.version, m.name, m.checksum)], column_names=["version", "name", "checksum"]
                )
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
    if store_release(client) != release():
        client.insert("store_releases", [(release(),)], column_names=["release"])
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
    capacities = reference.capacities()  # checked: one per 商圈
    rows = []
    for d in reference.districts().values():
        c = capacities[d.id]
        bands = (c.capacity, c.warning, c.critical, c.warning_share, c.critical_share, c.basis, c.source)
        rows.append((d.id, d.name_zh, d.area, d.area_zh, d.kind, *bands))
    replace_table(
        client,
        "dim_district",
        rows,
        ["district", "name_zh", "area", "area_zh", "kind", *CAPACITY_COLUMNS],
        cluster,
    )
    replace_table(client, "dim_sector", list(reference.sectors().items()), ["sector", "name_zh"], cluster)
    replace_table(client, "dim_origin", list(reference.origins().items()), ["origin", "name_zh"], cluster)
    seed_targets(client, reference.seeded_targets())
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


CAPACITY_COLUMNS = [
    "capacity",
    "warning",
    "critical",
    "warning_share",
    "critical_share",
    "capacity_basis",
    "capacity_source",
]

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


def migrate_configured(settings: Settings) -> list[str]:
    """Migrate the store the settings name, for the cluster they name (`yzmon db migrate`, ``python -m
    yzcore.migrate``)."""
    return migrate(connect(settings.store_dsn), cluster=settings.clickhouse_cluster)


def main() -> None:
    """``python -m yzcore.migrate``: migrate the configured store once (what `yzmon up` runs first)."""
    import sys

    from yzcore.settings import get_settings

    try:
        applied = migrate_configured(get_settings())
    except (MigrationError, StoreError) as exc:
        sys.exit(f"migration failed: {exc}")
    print(f"applied {', '.join(applied)}" if applied else "schema up to date; reference data synced")


if __name__ == "__main__":
    main()
