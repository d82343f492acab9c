"""The read path without a stack: Native at a client's protocol revision, the settings the HTTP
interface takes, statement vetting on the engine's own parser, and limit errors that name their setting."""

from __future__ import annotations

import os

import chdb
import pytest
from clickhouse_connect.driver.query import QueryContext
from clickhouse_connect.driver.transform import NativeTransform
from clickhouse_connect.driverc.buffer import ResponseBuffer

from readpath.catalog import Catalog
from readpath.native import BLOCK_INFO, NativeRewriter
from readpath.readengine import ReadEngine
from readpath.refusal import Refused
from readpath.urlsettings import literal, typed_literal, vet_settings
from yzcore.readlimits import hint
from yzcore.settings import Settings

SQL = (
    "SELECT number, toString(number) AS s, toLowCardinality(toString(number % 10)) AS lc, "
    "if(number % 3 = 0, NULL, number) AS n, [number, 1] AS a, map('k', number) AS m, tuple(number, 'x') AS t, "
    "toDecimal64(number / 7, 4) AS d, toDateTime64(number, 3, 'Asia/Shanghai') AS ts, "
    "toDateTime(number, 'Asia/Shanghai') AS dt, toFixedString('ab', 2) AS f, "
    "CAST(number % 2 AS Enum8('a' = 0, 'b' = 1)) AS e, NULL AS nul, "
    "toLowCardinality(toNullable(toString(number % 3))) AS lcn "
    "FROM numbers(20000)"
)


class _Source:
    def __init__(self, data: bytes):
        self.gen = iter([data])

    def close(self) -> None:
        pass


def _parse(data: bytes, block_info: bool) -> list[tuple]:
    ctx = QueryContext()
    ctx.block_info = block_info
    return NativeTransform.parse_response(ResponseBuffer(_Source(data)), ctx).result_set


@pytest.fixture(scope="module")
def mem(chdb_dir):
    """A session on the process's one chDB engine (the tests' shared directory)."""
    conn = chdb.connect(os.path.realpath(chdb_dir))
    yield conn
    conn.close()


def test_native_at_a_protocol_revision_reads_back_the_same_rows(mem):
    plain = mem.query(SQL, "Native").bytes()
    chunks = [c.bytes() for c in mem.send_query(SQL, "Native")]
    rewriter = NativeRewriter(54405)
    out = b"".join(rewriter.feed(c) for c in chunks)
    rewriter.finish()
    assert out.startswith(BLOCK_INFO) and out.count(BLOCK_INFO) >= len(chunks)
    assert _parse(out, block_info=True) == _parse(plain, block_info=False)
    assert NativeRewriter(0).feed(plain) == plain


def test_native_cut_anywhere_gives_the_same_blocks(mem):
    plain = mem.query("SELECT number, toString(number) FROM numbers(5000)", "Native").bytes()
    whole = NativeRewriter(54460).feed(plain)
    rewriter = NativeRewriter(54460)
    pieces = b"".join(rewriter.feed(plain[i : i + 997]) for i in range(0, len(plain), 997))
    rewriter.finish()
    assert pieces == whole


def test_low_cardinality_nested_in_maps_arrays_and_tuples_keeps_its_prefix_first(mem):
    sql = (
        "SELECT map(toLowCardinality(toString(number % 5)), number) AS m, [toLowCardinality('a')] AS a, "
        "tuple(toLowCardinality('x'), number) AS t, toLowCardinality(toString(number)) AS z FROM numbers(3000)"
    )
    plain = mem.query(sql, "Native").bytes()
    rewriter = NativeRewriter(54405)
    out = rewriter.feed(plain)
    rewriter.finish()
    assert _parse(out, block_info=True) == _parse(plain, block_info=False)


def test_datetime_columns_get_their_time_zone_back_from_revision_54337(mem):
    plain = mem.query("SELECT toDateTime(0, 'Asia/Shanghai') AS t", "Native").bytes()
    assert b"\x08DateTime" in plain and b"Asia" not in plain  # revision 0 drops the zone
    out = NativeRewriter(54460, ["DateTime('Asia/Shanghai')"]).feed(plain)
    assert b"\x19DateTime('Asia/Shanghai')\x00" in out  # type, then no custom serialization


@pytest.fixture(scope="module")
def catalog(mem):
    return Catalog.learn(lambda sql: str(mem.query(sql, "TSVRaw")))


def test_settings_that_lower_limits_or_shape_output_are_taken(catalog):
    s = Settings(_env_file=None)
    taken = {"max_execution_time": "5", "output_format_json_quote_64bit_integers": "0", "session_timezone": "UTC"}
    assert vet_settings(taken, s, catalog) == {
        "max_execution_time": "5.0",
        "output_format_json_quote_64bit_integers": "0",
        "session_timezone": "'UTC'",
    }
    for name, value in (("max_execution_time", "0"), ("max_memory_usage", str(10**15)), ("readonly", "0")):
        with pytest.raises(Refused, match=name):
            vet_settings({name: value}, s, catalog)
    with pytest.raises(Refused, match="allow_ddl"):
        vet_settings({"allow_ddl": "1"}, s, catalog)


def test_values_become_literals_of_the_settings_type_and_nothing_else():
    assert literal("a'b\\c\n\x00") == "'a\\'b\\\\c\\x0a\\x00'"
    assert typed_literal("x", "TRUE", "Bool") == "1" and typed_literal("x", "0", "Bool") == "0"
    assert typed_literal("x", "42", "UInt64") == "42" and typed_literal("x", "auto", "MaxThreads") == "'auto'"
    assert typed_literal("x", "1.5", "Seconds") == "1.5" and typed_literal("x", ";", "Char") == "';'"
    for value, kind in (("1; SET readonly=0", "UInt64"), ("inf", "Float"), ("nan", "Seconds"), ("2", "Bool"),
                        ("", "Double"), ("ab", "Char"), ("0", "NonZeroUInt64"), (str(2**64), "UInt64")):  # fmt: skip
        with pytest.raises(Refused) as refused:
            typed_literal("x", value, kind)
        assert (refused.value.code, refused.value.status) == (27, 400)


def test_a_limit_error_names_the_setting_to_raise():
    s = Settings(_env_file=None)
    text = "Code: 241. DB::Exception: Query memory limit exceeded: would use 9.00 GiB. (MEMORY_LIMIT_EXCEEDED)"
    assert "max_memory_usage" in hint(text, s) and "YZMON_READ_MAX_MEMORY_BYTES" in hint(text, s)
    assert hint("Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)", s) == ""


def test_statements_are_vetted_on_the_engines_parser(chdb_dir):
    engine = ReadEngine(str(chdb_dir), Settings(_env_file=None))
    engine.start()
    try:
        session = engine.open({}, None, "unit-test")
        try:
            assert session.prepare("SELECT 1 FORMAT JSON", {})[1] == "JSON"
            assert session.prepare("SELECT {x:UInt8}", {"x": "1"})[1] is None
            for sql in (
                "SELECT toString(number) IN file('/etc/hostname', 'LineAsString') FROM numbers(1)",
                "SELECT 1 INTO OUTFILE 'x.csv'",
                "KILL QUERY WHERE 1",
                "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
            ):
                with pytest.raises(Refused):
                    session.prepare(sql, {})
            assert session.prepare("SELECT format('{}-{}', 1, 2)", {})[1] is None  # the string function is fine
        finally:
            session.close()
    finally:
        engine.close()


def test_the_local_grafana_datasource_points_at_the_embedded_interface():
    import json
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    local = root / "deploy" / "grafana" / "local" / "provisioning" / "datasources" / "yzmon-embedded.yaml"
    source = yaml.safe_load(local.read_text(encoding="utf-8"))["datasources"][0]
    s = Settings(_env_file=None)
    assert source["type"] == "grafana-clickhouse-datasource"
    assert (source["jsonData"]["protocol"], source["jsonData"]["port"]) == ("http", s.sql_port)
    assert source["jsonData"]["host"] == s.sql_host and source["jsonData"]["username"] == "default"
    board = json.loads((root / "dashboards" / "overview.json").read_text(encoding="utf-8"))
    uids = {t["datasource"]["uid"] for p in board["panels"] for t in p.get("targets", []) if "datasource" in t}
    assert uids == {source["uid"]}
