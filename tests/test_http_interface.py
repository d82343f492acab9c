"""ClickHouse's HTTP interface served by the worker of a running embedded stack.

One stack for the module, with one simulated day of sales landed. Clients: clickhouse-connect over http://,
raw HTTP as curl sends it, the requests of Grafana's ClickHouse plugin (protocol http, clickhouse-go),
and the project's own commands through YZMON_READER_DSN. Then what is refused, what the read limits
stop, and ingestion going on under a heavy read.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from support import start_stack, wait_idle

from producers.kafka import FeedProducer
from producers.replay import replay
from simulators.run import RunSpec, truth
from simulators.scenario import load
from yzcore.store import query_reader, rows
from yzmon.report import panel_queries
from yzmon.stack import Stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
DAY = date(2024, 10, 1)
GO_REVISION = 54460  # clickhouse-go v2's DBMS_TCP_PROTOCOL_VERSION, sent as client_protocol_version
GRAFANA_UA = "clickhouse-go/2.41.0 (database/sql; lv:go/1.24.4; os:linux) grafana/12.3.0 clickhouse-datasource/4.20.0"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, free_port):
    s = start_stack(tmp_path_factory.mktemp("stack"), free_port)
    settings = s.settings
    spec = RunSpec(
        load("baseline"), 7, DAY, date(2024, 10, 2), districts=("jiefangbei", "daping", "shibati"), feeds=("sales",)
    )
    producer = FeedProducer(settings)
    sent = replay(spec, producer, None, show_progress=False)
    producer.close()
    wait_idle(settings, sent)
    s.truth = truth(spec)  # type: ignore[attr-defined]
    yield s
    s.stop()


def url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.sql_port}/"


def client(stack: Stack):
    return clickhouse_connect.get_client(host="127.0.0.1", port=stack.settings.sql_port)


def sales_by_district(stack: Stack) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for _day, district, feed, _dim, measure, value in stack.truth.rows():  # type: ignore[attr-defined]
        if feed == "sales" and measure == "amount":
            out[district] += Decimal(value)
    return dict(out)


# -- clickhouse-connect ---------------------------------------------------------------------------------------------


def test_query_df_returns_the_right_totals(stack):
    df = client(stack).query_df("SELECT district, sum(amount) FROM v_sales GROUP BY district")
    got = {r["district"]: Decimal(str(r["sum(amount)"])) for r in df.to_dict("records")}
    assert got == sales_by_district(stack)


def test_query_arrow_bound_parameters_and_a_streamed_result(stack):
    c = client(stack)
    want = sales_by_district(stack)
    result = c.query(
        "SELECT district, sum(amount) AS total FROM v_sales "
        "WHERE district = {district:String} AND toDate(event_time, 'Asia/Shanghai') = {day:Date} GROUP BY district",
        parameters={"district": "jiefangbei", "day": DAY},
    )
    assert result.result_rows == [("jiefangbei", want["jiefangbei"])]
    table = c.query_arrow("SELECT district, count() AS n FROM v_sales GROUP BY district ORDER BY district")
    assert table.column("district").to_pylist() == sorted(want)
    assert (
        sum(table.column("n").to_pylist())
        == rows(query_reader(stack.settings), "SELECT count() AS n FROM v_sales")[0]["n"]
    )
    n = total = 0
    with c.query_rows_stream("SELECT number, toString(number) AS s FROM numbers(300000)") as stream:
        for number, text in stream:
            assert text == str(number)
            n += 1
            total += number
    assert (n, total) == (300000, 300000 * 299999 // 2)


# -- raw HTTP, as curl sends it --------------------------------------------------------------------------------------


def test_raw_http_get_post_formats_and_headers(stack):
    base = url(stack)
    assert httpx.get(base + "ping").text == "Ok.\n"
    assert httpx.get(base).text == "Ok.\n"
    r = httpx.get(base, params={"query": "SELECT 1 + 1"})
    assert (r.status_code, r.text) == (200, "2\n")
    r = httpx.post(
        base + "?default_format=JSONEachRow&query_id=q-test-1",
        content="SELECT district, count() AS n FROM v_sales GROUP BY district ORDER BY district",
        headers={"Content-Type": "application/x-www-form-urlencoded"},  # what curl --data-binary sends
    )
    assert r.status_code == 200
    assert [json.loads(line)["district"] for line in r.text.splitlines()] == sorted(sales_by_district(stack))
    assert r.headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert r.headers["X-ClickHouse-Query-Id"] == "q-test-1"
    assert r.headers["X-ClickHouse-Timezone"]
    summary = json.loads(r.headers["X-ClickHouse-Summary"])
    assert int(summary["read_rows"]) > 0 and int(summary["result_rows"]) == len(sales_by_district(stack))
    # FORMAT in the query wins over default_format; the query may start in the URL and go on in the body
    r = httpx.post(base + "?default_format=CSV&query=SELECT%20count()%20AS%20n", content="FROM v_sales FORMAT JSON")
    assert r.headers["X-ClickHouse-Format"] == "JSON" and "application/json" in r.headers["Content-Type"]
    total = rows(query_reader(stack.settings), "SELECT count() AS n FROM v_sales")[0]["n"]
    assert int(json.loads(r.text)["data"][0]["n"]) == int(total) > 0
    # database and bound parameters
    assert httpx.get(base, params={"query": "SELECT count() FROM one", "database": "system"}).text == "1\n"
    assert httpx.post(base + "?param_x=41", content="SELECT {x:UInt8} + 1").text == "42\n"
    # multipart form, as clients with binary parameters send it
    r = httpx.post(base, files={"query": (None, "SELECT {s:String}"), "param_s": (None, "a\\tb")})
    assert r.text == "a\\tb\n"


def test_gzip_when_asked(stack):
    sql = "SELECT number FROM numbers(100000)"
    with httpx.stream(
        "POST", url(stack) + "?enable_http_compression=1", content=sql, headers={"Accept-Encoding": "gzip"}
    ) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        body = r.read()
    assert body.decode().split() == [str(i) for i in range(100000)]
    plain = httpx.post(url(stack), content=sql, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers  # ClickHouse compresses only with enable_http_compression=1


def test_errors_as_clickhouse_words_them(stack):
    base = url(stack)
    r = httpx.post(base, content="SELEC 1")
    assert (r.status_code, r.headers["X-ClickHouse-Exception-Code"]) == (400, "62")
    assert r.text.startswith("Code: 62. DB::Exception:")
    r = httpx.post(base, content="SELECT * FROM no_such_table")
    assert (r.status_code, r.headers["X-ClickHouse-Exception-Code"]) == (404, "60")
    r = httpx.post(base, content="SELECT 1", auth=("analyst", "guess"))
    assert (r.status_code, r.headers["X-ClickHouse-Exception-Code"]) == (403, "516")
    assert httpx.get(base + "play").status_code == 404


# -- Grafana's ClickHouse plugin, protocol http ----------------------------------------------------------------------


def decode_native(data: bytes, revision: int) -> tuple[list[tuple[str, str]], list[list]]:
    """A small reader of Native as clickhouse-go reads it at ``revision`` (BlockInfo, custom-serialization flag)."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def string() -> bytes:
        nonlocal pos
        n = varint()
        pos += n
        return data[pos - n : pos]

    def fixed(n: int, count: int, signed: bool = False) -> list[int]:
        nonlocal pos
        out = [int.from_bytes(data[pos + i * n : pos + (i + 1) * n], "little", signed=signed) for i in range(count)]
        pos += n * count
        return out

    def column(kind: str, count: int) -> list:
        nonlocal pos
        if kind == "String":
            return [string().decode() for _ in range(count)]
        if kind.startswith("DateTime(") or kind == "DateTime" or kind == "UInt32":
            return fixed(4, count)
        if kind in ("UInt8", "UInt16", "UInt64"):
            return fixed({"UInt8": 1, "UInt16": 2, "UInt64": 8}[kind], count)
        if kind == "Float64":
            import struct

            out = list(struct.unpack_from(f"<{count}d", data, pos))
            pos += 8 * count
            return out
        raise AssertionError(f"type {kind} not in this test's reader")

    columns: list[tuple[str, str]] = []
    values: list[list] = []
    while pos < len(data):
        assert data[pos : pos + 8] == b"\x01\x00\x02\xff\xff\xff\xff\x00"  # BlockInfo
        pos += 8
        ncols, nrows = varint(), varint()
        block = []
        for i in range(ncols):
            name, kind = string().decode(), string().decode()
            if revision >= 54454:
                assert data[pos] == 0  # no custom serialization
                pos += 1
            if len(columns) < ncols:
                columns.append((name, kind))
            block.append(column(kind, nrows))
            assert columns[i] == (name, kind)
        values.extend([list(r) for r in zip(*block, strict=True)])
    return columns, values


def grafana_post(stack: Stack, sql: str, **settings: str) -> httpx.Response:
    """A request as clickhouse-go sends it for the plugin: settings in the URL, SQL in the body, basic auth."""
    params = {"database": "default", "default_format": "Native", "client_protocol_version": str(GO_REVISION)}
    params.update(settings)
    auth = base64.b64encode(b"default:").decode()
    headers = {"Authorization": f"Basic {auth}", "Accept-Encoding": "gzip", "User-Agent": GRAFANA_UA}
    return httpx.post(url(stack), params=params, content=sql, headers=headers)


def test_grafana_health_check_and_a_panel_query(stack):
    hello = grafana_post(stack, "SELECT displayName(), version(), revision(), timezone()")
    assert hello.status_code == 200, hello.text
    columns, values = decode_native(hello.content, GO_REVISION)
    assert [t for _, t in columns] == ["String", "String", "UInt32", "String"]
    version = httpx.get(url(stack), params={"query": "SELECT version()"}).text.strip()
    assert values[0][1] == version and values[0][2] >= 54454
    ping = grafana_post(stack, "SELECT 1")  # the datasource health check: database/sql's PingContext
    assert decode_native(ping.content, GO_REVISION) == ([("1", "UInt8")], [[1]])

    sql = next(
        s
        for _b, p, s in panel_queries(query_reader(stack.settings), DAY, [ROOT / "dashboards" / "overview.json"])
        if p["type"] == "timeseries"
    )
    r = grafana_post(stack, sql, limit="1000000")  # Grafana's row limit reaches the server as `limit`
    assert r.status_code == 200, r.text
    columns, values = decode_native(r.content, GO_REVISION)
    want = httpx.post(url(stack) + "?default_format=JSONCompact", content=sql).json()
    assert [(c["name"], c["type"]) for c in want["meta"]] == columns
    assert len(values) == len(want["data"]) > 0
    names = [i for i, (_, t) in enumerate(columns) if t == "String"]
    assert [[row[i] for i in names] for row in values] == [[row[i] for i in names] for row in want["data"]]


# -- the project's own commands through YZMON_READER_DSN -------------------------------------------------------------


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    s = stack.settings
    env = {
        **os.environ,
        "YZMON_DATA_DIR": str(s.data_dir),
        "YZMON_BROKER_PORT": str(s.broker_port),
        "YZMON_WORKER_PORT": str(s.worker_port),
        "YZMON_SQL_PORT": str(s.sql_port),
        "YZMON_READER_DSN": f"http://default@127.0.0.1:{s.sql_port}/default",
    }
    return subprocess.run(
        [sys.executable, "-m", "yzmon.cli", *args], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def test_yzmon_sql_status_and_report_through_the_reader_dsn(stack, tmp_path):
    out = cli(stack, "sql", "SELECT district, sum(amount) AS total FROM v_sales GROUP BY district", "--format", "csv")
    assert out.returncode == 0, out.stderr
    got = {line.split(",")[0].strip('"'): Decimal(line.split(",")[1]) for line in out.stdout.splitlines()[1:]}
    assert got == sales_by_district(stack)
    status = cli(stack, "status")
    assert status.returncode == 0 and "rows landed" in status.stdout and "sales" in status.stdout, status.stdout
    report = cli(stack, "report", "--date", DAY.isoformat(), "--out", str(tmp_path / "b.html"))
    assert report.returncode == 0, report.stderr + report.stdout
    assert "<html" in (tmp_path / "b.html").read_text(encoding="utf-8")


# -- refusals ------------------------------------------------------------------------------------------------------

REFUSED = [
    ("INSERT INTO targets (year) VALUES (1)", "164"),
    ("CREATE TABLE x (a UInt8) ENGINE = Memory", "164"),
    ("DROP TABLE sales_raw", "164"),
    ("ALTER TABLE sales_raw DELETE WHERE 1", "164"),
    ("OPTIMIZE TABLE sales_raw FINAL", "164"),
    ("SYSTEM FLUSH LOGS", "164"),
    ("KILL QUERY WHERE 1", "164"),
    ("SET max_execution_time = 0", "164"),
    ("SELECT 1 SETTINGS max_execution_time = 0", "164"),
    ("SELECT 1; DROP TABLE sales_raw", "62"),
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "497"),
    ("SELECT number FROM numbers(2) WHERE toString(number) IN file('/etc/hostname', 'LineAsString')", "497"),
    ("DESCRIBE TABLE file('/etc/hostname', 'LineAsString')", "497"),
    ("SELECT * FROM url('http://127.0.0.1:1/x', 'LineAsString')", "497"),
    ("SELECT * FROM s3('http://127.0.0.1:1/bucket/x.csv', 'CSV', 'a String')", "497"),
    ("SELECT * FROM executable('ls', 'TSV', 'x String')", "497"),
    ("SELECT * FROM remote('127.0.0.1:9000', system.one)", "497"),
    ("SELECT * FROM python('os')", "497"),
    ("SELECT 1 INTO OUTFILE '/tmp/yzmon-outfile.csv'", "497"),
]


@pytest.mark.parametrize(("sql", "code"), REFUSED, ids=[s[:40] for s, _ in REFUSED])
def test_writes_ddl_and_outside_reads_are_refused(stack, sql, code):
    r = httpx.post(url(stack), content=sql)
    assert r.status_code != 200 and r.headers["X-ClickHouse-Exception-Code"] == code, (r.status_code, r.text)
    assert not Path("/tmp/yzmon-outfile.csv").exists()


@pytest.mark.parametrize(
    "setting",
    ["max_execution_time=0", "max_execution_time=100000", "max_memory_usage=0", "max_rows_to_read=0", "readonly=0",
     "max_result_rows=0", "allow_ddl=1", "log_comment=x", "max_threads=1000"],
)  # fmt: skip
def test_settings_that_lift_limits_are_refused(stack, setting):
    r = httpx.post(url(stack) + "?" + setting, content="SELECT 1")
    assert (r.status_code, r.headers["X-ClickHouse-Exception-Code"]) == (403, "164"), r.text


def test_settings_that_shape_the_output_are_taken(stack):
    r = httpx.post(url(stack) + "?output_format_json_quote_64bit_integers=0&max_execution_time=5&limit=2",
                   content="SELECT number FROM numbers(10) FORMAT JSONEachRow")  # fmt: skip
    assert r.text.splitlines() == ['{"number":0}', '{"number":1}']
    assert client(stack).query("SELECT value FROM system.settings WHERE name = 'readonly'").result_rows == [("1",)]


def test_the_store_is_unchanged_by_refused_requests(stack):
    n = rows(query_reader(stack.settings), "SELECT count() AS n FROM sales_raw")[0]["n"]
    assert int(n) > 0


# -- limits, cancellation, and ingestion under a heavy read ---------------------------------------------------------


def running(stack: Stack, marker: str) -> list[str]:
    r = httpx.post(url(stack), content=f"SELECT query FROM system.processes WHERE query LIKE '%{marker}%' "
                   "AND query NOT LIKE '%system.processes%' FORMAT JSONEachRow")  # fmt: skip
    return r.text.splitlines()


def test_a_runaway_query_is_stopped_by_a_limit_that_it_names(stack):
    r = httpx.post(url(stack), content="SELECT count() FROM numbers(100000000000) WHERE number % 7 = 3")
    assert r.headers["X-ClickHouse-Exception-Code"] == "158"
    assert "max_rows_to_read" in r.text and "YZMON_READ_MAX_ROWS_TO_READ" in r.text
    r = httpx.post(
        url(stack) + "?max_execution_time=1",
        content="SELECT count() FROM numbers(1000000000) WHERE cityHash64(toString(number)) % 7 = 3",
        timeout=60,
    )
    assert r.headers["X-ClickHouse-Exception-Code"] == "159"
    assert "max_execution_time" in r.text and "YZMON_READ_MAX_EXECUTION_TIME_S" in r.text
    with pytest.raises(Exception, match="max_rows_to_read"):
        client(stack).query("SELECT count() FROM numbers(100000000000)")


def test_a_query_is_cancelled_when_its_client_goes_away(stack):
    marker = "cityHash64(toString(number), 7)"
    with pytest.raises(httpx.TimeoutException):
        httpx.post(url(stack), content=f"SELECT count() FROM numbers(1900000000) WHERE {marker} % 7 = 3", timeout=1.5)
    deadline = time.monotonic() + 20
    while running(stack, marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running(stack, marker) == []


def test_ingestion_goes_on_while_a_heavy_read_runs(stack):
    """Events sent while a CPU-heavy read runs land before it ends (reads and writes are separate sessions)."""
    import orjson

    reader = query_reader(stack.settings)
    marker = "cityHash64(toString(number), 11)"
    heavy = http.client.HTTPConnection("127.0.0.1", stack.settings.sql_port, timeout=120)
    heavy.request("POST", "/?max_execution_time=50", f"SELECT count() FROM numbers(1900000000) WHERE {marker} % 7 = 3")
    while not running(stack, marker):
        time.sleep(0.1)
    events = [
        {
            "event_id": f"during-heavy-read-{i}",
            "event_time": f"2024-10-05T12:{i // 60:02d}:{i % 60:02d}+08:00",
            "district": "daping",
            "sector": "retail",
            "merchant_group": "g",
            "amount": "1.00",
            "txn_count": 1,
        }
        for i in range(200)
    ]
    producer = FeedProducer(stack.settings)
    producer.send_raw("sales", b"daping", orjson.dumps(events))
    producer.close()
    landed_during = 0
    while not landed_during and running(stack, marker):
        n = rows(reader, "SELECT count() AS n FROM sales_raw WHERE event_id LIKE 'during-heavy-read-%'")[0]["n"]
        if int(n) and running(stack, marker):  # landed, and the read is still running
            landed_during = int(n)
        time.sleep(0.5)
    heavy.sock.shutdown(socket.SHUT_RDWR)  # the analyst gives up: the read is cancelled
    heavy.close()
    assert landed_during == 200, "the events did not land while the heavy read ran"
    deadline = time.monotonic() + 20
    while running(stack, marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running(stack, marker) == []
