"""What the read-only HTTP interface accepts: settings from the URL, and statements.

Every read runs with ``readonly=1`` on its own chDB session, which already refuses writes, DDL,
``SET`` and inline ``SETTINGS``. On top of that, checked here:

- URL settings: an allow-list of settings that shape output or queries; the read limits may be
  lowered but never lifted (``max_execution_time=0`` or above the configured value is refused).
- Statements, read from the engine's own parser (``EXPLAIN AST``): only SELECT, SHOW, DESCRIBE,
  EXISTS and EXPLAIN; no ``INTO OUTFILE``; no table function that reaches outside the store
  (``file``, ``url``, ``s3``, ``remote``, ``executable``, ``python`` …, in any position) — only the
  generators below. ``KILL QUERY`` is refused although ``readonly=1`` would allow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yzcore.readlimits import BY_SETTING
from yzcore.settings import Settings

# HTTP parameters that are not settings: the interface consumes them itself.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "quota_key",
        "compress",
        "decompress",
        "enable_http_compression",
        "http_zlib_compression_level",
        "client_protocol_version",
        "buffer_size",
        "wait_end_of_query",
        "http_wait_end_of_query",
        "http_response_buffer_size",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
        "http_write_exception_in_output_format",
        "http_native_compression_disable_checksumming_on_decompress",
        "add_http_cors_header",
        "stacktrace",
        "role",
    }
)

FREE_SETTINGS = frozenset(
    {
        "limit",
        "offset",
        "date_time_output_format",
        "date_time_input_format",
        "session_timezone",
        "final",
        "do_not_merge_across_partitions_select_final",
        "join_use_nulls",
        "join_algorithm",
        "joined_subquery_requires_alias",
        "extremes",
        "totals_mode",
        "totals_auto_threshold",
        "aggregate_functions_null_for_empty",
        "transform_null_in",
        "group_by_use_nulls",
        "prefer_column_name_to_alias",
        "cast_keep_nullable",
        "cast_string_to_dynamic_use_inference",
        "union_default_mode",
        "count_distinct_implementation",
        "max_block_size",
        "preferred_block_size_bytes",
        "priority",
        "enable_analyzer",
        "allow_experimental_analyzer",
        "timeout_overflow_mode",
        "read_overflow_mode",
        "result_overflow_mode",
        "format_csv_delimiter",
        "format_csv_allow_single_quotes",
        "format_csv_allow_double_quotes",
        "format_csv_null_representation",
        "format_tsv_null_representation",
        "format_display_secrets_in_show_and_select",
    }
)
FREE_PREFIXES = ("output_format_", "input_format_", "optimize_")
OVERFLOW_MODES = frozenset({"throw", "break"})

STATEMENTS = frozenset(
    {
        "SelectWithUnionQuery",
        "SelectIntersectExceptQuery",
        "SelectQuery",
        "ShowTables",
        "ShowColumns",
        "ShowIndexes",
        "ShowFunctions",
        "ShowProcesslistQuery",
        "ShowSettingQuery",
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
# Table functions that only generate data or read the store's own tables.
TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generate_series",
        "generateSeries",
        "generateRandom",
        "values",
        "view",
        "viewIfPermitted",
        "merge",
    }
)
# Names that are both a table function and an ordinary function: refused only as a table.
SCALAR_TOO = frozenset({"format"})

_FUNCTION = re.compile(r"^(\s*)Function (\w+)")
_NODE = re.compile(r"^(\s*)(\w+)")
_OUTFILE = re.compile(r"^\s*INTO OUTFILE\b", re.MULTILINE)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$")


@dataclass
class Refused(Exception):
    """A request this interface does not run, as ClickHouse would word it."""

    code: int
    name: str
    message: str
    status: int = 403

    def __str__(self) -> str:
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name})"


def vet_settings(requested: dict[str, str], settings: Settings) -> dict[str, str]:
    """The URL settings to apply, or Refused naming the first one this interface does not take."""
    out: dict[str, str] = {}
    for name, value in requested.items():
        limit = BY_SETTING.get(name)
        if limit is not None:
            cap = int(getattr(settings, limit.field))
            try:
                number = int(float(value))
            except ValueError:
                raise Refused(  # noqa: B904 - the client's value, not our error, is the cause
                    27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", f"{name}={value!r} is not a number", 400
                )
            if number <= 0 or number > cap:
                raise Refused(
                    164,
                    "READONLY",
                    f"Cannot modify '{name}' setting in readonly mode: {name}={value} would lift the read limit "
                    f"({cap}); values from 1 to {cap} are accepted, and {limit.env} raises the limit",
                )
            out[name] = str(number)
        elif name in ("timeout_overflow_mode", "read_overflow_mode", "result_overflow_mode"):
            if value not in OVERFLOW_MODES:
                raise Refused(164, "READONLY", f"Cannot modify '{name}' setting in readonly mode: {value!r}")
            out[name] = value
        elif name == "readonly":
            if value != "1":
                raise Refused(164, "READONLY", "Cannot modify 'readonly' setting in readonly mode: it stays 1")
        elif name in FREE_SETTINGS or name.startswith(FREE_PREFIXES):
            out[name] = value
        else:
            raise Refused(
                164,
                "READONLY",
                f"Cannot modify '{name}' setting in readonly mode: this read-only interface takes output and "
                "query-shaping settings (output_format_*, date_time_output_format, limit, final, join_use_nulls …) "
                "and lower read limits (max_execution_time, max_result_rows …)",
            )
    return out


def vet_statement(ast: str, formatted: str, table_functions: frozenset[str]) -> str | None:
    """Check a statement from ``EXPLAIN AST`` and ``formatQuery``; return its FORMAT clause, if any.

    Raises Refused for statements other than reads, ``INTO OUTFILE`` and table functions that
    reach outside the store.
    """
    lines = [line for line in ast.splitlines() if line.strip()]
    if not lines:
        raise Refused(62, "SYNTAX_ERROR", "Empty query", 400)
    head = _NODE.match(lines[0])
    kind = head.group(2) if head else ""
    if kind not in STATEMENTS:
        raise Refused(164, "READONLY", f"Cannot execute query in readonly mode: only reads are served here ({kind})")
    if kind == "Explain":
        inner = next((ln for ln in lines[1:] if _NODE.match(ln) and _NODE.match(ln).group(2) != "Set"), "")  # type: ignore[union-attr]
        inner_kind = _NODE.match(inner).group(2) if inner else ""  # type: ignore[union-attr]
        if inner_kind not in STATEMENTS:
            raise Refused(164, "READONLY", f"Cannot execute query in readonly mode: EXPLAIN of {inner_kind}")
    if _OUTFILE.search(formatted):
        raise Refused(497, "ACCESS_DENIED", "INTO OUTFILE is not served here: it would write the worker's files")
    for i, line in enumerate(lines):
        match = _FUNCTION.match(line)
        if not match:
            continue
        name = match.group(2)
        as_table = i > 0 and lines[i - 1].strip().startswith("TableExpression")
        if name in table_functions and name not in TABLE_FUNCTIONS and (as_table or name not in SCALAR_TOO):
            raise Refused(
                497,
                "ACCESS_DENIED",
                f"Table function {name}() is not served here: the read path reads the store's tables only "
                f"(generators allowed: {', '.join(sorted(TABLE_FUNCTIONS))})",
            )
    match = _FORMAT.search(formatted)
    return match.group(1) if match else None
