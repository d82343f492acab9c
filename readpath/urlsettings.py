"""The settings a reader may send with a request, and the HTTP parameters the interface consumes itself.

A setting is taken only by its exact name, from the allow-list below (settings that change how a
result is formatted or read, and the read limits, which may be lowered, never lifted), and only if
the engine has it (`readpath.catalog`). Its value is checked against the setting's type and turned
into a typed literal here; `readpath.readengine` applies the names and literals in one ``SET`` that
ends with ``readonly = 1``, after which nothing in the request can change a setting. No setting that
names a path or writes a file (``output_format_schema``, ``format_schema``, ``format_template_*``,
``*_path`` …) is on the list.
"""

from __future__ import annotations

import math
import re

from readpath.catalog import Catalog
from readpath.refusal import Refused
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

# Settings that shape a query's result or how it reads the store's tables.
QUERY_SETTINGS = (
    "limit",
    "offset",
    "final",
    "extremes",
    "totals_mode",
    "totals_auto_threshold",
    "join_use_nulls",
    "join_algorithm",
    "joined_subquery_requires_alias",
    "aggregate_functions_null_for_empty",
    "transform_null_in",
    "group_by_use_nulls",
    "prefer_column_name_to_alias",
    "cast_keep_nullable",
    "union_default_mode",
    "do_not_merge_across_partitions_select_final",
    "enable_analyzer",
    "max_block_size",
    "preferred_block_size_bytes",
    "priority",
    "session_timezone",
    "date_time_output_format",
    "date_time_input_format",
    "interval_output_format",
    "timeout_overflow_mode",
    "read_overflow_mode",
    "result_overflow_mode",
    "format_csv_delimiter",
    "format_csv_allow_single_quotes",
    "format_csv_allow_double_quotes",
    "format_csv_null_representation",
    "format_tsv_null_representation",
    "output_format_orc_writer_time_zone_name",
    "output_format_sql_insert_table_name",
    "output_format_pretty_grid_charset",
)
# Output settings of the engine's formats, every one by its name (not output_format_schema: it names a file).
OUTPUT_SETTINGS = (
    "output_format_always_write_decimal_point_in_float_and_decimal",
    "output_format_arrow_compression_method",
    "output_format_arrow_date_as_uint16",
    "output_format_arrow_fixed_string_as_fixed_byte_array",
    "output_format_arrow_low_cardinality_as_dictionary",
    "output_format_arrow_parallel_encoding",
    "output_format_arrow_record_batch_size",
    "output_format_arrow_record_batch_size_bytes",
    "output_format_arrow_string_as_string",
    "output_format_arrow_unsupported_types_as_binary",
    "output_format_arrow_use_64_bit_indexes_for_dictionary",
    "output_format_arrow_use_native_writer",
    "output_format_arrow_use_signed_indexes_for_dictionary",
    "output_format_arrow_uuid_as_fixed_byte_array",
    "output_format_arrow_variant_as_string",
    "output_format_avro_sync_interval",
    "output_format_binary_encode_types_in_binary_format",
    "output_format_binary_write_json_as_string",
    "output_format_bson_string_as_string",
    "output_format_compression_level",
    "output_format_compression_zstd_window_log",
    "output_format_csv_crlf_end_of_line",
    "output_format_csv_header_serialize_tuple_into_separate_columns",
    "output_format_csv_serialize_tuple_into_separate_columns",
    "output_format_decimal_trailing_zeros",
    "output_format_float_precision",
    "output_format_image_height",
    "output_format_image_streaming_animation",
    "output_format_image_time_divisor_seconds",
    "output_format_image_time_multiplier_seconds",
    "output_format_image_width",
    "output_format_json_array_of_rows",
    "output_format_json_escape_forward_slashes",
    "output_format_json_map_as_array_of_tuples",
    "output_format_json_named_tuples_as_objects",
    "output_format_json_pretty_print",
    "output_format_json_quote_64bit_floats",
    "output_format_json_quote_64bit_integers",
    "output_format_json_quote_decimals",
    "output_format_json_quote_denormals",
    "output_format_json_skip_null_value_in_named_tuples",
    "output_format_json_validate_utf8",
    "output_format_markdown_escape_special_characters",
    "output_format_msgpack_uuid_representation",
    "output_format_native_encode_types_in_binary_format",
    "output_format_native_use_flattened_dynamic_and_json_serialization",
    "output_format_native_write_json_as_string",
    "output_format_orc_compression_block_size",
    "output_format_orc_compression_method",
    "output_format_orc_dictionary_key_size_threshold",
    "output_format_orc_row_index_stride",
    "output_format_orc_string_as_string",
    "output_format_parallel_formatting",
    "output_format_parquet_batch_size",
    "output_format_parquet_bloom_filter_bits_per_value",
    "output_format_parquet_bloom_filter_flush_threshold_bytes",
    "output_format_parquet_compression_method",
    "output_format_parquet_data_page_size",
    "output_format_parquet_date_as_uint16",
    "output_format_parquet_datetime_as_uint32",
    "output_format_parquet_enum_as_byte_array",
    "output_format_parquet_fixed_string_as_fixed_byte_array",
    "output_format_parquet_geometadata",
    "output_format_parquet_max_dictionary_size",
    "output_format_parquet_parallel_encoding",
    "output_format_parquet_row_group_size",
    "output_format_parquet_row_group_size_bytes",
    "output_format_parquet_string_as_string",
    "output_format_parquet_wide_integer_as_decimal",
    "output_format_parquet_write_bloom_filter",
    "output_format_parquet_write_checksums",
    "output_format_parquet_write_page_index",
    "output_format_pretty_color",
    "output_format_pretty_display_footer_column_names",
    "output_format_pretty_display_footer_column_names_min_rows",
    "output_format_pretty_fallback_to_vertical",
    "output_format_pretty_fallback_to_vertical_max_rows_per_chunk",
    "output_format_pretty_fallback_to_vertical_min_columns",
    "output_format_pretty_fallback_to_vertical_min_table_width",
    "output_format_pretty_glue_chunks",
    "output_format_pretty_highlight_digit_groups",
    "output_format_pretty_highlight_trailing_spaces",
    "output_format_pretty_max_column_name_width_cut_to",
    "output_format_pretty_max_column_name_width_min_chars_to_cut",
    "output_format_pretty_max_column_pad_width",
    "output_format_pretty_max_rows",
    "output_format_pretty_max_value_width",
    "output_format_pretty_max_value_width_apply_for_single_value",
    "output_format_pretty_multiline_fields",
    "output_format_pretty_named_tuples_as_json",
    "output_format_pretty_row_numbers",
    "output_format_pretty_single_large_number_tip_threshold",
    "output_format_pretty_squash_consecutive_ms",
    "output_format_pretty_squash_max_wait_ms",
    "output_format_pretty_use_nbsp_for_padding",
    "output_format_protobuf_nullables_with_google_wrappers",
    "output_format_sql_insert_include_column_names",
    "output_format_sql_insert_max_batch_size",
    "output_format_sql_insert_quote_names",
    "output_format_sql_insert_use_replace",
    "output_format_trim_fixed_string",
    "output_format_tsv_crlf_end_of_line",
    "output_format_values_escape_quote_with_quote",
    "output_format_write_statistics",
)
ALLOWED = frozenset(QUERY_SETTINGS + OUTPUT_SETTINGS + tuple(BY_SETTING))
OVERFLOW_MODES = frozenset({"throw", "break"})
# Belt and braces: a name of this shape is never taken, whatever the list above says.
_NEVER = re.compile(r"(path|file|schema|template|dir|directory|readonly|introspection|log_comment|filters?)$|^allow_")
_WORD = re.compile(r"[a-z][a-z0-9_]*")
_UINT = re.compile(r"\d+")
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+(\.\d*)?([eE][-+]?\d+)?")
_UNSIGNED_TYPES = ("UInt64", "NonZeroUInt64", "Milliseconds", "UInt64Auto", "MaxThreads")
_BOOLS = {"0": "0", "1": "1", "false": "0", "true": "1"}


def literal(value: str) -> str:
    """``value`` as a ClickHouse string literal (quotes, backslashes and control characters escaped)."""
    out = []
    for ch in value:
        if ch in ("\\", "'"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def _bad_value(name: str, value: str, kind: str) -> Refused:
    return Refused(
        27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", f"Cannot parse {value!r} as the value of {name} ({kind})", 400
    )


def typed_literal(name: str, value: str, kind: str) -> str:
    """The value as a literal of the setting's type; Refused (400) when it is not one."""
    text = value.strip()
    if kind == "Bool":
        if text.lower() not in _BOOLS:
            raise _bad_value(name, value, kind)
        return _BOOLS[text.lower()]
    if kind in _UNSIGNED_TYPES:
        if kind in ("UInt64Auto", "MaxThreads") and text.lower() == "auto":
            return "'auto'"
        if not _UINT.fullmatch(text) or int(text) >= 2**64 or (kind == "NonZeroUInt64" and int(text) == 0):
            raise _bad_value(name, value, kind)
        return str(int(text))
    if kind in ("Int32", "Int64"):
        if not _INT.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
            raise _bad_value(name, value, kind)
        return str(int(text))
    if kind in ("Float", "Double", "Seconds", "FloatAuto"):
        if not _FLOAT.fullmatch(text) or not math.isfinite(float(text)):
            raise _bad_value(name, value, kind)
        return repr(float(text))
    if kind == "Char":
        if len(value) != 1:
            raise _bad_value(name, value, kind)
        return literal(value)
    if len(value) > 256:
        raise _bad_value(name, value[:40] + "…", kind)
    return literal(value)  # String, Timezone and the engine's enumerations: the engine checks the word itself


def vet_settings(requested: dict[str, str], settings: Settings, catalog: Catalog) -> dict[str, str]:
    """The URL settings as {name: typed literal}, or Refused naming the first one this interface does not take."""
    out: dict[str, str] = {}
    for name, value in requested.items():
        if name == "readonly":
            if value.strip() != "1":
                raise Refused(164, "READONLY", "Cannot modify 'readonly' setting in readonly mode: it stays 1")
            continue
        limit = BY_SETTING.get(name)
        if limit is not None:
            out[name] = _vet_limit(name, value, int(getattr(settings, limit.field)), limit.env, catalog)
            continue
        if name not in ALLOWED or _NEVER.search(name) or not _WORD.fullmatch(name) or name not in catalog.setting_types:
            raise Refused(
                164,
                "READONLY",
                f"Cannot modify '{name[:80]}' setting in readonly mode: this read-only interface takes output and "
                "query-shaping settings by their exact names (output_format_json_quote_64bit_integers, "
                "date_time_output_format, limit, final, join_use_nulls …) and lower read limits "
                "(max_execution_time, max_result_rows …)",
            )
        if name.endswith("_overflow_mode") and value not in OVERFLOW_MODES:
            raise Refused(164, "READONLY", f"Cannot modify '{name}' setting in readonly mode: {value[:40]!r}")
        out[name] = typed_literal(name, value, catalog.setting_types[name])
    return out


def _vet_limit(name: str, value: str, cap: int, env: str, catalog: Catalog) -> str:
    kind = catalog.setting_types.get(name, "UInt64")
    text = value.strip()
    number = float(text) if _FLOAT.fullmatch(text) and kind in ("Seconds", "Float") else None
    if number is None and _UINT.fullmatch(text):
        number = int(text)
    if number is None or not math.isfinite(number):
        raise _bad_value(name, value, f"a number from 1 to {cap}")
    if number <= 0 or number > cap:
        raise Refused(
            164,
            "READONLY",
            f"Cannot modify '{name}' setting in readonly mode: {name}={text[:40]} would lift the read limit "
            f"({cap}); values from 1 to {cap} are accepted, and {env} raises the limit",
        )
    return repr(number) if isinstance(number, float) else str(number)


def vet_transport(params: dict[str, str], catalog: Catalog) -> dict[str, str]:
    """Check the HTTP parameters the interface consumes itself; their values, cleaned, or Refused (400)."""
    out: dict[str, str] = {}
    query_id = params.get("query_id", "")
    if len(query_id) > 256 or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in query_id):
        raise Refused(36, "BAD_ARGUMENTS", "query_id must be printable text of at most 256 characters", 400)
    level = params.get("http_zlib_compression_level", "3") or "3"
    if not _UINT.fullmatch(level) or not 1 <= int(level) <= 9:
        raise Refused(
            36, "BAD_ARGUMENTS", f"http_zlib_compression_level must be a number from 1 to 9, not {level[:40]!r}", 400
        )
    out["http_zlib_compression_level"] = level
    revision = params.get("client_protocol_version", "0") or "0"
    if not _UINT.fullmatch(revision) or int(revision) >= 2**32:
        raise Refused(
            36,
            "BAD_ARGUMENTS",
            f"client_protocol_version must be a protocol revision number, not {revision[:40]!r}",
            400,
        )
    out["client_protocol_version"] = str(int(revision))
    fmt = params.get("default_format")
    if fmt:
        out["default_format"] = output_format(fmt, catalog)
    return out


def output_format(name: str, catalog: Catalog) -> str:
    """The engine's spelling of an output format a client asked for, or Refused (400, UNKNOWN_FORMAT)."""
    known = catalog.output_format(name)
    if known is None:
        raise Refused(73, "UNKNOWN_FORMAT", f"Unknown output format {name[:60]!r}", 400)
    return known
