"""Read sessions on the worker's chDB store, apart from the sink's writer.

chDB allows one engine per process but any number of connection handles to it, each a session of
its own (settings, current database). Every read gets a fresh handle and one ``SET``: the read
limits, the request's vetted settings (allow-listed names, typed literals: `readpath.urlsettings`),
introspection functions off, ``system.processes`` filtered to the reader's own queries, and
``readonly=1`` last, so the query can change nothing. The
statement is parsed by the engine (``formatQuery``, ``EXPLAIN AST``) and vetted before it runs.
Reads never take the sink's lock, so a long query does not hold back a batch, nor a batch a query;
chDB releases the GIL while it works. A running read is stopped with ``KILL QUERY`` (matched by a
per-request ``log_comment``) when its client goes away.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import chdb

from readpath.catalog import Catalog
from readpath.readguard import WHOLE, served_text, statement_kind, vet_statement
from readpath.refusal import Refused
from readpath.urlsettings import literal
from yzcore.readlimits import engine_settings
from yzcore.settings import Settings

# Formats whose per-block output concatenates into one valid stream (no global header/footer).
STREAMABLE = frozenset(
    {
        "Native",
        "TabSeparated",
        "TSV",
        "TabSeparatedRaw",
        "TSVRaw",
        "CSV",
        "RowBinary",
        "JSONEachRow",
        "JSONLines",
        "NDJSON",
        "JSONCompactEachRow",
        "JSONStringsEachRow",
        "JSONCompactStringsEachRow",
    }
)
_CODE = re.compile(r"Code: (\d+)\.")
_WRAPPER = re.compile(r"\.? : In scope SELECT formatQuery\(.*\)\. \(", re.DOTALL)
_FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+\w+\s*;?\s*$")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")
_DATABASE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
READ_TAG = "yzmon-read-"  # every read's log_comment starts so: its owner, then the read's own tag


@dataclass
class EngineError(Exception):
    """An error the engine raised, with ClickHouse's code and name."""

    code: int
    name: str
    message: str
    status: int = 0  # the HTTP status when known here (a client's bad value: 400); else from the code

    @classmethod
    def wrap(cls, exc: BaseException) -> EngineError:
        text = str(exc).strip()
        at = text.find("Code: ")
        if at > 0:
            text = text[at:]
        code = _CODE.search(text)
        name = _NAME.search(text.splitlines()[0] if text else "")
        return cls(int(code.group(1)) if code else 1001, name.group(1) if name else "STD_EXCEPTION", text)

    def __str__(self) -> str:
        return self.message


@dataclass
class Stats:
    """What a read did, for the X-ClickHouse-Summary header."""

    read_rows: int = 0
    read_bytes: int = 0
    result_rows: int = 0
    result_bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, result: Any) -> None:
        self.result_rows += int(result.rows_read())
        self.result_bytes += int(result.bytes_read())
        self.read_rows = max(self.read_rows, int(result.storage_rows_read()))
        self.read_bytes = max(self.read_bytes, int(result.storage_bytes_read()))

    def summary(self) -> dict[str, str]:
        return {
            "read_rows": str(self.read_rows),
            "read_bytes": str(self.read_bytes),
            "written_rows": "0",
            "written_bytes": "0",
            "total_rows_to_read": str(self.read_rows),
            "result_rows": str(self.result_rows),
            "result_bytes": str(self.result_bytes),
            "elapsed_ns": str(int((time.monotonic() - self.started) * 1e9)),
        }


def escape_param(value: str) -> str:
    """A string as a query parameter value (ClickHouse's escaped text form)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


class ReadEngine:
    """Opens read sessions on the store at ``path`` (a directory the worker's engine owns)."""

    def __init__(self, path: str, settings: Settings):
        self.path = os.path.realpath(path)
        self.settings = settings
        self._control: Any = None
        self._control_lock = threading.Lock()
        self.version = ""
        self.timezone = "UTC"
        self.catalog = Catalog()

    def start(self) -> None:
        """Open the control session; learn the engine's version, time zone, settings, formats and functions."""
        with self._control_lock:
            self._control = chdb.connect(self.path)
            self._control.query("SET readonly=1")
            row = str(self._control.query("SELECT version(), timezone()", "TSVRaw")).strip().split("\t")
            self.version, self.timezone = row[0], row[1]
            self.catalog = Catalog.learn(lambda sql: str(self._control.query(sql, "TSVRaw")))

    def open(self, url_settings: dict[str, str], database: str | None, tag: str, owner: str = "") -> ReadSession:
        """A session for one read. ``url_settings``: {allow-listed name: typed literal} (`vet_settings`);
        ``tag`` names this read (its ``log_comment``), ``owner`` the reader, whose queries alone it sees."""
        conn = chdb.connect(self.path)
        try:
            values = {
                **{k: literal(v) for k, v in engine_settings(self.settings).items()},
                **url_settings,
                "allow_introspection_functions": "0",
                "log_comment": literal(f"{READ_TAG}{owner}-{tag}"),
                "additional_table_filters": "{"
                + literal("system.processes")
                + ": "
                + literal(f"startsWith(Settings['log_comment'], {literal(READ_TAG + owner + '-')})")
                + "}",
            }
            try:
                conn.query("SET " + ", ".join(f"{k} = {v}" for k, v in values.items()) + ", readonly = 1")
            except Exception as exc:  # noqa: BLE001 - the limits and our own settings are known good: the client's
                error = EngineError.wrap(exc)
                error.status = 400 if url_settings else 0
                raise error from None
            if database:
                if not _DATABASE.fullmatch(database):
                    raise Refused(81, "UNKNOWN_DATABASE", f"Database {database[:60]!r} does not exist", 404)
                conn.query(f"USE `{database}`")
        except (Refused, EngineError):
            conn.close()
            raise
        except Exception as exc:  # noqa: BLE001 - every engine error goes back to the client as ClickHouse's
            conn.close()
            raise EngineError.wrap(exc) from None
        return ReadSession(conn, self.catalog, database or "default")

    def kill(self, tag: str, owner: str = "") -> None:
        """Stop the read tagged ``tag`` (its client went away)."""
        with self._control_lock:
            if self._control is not None:
                comment = literal(f"{READ_TAG}{owner}-{tag}")
                self._control.query(f"KILL QUERY WHERE Settings['log_comment'] = {comment} ASYNC")

    def close(self) -> None:
        with self._control_lock:
            if self._control is not None:
                self._control.close()
                self._control = None


class ReadSession:
    """One read: vet the statement, then run it, streamed or whole."""

    def __init__(self, conn: Any, catalog: Catalog, database: str = "default"):
        self.conn = conn
        self.catalog = catalog
        self.database = database
        self.whole = False  # a statement the engine answers only whole (SHOW, DESCRIBE, EXISTS, EXPLAIN)
        self.stats = Stats()

    def prepare(self, sql: str, params: dict[str, str]) -> tuple[str, str | None]:
        """The statement as the engine parsed it and its FORMAT clause; Refused or EngineError if not served."""
        try:
            text = {"q": escape_param(sql)}
            formatted = str(self.conn.query("SELECT formatQuery({q:String})", "TSVRaw", params=text)).rstrip("\n")
        except Exception as exc:  # noqa: BLE001 - a syntax error, worded without the parsing wrapper
            error = EngineError.wrap(exc)
            error.message = _WRAPPER.sub(". (", error.message)
            raise error from None
        try:
            ast = str(self.conn.query("EXPLAIN AST " + formatted, "TSVRaw", params=params))
        except Exception as exc:  # noqa: BLE001 - parameter errors, reported as the engine words them
            raise EngineError.wrap(exc) from None
        fmt = vet_statement(ast, formatted, self.catalog, self.database)
        kind = statement_kind(ast)
        statement = served_text(formatted, kind)
        self.whole = kind in WHOLE and statement == formatted
        return statement, fmt

    def column_types(self, sql: str, params: dict[str, str]) -> list[str]:
        """The result's column types (with their time zones), or [] when the statement cannot be described."""
        if self.whole:
            return []
        try:
            body = _FORMAT_CLAUSE.sub("", sql)
            described = str(self.conn.query(f"DESCRIBE TABLE ({body})", "TSVRaw", params=params))
        except Exception:  # noqa: BLE001 - SHOW, EXPLAIN … have no description; their types carry no zone
            return []
        return [line.split("\t")[1] for line in described.splitlines() if line]

    def stream(self, sql: str, fmt: str, params: dict[str, str]) -> Iterator[bytes]:
        """The result in ``fmt``, chunk by chunk (whole when the format cannot be cut into blocks)."""
        self.stats = Stats()
        try:
            if fmt not in STREAMABLE or self.whole:
                result = self.conn.query(sql, fmt, params=params)
                self.stats.add(result)
                yield result.bytes()
                return
            for chunk in self.conn.send_query(sql, fmt, params=params):
                self.stats.add(chunk)
                yield chunk.bytes()
        except Refused:
            raise
        except Exception as exc:  # noqa: BLE001 - limits, cancellation, engine errors: all reported to the client
            raise EngineError.wrap(exc) from None

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a cancelled handle may complain; nothing to do
            pass
