"""`yzmon db backup`, `yzmon db restore` and `yzmon db status`: the store's backups, and its migrations
and release."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from schemas.zone import ZONE
from yzcore.backup import BackupError, backup, restore
from yzcore.settings import get_settings
from yzcore.store import StoreError, connect, worker_alive
from yzmon.stackinfo import running_stack

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def _default_name() -> str:
    return f"yzmon-{datetime.now(ZONE):%Y%m%d-%H%M%S}"


def db_backup(
    to: Path | None = typer.Option(
        None,
        "--to",
        help="A new directory (embedded store; default DATA_DIR/backups/yzmon-TIME), or a name on "
        "the server's 'backups' disk.",
    ),
) -> None:
    """Back up the whole store online: every table and view, consistent across tables (the worker pauses
    landing while it copies); events keep arriving in Kafka meanwhile."""
    settings = get_settings()
    embedded = settings.embedded_store
    if embedded:
        where = (to or settings.data_dir / "backups" / _default_name()).resolve()
        if where.exists():
            _fail(f"{where} exists already: give a new directory with --to")
        where.parent.mkdir(parents=True, exist_ok=True)
        target = str(where)
    else:
        target = str(to) if to else _default_name()
    started = time.monotonic()
    try:
        with err.status(f"backing up the store to {target} …"):
            if embedded and worker_alive(settings):  # the worker owns the store: it takes the backup
                resp = httpx.post(f"{settings.worker_url}/admin/backup", json={"to": target}, timeout=3600)
                body = resp.json()
                if resp.status_code != 200:
                    raise BackupError(body.get("error", resp.text))
            else:
                body = backup(connect(settings.store_dsn), target, embedded).as_dict()
    except (BackupError, StoreError, httpx.HTTPError) as exc:
        _fail(f"backup failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - the engine's message is what the operator needs
        _fail(f"backup failed: {str(exc).strip().splitlines()[0][:500]}")
    console.print(
        f"backup {body['status']}: {body['tables']} tables and views, {body['files']:,} files, "
        f"{body['bytes'] / 2**20:,.1f} MiB in {time.monotonic() - started:.1f} s → {target}\n"
        f"restore with: yzmon db restore {target}  (into a fresh YZMON_DATA_DIR, stack down)"
    )


def db_restore(
    source: str = typer.Argument(..., help="A backup directory (embedded store) or a backup name (server)."),
) -> None:
    """Restore a backup into an empty store (a fresh data dir, stack down), then migrate it to this release."""
    from yzcore.migrate import MigrationError, migrate

    settings = get_settings()
    embedded = settings.embedded_store
    if embedded:
        if running_stack(settings) is not None:
            _fail("a stack runs on this data dir: restore into a fresh one (YZMON_DATA_DIR), or `yzmon down` first")
        path = Path(source).resolve()
        if not (path / ".backup").exists():
            _fail(f"{path} is not a backup directory (no .backup file)")
        source = str(path)
    started = time.monotonic()
    try:
        with err.status(f"restoring {source} …"):
            client = connect(settings.store_dsn)
            status = restore(client, source, embedded)
            applied = migrate(client)
    except (BackupError, StoreError, MigrationError) as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the engine's message is what the operator needs
        _fail(f"restore failed: {str(exc).strip().splitlines()[0][:500]}")
    console.print(
        f"restore {status} in {time.monotonic() - started:.1f} s"
        + (f"; migrated: {', '.join(applied)}" if applied else "; schema up to date")
    )
    from yzcore.store import DirectReader
    from yzmon.status import landed

    t = Table(title="rows restored", show_header=False)
    for feed, n in landed(DirectReader(client)).items():
        t.add_row(feed, f"{n:,}")
    console.print(t)


def db_status() -> None:
    """Applied and pending migrations, and the store's release beside this one."""
    from yzcore.migrate import MigrationError, applied_at, discover, release, store_release
    from yzcore.store import query_reader

    settings = get_settings()
    try:
        if settings.embedded_store and running_stack(settings) is None:
            client = connect(settings.store_dsn, readonly=True, settings=settings)
        else:
            client = query_reader(settings).client  # type: ignore[attr-defined]
        exists = client.query(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'"
        ).result_rows[0][0]
        applied = applied_at(client) if exists else {}
        store = store_release(client)
    except (StoreError, MigrationError) as exc:
        _fail(str(exc))
    t = Table(title=f"migrations · store {settings.query_dsn}")
    for col in ("version", "name", "state", "applied at"):
        t.add_column(col)
    pending = 0
    for m in discover():
        if m.version in applied:
            checksum, when = applied[m.version]
            state = "applied" if m.matches(checksum) else "[red]changed since applied[/]"
            t.add_row(f"{m.version:03d}", m.name, state, _when(when))
        else:
            pending += 1
            t.add_row(f"{m.version:03d}", m.name, "[yellow]pending[/]", "")
    unknown = sorted(v for v in applied if v > len(discover()))
    for v in unknown:
        t.add_row(f"{v:03d}", "?", "[red]applied by a newer release[/]", _when(applied[v][1]))
    console.print(t)
    console.print(
        f"store release: {store or 'unknown (before 0.2.0)'} · this release: {release()} · "
        + (f"{pending} pending: run `yzmon db migrate`" if pending else "schema up to date")
    )


def _when(value: object) -> str:
    """A ledger time with its zone (the store's times are Asia/Shanghai)."""
    if isinstance(value, datetime):
        return value.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"{value} Asia/Shanghai"
