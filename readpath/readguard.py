"""What statements the read-only HTTP interface runs, judged on the engine's own parse (``EXPLAIN AST``).

Every read runs with ``readonly=1`` on its own chDB session, which already refuses writes, DDL,
``SET`` and inline ``SETTINGS``. On top of that, checked here, with names resolved as the engine
resolves them (`readpath.catalog`: case-insensitive where the engine is, aliases followed):

- only SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN of those; no ``INTO OUTFILE``; ``KILL QUERY`` and
  ``SYSTEM …`` are refused although ``readonly=1`` would allow the first;
- table functions: deny by default; only those that generate data in the engine (``numbers``,
  ``zeros``, ``values``, ``generate_series`` …) or wrap a subquery that is itself vetted (``view``);
- functions that reach outside the store or tell where it lies (``file``, ``getServerSetting``,
  ``hostName``, ``filesystemAvailable`` …);
- system tables that name data paths, hosts or other sessions' statements (``system.disks``,
  ``system.parts``, ``system.query_log`` …), and the path columns of ``system.tables`` and
  ``system.databases`` and the server's host columns of ``system.processes`` (named, or through
  ``*``). ``system.processes`` is served filtered to the reader's own queries (`readpath.readengine`).

`served_text` then turns the statement into what runs: ``SHOW PROCESSLIST`` without the host
columns, and ``displayName()`` (which clickhouse-go asks for when it connects) as the service's
name rather than the machine's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from readpath.catalog import Catalog
from readpath.refusal import Refused

STATEMENTS = frozenset(
    {
        "SelectWithUnionQuery",
        "SelectIntersectExceptQuery",
        "SelectQuery",
        "ShowTables",
        "ShowColumns",
        "ShowIndexes",
        "ShowFunctions",
        "ShowEngineQuery",
        "ShowProcesslistQuery",
        "ShowSetting",
        "DescribeQuery",
        "ExistsTableQuery",
        "ExistsDatabaseQuery",
        "ExistsViewQuery",
        "ExistsDictionaryQuery",
        "ShowCreateTableQuery",
        "ShowCreateViewQuery",
        "ShowCreateDatabaseQuery",
        "ShowCreateDictionaryQuery",
        "Explain",
    }
)
# Statements the engine answers only whole (its streaming call refuses them).
WHOLE = STATEMENTS - {"SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery"}

# Table functions that only generate data in the engine, or wrap a subquery vetted like any other (lower case).
TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generate_series",
        "generateseries",
        "generaterandom",
        "values",
        "null",
        "primes",
        "view",
        "viewifpermitted",
    }
)
# Ordinary functions that read files, or tell paths, host names or the machine's disks (lower case).
FUNCTIONS_DENIED = frozenset(
    {
        "file",
        "getserversetting",
        "getmergetreesetting",
        "hostname",
        "fqdn",
        "filesystemavailable",
        "filesystemcapacity",
        "filesystemunreserved",
        "catboostevaluate",
        "naivebayesclassifier",
        "addresstoline",
        "addresstolinewithinlines",
        "addresstosymbol",
        "demangle",
        "trace",
        "getosversion",
        "getoskernelversion",
    }
)
SYSTEM_TABLES_DENIED = frozenset(
    {
        "asynchronous_insert_log",
        "asynchronous_inserts",
        "backup_log",
        "backups",
        "blob_storage_log",
        "certificates",
        "clusters",
        "crash_log",
        "detached_parts",
        "detached_tables",
        "dictionaries",
        "disks",
        "distribution_queue",
        "dropped_tables",
        "dropped_tables_parts",
        "error_log",
        "errors",
        "filesystem_cache",
        "filesystem_cache_log",
        "filesystem_cache_settings",
        "grants",
        "jemalloc_bins",
        "macros",
        "merges",
        "models",
        "moves",
        "mutations",
        "named_collections",
        "opentelemetry_span_log",
        "part_log",
        "parts",
        "parts_columns",
        "processors_profile_log",
        "projection_parts",
        "projection_parts_columns",
        "query_cache",
        "query_log",
        "query_metric_log",
        "query_thread_log",
        "query_views_log",
        "quota_usage",
        "quotas",
        "quotas_usage",
        "remote_data_paths",
        "replicas",
        "replication_queue",
        "role_grants",
        "roles",
        "row_policies",
        "server_settings",
        "session_log",
        "settings_profile_elements",
        "settings_profiles",
        "stack_trace",
        "storage_policies",
        "symbols",
        "text_log",
        "trace_log",
        "user_directories",
        "user_processes",
        "users",
        "warnings",
        "zookeeper",
        "zookeeper_connection",
        "zookeeper_log",
    }
)
# Served, but not the columns that tell paths or the server's host (named, or through *).
HIDDEN_COLUMNS = {
    "tables": re.compile(r"path", re.IGNORECASE),
    "databases": re.compile(r"path", re.IGNORECASE),
    "processes": re.compile(r"client_hostname|os_user", re.IGNORECASE),
}
PROCESSLIST = "SELECT * EXCEPT (client_hostname, os_user) FROM system.processes ORDER BY elapsed DESC"
_WILDCARDS = ("Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher",
              "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher")  # fmt: skip

_FUNCTION = re.compile(r"^(\s*)Function (\S+)")
_NODE = re.compile(r"^(\s*)(\w+)")
_TABLE = re.compile(r"^\s*(?:TableIdentifier|Identifier) (\S+)")
_IDENTIFIER = re.compile(r"^\s*Identifier (\S+)")
_OUTFILE = re.compile(r"^\s*INTO OUTFILE\b", re.MULTILINE)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$")


def statement_kind(ast: str) -> str:
    """The statement's node name in ``EXPLAIN AST`` (SelectWithUnionQuery, ShowTables …)."""
    for line in ast.splitlines():
        head = _NODE.match(line)
        if head:
            return head.group(2)
    return ""


def vet_statement(ast: str, formatted: str, catalog: Catalog, database: str = "default") -> str | None:
    """Check a statement from ``EXPLAIN AST`` and ``formatQuery``; return its FORMAT clause, if any.

    Raises Refused for statements other than reads, ``INTO OUTFILE``, table functions that reach
    outside the store, functions and system tables that tell paths, hosts or others' statements.
    """
    lines = [line for line in ast.splitlines() if line.strip()]
    if not lines:
        raise Refused(62, "SYNTAX_ERROR", "Empty query", 400)
    kind = statement_kind(ast)
    if kind not in STATEMENTS:
        raise Refused(164, "READONLY", f"Cannot execute query in readonly mode: only reads are served here ({kind})")
    if kind == "Explain":
        inner = next((ln for ln in lines[1:] if _NODE.match(ln) and _NODE.match(ln).group(2) != "Set"), "")  # type: ignore[union-attr]
        inner_kind = _NODE.match(inner).group(2) if inner else ""  # type: ignore[union-attr]
        if inner_kind not in STATEMENTS:
            raise Refused(164, "READONLY", f"Cannot execute query in readonly mode: EXPLAIN of {inner_kind}")
    if _OUTFILE.search(formatted):
        raise Refused(497, "ACCESS_DENIED", "INTO OUTFILE is not served here: it would write the worker's files")
    _vet_functions(lines, catalog)
    _vet_tables(lines, database)
    match = _FORMAT.search(formatted)
    return match.group(1) if match else None


def _vet_functions(lines: list[str], catalog: Catalog) -> None:
    for i, line in enumerate(lines):
        match = _FUNCTION.match(line)
        if not match:
            continue
        name = match.group(2)
        as_table = i > 0 and lines[i - 1].strip().startswith("TableExpression")
        if as_table or (name.lower() in catalog.table_functions and not catalog.is_ordinary(name)):
            if name.lower() not in TABLE_FUNCTIONS and not catalog.is_store_view(name):
                raise Refused(
                    497,
                    "ACCESS_DENIED",
                    f"Table function {name}() is not served here: the read path reads the store's tables only "
                    f"(generators allowed: {', '.join(sorted(TABLE_FUNCTIONS))})",
                )
        elif catalog.names(name) & FUNCTIONS_DENIED:
            raise Refused(
                497,
                "ACCESS_DENIED",
                f"Function {name}() is not served here: it reads files or tells paths, host names or disks",
            )


def _vet_tables(lines: list[str], database: str) -> None:
    hidden = []
    for line in lines:
        match = _TABLE.match(line)
        if not match:
            continue
        db, _, table = match.group(1).rpartition(".")
        db = db or (database if line.lstrip().startswith("TableIdentifier") else "")
        if db.lower() != "system":
            continue
        if table in SYSTEM_TABLES_DENIED:
            raise Refused(
                497,
                "ACCESS_DENIED",
                f"system.{table} is not served here: it tells data paths, hosts or other sessions' statements",
            )
        if table in HIDDEN_COLUMNS:
            hidden.append((table, HIDDEN_COLUMNS[table]))
    for table, columns in hidden:
        for line in lines:
            node = _NODE.match(line)
            identifier = _IDENTIFIER.match(line)
            if (node and node.group(2) in _WILDCARDS) or (identifier and columns.search(identifier.group(1))):
                raise Refused(
                    497,
                    "ACCESS_DENIED",
                    f"Some columns of system.{table} are not served here (paths, the server's host): name the "
                    f"columns you need instead of * or {columns.pattern.replace('|', ', ')}",
                )


def served_text(formatted: str, kind: str) -> str:
    """The statement as it runs: SHOW PROCESSLIST without host columns; displayName() as the service's name."""
    if kind == "ShowProcesslistQuery":
        match = _FORMAT.search(formatted)
        return PROCESSLIST + (f" FORMAT {match.group(1)}" if match else "")
    return _outside_literals(formatted, lambda text: _DISPLAY_NAME.sub("'yzmon'", text))


_DISPLAY_NAME = re.compile(r"\bdisplayName\(\)", re.IGNORECASE)
_QUOTED = re.compile(r"'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`|\"(?:\\.|[^\"\\])*\"", re.DOTALL)


def _outside_literals(text: str, change: Callable[[str], str]) -> str:
    """``change`` applied to the parts of ``text`` outside quoted strings and identifiers."""
    out, pos = [], 0
    for quoted in _QUOTED.finditer(text):
        out.append(change(text[pos : quoted.start()]))
        out.append(quoted.group(0))
        pos = quoted.end()
    out.append(change(text[pos:]))
    return "".join(out)
