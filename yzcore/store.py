"""ClickHouse access, one code path for both DSNs: chdb:///path (in-process) and http(s)://.

In the embedded stack the worker process owns the chDB directory (chDB allows one process per
directory) and serves ClickHouse's HTTP interface, read-only, on YZMON_SQL_PORT: while the stack
runs, every reader (`query_reader`) is an ordinary http:// clickhouse-connect client of it; with
the stack down, readers open the directory themselves. Either way reads run under the read path's
limits (`yzcore.readlimits`).
"""

from __future__ import annotations

import ipaddress
import json
import logging
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlparse

import clickhouse_connect
import httpx
from clickhouse_connect.driver.client import Client

from yzcore.readlimits import engine_settings
from yzcore.settings import Settings

READONLY = {"readonly": 1}


class _DriverNoise(logging.Filter):
    """clickhouse-connect logs a warning before raising OperationalError for an unreachable server (a
    worker restarting): the caller reports the error; the warning only fills the screen."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Unexpected Http Driver Exception")


logging.getLogger("clickhouse_connect.driver._backend.http_sync").addFilter(_DriverNoise())
# chDB's server configuration: BACKUP/RESTORE to File(...) anywhere (`yzmon db backup`, yzcore.backup; the
# read path refuses them whatever this allows); and at most as many merges at once as the merge pool has
# threads (chDB's pool has 2, and its default ratio of 2 ran 4 merges at once, 120 MB, at the year's peak)
CHDB_OPTIONS = {"backups.allowed_path": "/", "background_merges_mutations_concurrency_ratio": 1}


class StoreError(RuntimeError):
    """A store that cannot be reached or opened, with what to do about it."""


def connect(dsn: str, readonly: bool = False, settings: Settings | None = None) -> Client:
    """A clickhouse-connect client for a chdb:// or http(s):// DSN; ``readonly`` refuses writes and DDL.

    A read-only client runs under the read path's limits of ``settings`` (required with ``readonly``): set on
    the client for chDB and for a server user that is not read-only already; a read-only server user (such
    as the worker's HTTP interface) brings its own. Settings belong to the client's session (with chDB, to
    its connection handle), so a read-only client is always a separate client.
    """
    parsed = urlparse(dsn)
    if readonly and settings is None:
        raise TypeError("connect(readonly=True) runs under the read limits of the settings: pass settings=")
    limits = {**engine_settings(settings), "readonly": 1} if readonly and settings is not None else None
    try:
        query = dict(parse_qsl(parsed.query))
        if parsed.scheme == "chdb":
            return clickhouse_connect.get_client(
                dsn=f"chdb://{parsed.path}",
                database=query.get("database"),
                settings=limits,
                chdb_options=CHDB_OPTIONS,  # read when the process opens the engine (its first client)
            )
        client = clickhouse_connect.get_client(
            host=parsed.hostname or "localhost",
            port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
            username=unquote(parsed.username or "default"),
            password=unquote(parsed.password or ""),
            database=parsed.path.lstrip("/") or "default",
            secure=parsed.scheme == "https",
            **query,
        )
        current = client.server_settings.get("readonly")
        if limits and (current is None or current.value == "0"):
            for key, value in limits.items():
                client.set_client_setting(key, str(value))
        return client
    except Exception as exc:
        text = str(exc)
        if "Cannot lock file" in text or "lock" in text.lower():
            raise StoreError(
                f"the store {parsed.path} is in use by another process (a running worker?): "
                "query it through `yzmon sql`, or stop the stack with `yzmon down`"
            ) from exc
        raise StoreError(f"cannot open ClickHouse at {_redact(dsn)}: {text.splitlines()[0][:300]}") from exc


def open_engine(dsn: str) -> Client | None:
    """Open the embedded engine with its configuration (CHDB_OPTIONS) before anything else in this process
    opens it (the first connection's configuration holds for the process); None for a server."""
    return connect(dsn) if urlparse(dsn).scheme == "chdb" else None


def _redact(dsn: str) -> str:
    p = urlparse(dsn)
    return dsn.replace(f":{p.password}@", ":***@") if p.password else dsn


class Reader(Protocol):
    """Read-only queries, answered in any ClickHouse output format."""

    def raw(self, sql: str, parameters: dict[str, Any] | None = None, fmt: str = "JSON") -> bytes: ...


class DirectReader:
    """Queries through a read-only clickhouse-connect client."""

    def __init__(self, client: Client):
        self.client = client

    def raw(self, sql: str, parameters: dict[str, Any] | None = None, fmt: str = "JSON") -> bytes:
        return self.client.raw_query(sql, parameters=parameters, fmt=fmt)


def rows(reader: Reader, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Result rows as dicts; decimals stay Decimal."""
    data = json.loads(reader.raw(sql, parameters, "JSON"), parse_float=Decimal)
    return data["data"]


def worker_alive(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.worker_url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def interface_dsn(settings: Settings) -> str:
    """The http:// DSN of the worker's ClickHouse HTTP interface (the user a local command reads as)."""
    host = settings.sql_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    user = "default"
    if not _loopback(settings.sql_host):
        for name, secret in (("reader", settings.sql_reader_password), ("analyst", settings.sql_analyst_password)):
            if secret is not None and secret.get_secret_value():
                user = f"{name}:{quote(secret.get_secret_value(), safe='')}"
                break
    return f"http://{user}@{host}:{settings.sql_port}/default"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def interface_up(settings: Settings) -> bool:
    host = "127.0.0.1" if settings.sql_host in ("0.0.0.0", "::", "") else settings.sql_host
    try:
        return httpx.get(f"http://{host}:{settings.sql_port}/ping", timeout=1.0).text == "Ok.\n"
    except httpx.HTTPError:
        return False


def reader_dsn(settings: Settings) -> str:
    """Where reads go: YZMON_READER_DSN if set; else the worker's HTTP interface while it owns the
    embedded store; else the store itself."""
    if settings.reader_dsn:
        return settings.reader_dsn
    if settings.embedded_store and (interface_up(settings) or worker_alive(settings)):
        return interface_dsn(settings)
    return settings.store_dsn


def query_reader(settings: Settings) -> Reader:
    """The reader every command uses: one read path, under the read path's limits."""
    return DirectReader(connect(reader_dsn(settings), readonly=True, settings=settings))
