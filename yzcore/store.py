"""ClickHouse access, one code path for both DSNs: chdb:///path (in-process) and http(s)://.

In the embedded stack the worker process owns the chDB directory (chDB allows one process per
directory) and serves read-only queries on its web port; `query_client` routes there when the
store is locked by a running worker.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlparse

import clickhouse_connect
import httpx
from clickhouse_connect.driver.client import Client

from yzcore.settings import Settings

READONLY = {"readonly": 1}


class StoreError(RuntimeError):
    """A store that cannot be reached or opened, with what to do about it."""


def connect(dsn: str, readonly: bool = False) -> Client:
    """A clickhouse-connect client for a chdb:// or http(s):// DSN; ``readonly`` refuses writes and DDL.

    Settings belong to the client's session (with chDB, to its connection handle), so a read-only
    client is always a separate client.
    """
    parsed = urlparse(dsn)
    settings = READONLY if readonly else None
    try:
        if parsed.scheme == "chdb":
            query = dict(parse_qsl(parsed.query))
            return clickhouse_connect.get_client(
                dsn=f"chdb://{parsed.path}", database=query.get("database"), settings=settings
            )
        query = dict(parse_qsl(parsed.query))
        return clickhouse_connect.get_client(
            host=parsed.hostname or "localhost",
            port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
            username=parsed.username or "default",
            password=parsed.password or "",
            database=parsed.path.lstrip("/") or "default",
            secure=parsed.scheme == "https",
            settings=settings,
            **query,
        )
    except Exception as exc:
        text = str(exc)
        if "Cannot lock file" in text or "lock" in text.lower():
            raise StoreError(
                f"the store {parsed.path} is in use by another process (a running worker?): "
                "query it through `yzmon sql`, or stop the stack with `yzmon down`"
            ) from exc
        raise StoreError(f"cannot open ClickHouse at {_redact(dsn)}: {text.splitlines()[0][:300]}") from exc


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


class GatewayReader:
    """Queries through the embedded worker's /sql endpoint (it owns the chDB store)."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        self.base_url = base_url
        self.timeout = timeout

    def raw(self, sql: str, parameters: dict[str, Any] | None = None, fmt: str = "JSON") -> bytes:
        body = {"sql": sql, "parameters": parameters or {}, "format": fmt}
        try:
            resp = httpx.post(
                f"{self.base_url}/sql",
                content=json.dumps(body, default=str),
                headers={"content-type": "application/json"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise StoreError(
                f"the worker at {self.base_url} did not answer ({exc}); is the stack up? `yzmon status`"
            ) from exc
        if resp.status_code != 200:
            raise StoreError(resp.text.strip()[:2000])
        return resp.content


def rows(reader: Reader, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Result rows as dicts; decimals stay Decimal."""
    data = json.loads(reader.raw(sql, parameters, "JSON"), parse_float=Decimal)
    return data["data"]


def worker_alive(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.worker_url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def query_reader(settings: Settings) -> Reader:
    """The reader analysts get: the worker gateway when it owns the embedded store, else a direct client."""
    if settings.embedded_store and settings.reader_dsn is None and worker_alive(settings):
        return GatewayReader(settings.worker_url)
    return DirectReader(connect(settings.query_dsn, readonly=True))
