"""Backups of the store: ClickHouse's own BACKUP and RESTORE of the whole database.

One ``BACKUP DATABASE`` copies every table (events, rollups, rejected events, the ingest ledger,
targets, calendar, the migration ledger) and view, each table as one consistent snapshot of its
parts. The worker takes it under its writer's lock (``streams.backup``), so no batch lands
half-way through it: the backup is consistent across tables, and a replay after a restore adds
nothing twice (event ids). The embedded store writes to a directory (``File(path)``, allowed by
chDB's ``backups.allowed_path``, ``yzcore.store.CHDB_OPTIONS``); a ClickHouse server writes to its
``backups`` disk (``Disk('backups', name)``, deploy/clickhouse/config.d/backups.xml).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.feeds import FEEDS

SERVER_DISK = "backups"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with what to do instead."""


@dataclass
class BackupResult:
    where: str
    status: str
    files: int
    bytes: int
    tables: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def destination(where: str, embedded: bool) -> str:
    """The BACKUP/RESTORE destination: a directory for the embedded store, a name on the server's disk."""
    if embedded:
        if not PurePosixPath(where).is_absolute():
            raise BackupError(f"{where}: give the backup directory as an absolute path")
        return f"File({_quote(where)})"
    if "/" in where.strip("/"):
        raise BackupError(f"{where}: on a ClickHouse server a backup is a name on its {SERVER_DISK!r} disk, not a path")
    return f"Disk({_quote(SERVER_DISK)}, {_quote(where.strip('/'))})"


def backup(client: Client, where: str, embedded: bool) -> BackupResult:
    """BACKUP the client's database to ``where``."""
    database = client.database or "default"
    result = client.query(f"BACKUP DATABASE {database} TO {destination(where, embedded)}").result_rows
    backup_id, status = result[0][0], result[0][1]
    files, size = client.query(
        "SELECT num_files, total_size FROM system.backups WHERE id = {id:String}", parameters={"id": backup_id}
    ).result_rows[0]
    tables = client.command(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND NOT is_temporary",
        parameters={"db": database},
    )
    return BackupResult(where, str(status), int(files), int(size), int(tables))


def restore(client: Client, where: str, embedded: bool) -> str:
    """RESTORE the client's database from ``where``; the store must hold no data yet."""
    database = client.database or "default"
    landing = [f.raw_table for f in FEEDS.values()] + ["ingest_batches", "rejected_events"]
    filled = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)} "
        "AND total_rows > 0 ORDER BY name",
        parameters={"db": database, "names": landing},
    ).result_rows
    if filled:
        raise BackupError(
            f"the store already holds data ({', '.join(r[0] for r in filled)} …): restore into a fresh one "
            "(another YZMON_DATA_DIR, or an empty database)"
        )
    for name, engine in client.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String} ORDER BY name", parameters={"db": database}
    ).result_rows:  # a store without events (migrated, reference data only) makes way for the backup's tables
        kind = "DICTIONARY" if engine == "Dictionary" else "TABLE"
        client.command(f"DROP {kind} IF EXISTS {database}.`{name}` SYNC")
    result = client.query(f"RESTORE DATABASE {database} FROM {destination(where, embedded)}").result_rows
    return str(result[0][1])
