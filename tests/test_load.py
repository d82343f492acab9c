"""Real feed files: mapping, validation with line numbers, and the shipped examples."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from support import FakeKafka
from typer.testing import CliRunner

from producers.files import BadRow, Mapping, MappingError, count_rows, load_file, stream_file
from yzcore.settings import Settings
from yzmon.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "feeds"


@pytest.mark.parametrize(
    ("feed", "name"),
    [
        ("sales", "sales_unionpay.csv"),
        ("footfall", "footfall_counters.jsonl"),
        ("tourists", "tourists_signalling.parquet"),
    ],
)
def test_shipped_examples_load_cleanly(feed, name):
    path = EXAMPLES / name
    loaded = load_file(path, Mapping.load(path.with_name(path.stem + ".mapping.yaml"), feed))
    assert loaded.bad == [] and len(loaded.events) == loaded.rows == 40
    assert all(e["event_time"].endswith("+08:00") for e in loaded.events)


def test_mapping_translates_names_units_and_zones():
    path = EXAMPLES / "tourists_signalling.parquet"
    frame = pd.read_parquet(path)
    loaded = load_file(path, Mapping.load(EXAMPLES / "tourists_signalling.mapping.yaml", "tourists"))
    assert {e["origin"] for e in loaded.events} <= {
        "chongqing",
        "chengdu",
        "sichuan_other",
        "other_province",
        "overseas",
    }
    assert sum(Decimal(e["spend"]) for e in loaded.events) == Decimal(int(frame["spend_fen"].sum())) / 100


def test_bad_rows_are_reported_with_line_numbers(tmp_path):
    src = (EXAMPLES / "sales_unionpay.csv").read_text(encoding="utf-8").splitlines()
    rows = src[:4]
    rows[2] = rows[2].replace("解放碑—朝天门", "火星")  # line 3: unknown 商圈
    rows[3] = rows[3].rsplit(",", 2)[0] + ",-5.00," + rows[3].rsplit(",", 1)[1]  # line 4: negative amount
    rows.append("UPX,not a time,大坪,零售,daping-retail-01,12.00,1")  # line 5
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    loaded = load_file(path, Mapping.load(EXAMPLES / "sales_unionpay.mapping.yaml", "sales"))
    assert [(b.line, b.reason) for b in loaded.bad] == [
        (3, "unknown_district"),
        (4, "negative_amount"),
        (5, "schema_violation"),
    ]
    assert len(loaded.events) == 1 and loaded.rows == 4


def test_malformed_json_lines_keep_their_line_numbers(tmp_path):
    lines = (EXAMPLES / "footfall_counters.jsonl").read_text().splitlines()[:3]
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join([lines[0], "{oops", lines[1], "[1]", lines[2]]) + "\n")
    loaded = load_file(path, Mapping.load(EXAMPLES / "footfall_counters.mapping.yaml", "footfall"))
    assert [(b.line, b.reason) for b in loaded.bad] == [(2, "malformed_json"), (4, "malformed_json")]
    assert len(loaded.events) == 3 and loaded.rows == 5


def test_the_same_row_gets_the_same_derived_event_id():
    path = EXAMPLES / "footfall_counters.jsonl"
    m = Mapping.load(EXAMPLES / "footfall_counters.mapping.yaml", "footfall")
    assert [e["event_id"] for e in load_file(path, m).events] == [e["event_id"] for e in load_file(path, m).events]


def test_a_mapping_for_another_feed_or_unknown_field_is_refused(tmp_path):
    with pytest.raises(MappingError, match="maps the 'sales' feed"):
        Mapping.load(EXAMPLES / "sales_unionpay.mapping.yaml", "footfall")
    bad = tmp_path / "m.yaml"
    bad.write_text("feed: sales\ncolumns: {price: 金额}\n")
    with pytest.raises(MappingError, match="not fields of sales"):
        Mapping.load(bad, "sales")


def test_cli_dry_run_reports_and_exits_2_on_bad_rows(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "event_id,event_time,district,sector,merchant_group,amount,txn_count\n"
        "a,2024-10-01T10:00:00+08:00,daping,retail,g,10.00,1\n"
        "b,2024-10-01T10:01:00+08:00,daping,retail,g,abc,1\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["load", str(path), "--feed", "sales", "--dry-run"])
    assert result.exit_code == 2
    assert "s.csv:3: schema_violation" in result.output
    assert (tmp_path / "s.csv.rejects.csv").read_text().startswith("line,reason,detail\n3,schema_violation,")


def test_streamed_reading_keeps_line_numbers_across_chunks(tmp_path):
    """Chunks of 7 rows: rejects and valid rows keep the file's line numbers at every chunk edge."""
    src = (EXAMPLES / "sales_unionpay.csv").read_text(encoding="utf-8").splitlines()
    lines = [src[0], *src[1:41]]
    for n in (8, 9, 15, 22, 41):  # file lines at and beside chunk edges (line 1 is the header)
        lines[n - 1] = lines[n - 1].replace("解放碑—朝天门", "火星").replace("洪崖洞", "火星").replace("大坪", "火星")
        lines[n - 1] = lines[n - 1].replace("十八梯—山城巷", "火星").replace("化龙桥", "火星")
        lines[n - 1] = lines[n - 1].replace("鹅岭—佛图关", "火星").replace("渝中其他", "火星")
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    m = Mapping.load(EXAMPLES / "sales_unionpay.mapping.yaml", "sales")
    got = list(stream_file(path, m, chunk_rows=7))
    assert [line for line, _ in got] == list(range(2, 42))
    assert [line for line, item in got if isinstance(item, BadRow)] == [8, 9, 15, 22, 41]
    assert count_rows(path) == 40


def test_parquet_and_json_lines_stream_in_batches_with_the_same_events(tmp_path):
    for name, feed in (("tourists_signalling.parquet", "tourists"), ("footfall_counters.jsonl", "footfall")):
        path = EXAMPLES / name
        m = Mapping.load(path.with_name(path.stem + ".mapping.yaml"), feed)
        small = [item for _, item in stream_file(path, m, chunk_rows=3)]
        whole = [item for _, item in stream_file(path, m, chunk_rows=1000)]
        assert small == whole and len(small) == count_rows(path) == 40


def test_confirming_mid_stream_does_not_reenter_the_bundle_push(monkeypatch):
    """Confirmation every CONFIRM_EVENTS events used to push bundles while push() iterated them (KeyError)."""
    import orjson

    import producers.kafka as kafka_mod

    fake = FakeKafka()
    monkeypatch.setattr(kafka_mod, "CONFIRM_EVENTS", 1000)
    monkeypatch.setattr(kafka_mod.FeedProducer, "_connect", lambda self: fake)
    producer = kafka_mod.FeedProducer(
        Settings(kafka_bootstrap="kafka.invalid:9092"), validate=False, linger_ms=0, bundle_events=500
    )
    districts = ["jiefangbei", "hongyadong", "shibati", "daping", "hualongqiao", "eling", "other"]
    n = 12_345
    for i in range(n):
        producer.send("sales", {"event_id": f"e{i}", "district": districts[i % 7]})
    producer.close()
    assert producer.sent == n
    ids = [e["event_id"] for _, _, value in fake.records for e in orjson.loads(value)]
    assert sorted(ids) == sorted(f"e{i}" for i in range(n))  # every event once


def _unionpay_file(path: Path, rows: int) -> Decimal:
    """A provider file in the shipped 银联 layout: the example's rows repeated with new ids and times."""
    import csv
    from datetime import datetime, timedelta

    with (EXAMPLES / "sales_unionpay.csv").open(encoding="utf-8") as f:
        header, *template = list(csv.reader(f))
    start = datetime(2024, 10, 2)
    total = Decimal(0)
    with path.open("w", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        for i in range(rows):
            _, _, district, sector, merchant, amount, count = template[i % len(template)]
            value = Decimal(amount) + Decimal(i % 97) / 100
            total += value
            when = start + timedelta(seconds=i * 86400 // rows)
            f.write(f"UP{i:07d},{when:%Y-%m-%d %H:%M:%S},{district},{sector},{merchant},{value},{count}\n")
    return total


@pytest.mark.e2e
def test_a_300k_row_file_lands_every_row_once_in_bounded_memory_through_broker_recycles(tmp_path, free_port):
    """`yzmon load` of 300,000 rows at --speed max: exit 0, every row landed once with exact money, the
    load's memory bounded; the broker is recycled (low threshold) and nothing is lost."""
    from clickhouse_connect.driver.exceptions import OperationalError
    from support import DetachedStack

    from yzcore.store import StoreError, query_reader, rows

    n = 300_000
    path = tmp_path / "unionpay_300k.csv"
    total = _unionpay_file(path, n)
    # records sent uncompressed, so that the file's 75 MB take the broker past its recycle threshold
    stack = DetachedStack.up(
        tmp_path / "stack", free_port(), free_port(), free_port(), broker_recycle_mb=48, kafka_compression="none"
    )
    try:
        measured = stack.env | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        wrapper = (
            "import resource, subprocess, sys\n"
            "done = subprocess.run([sys.executable, '-m', 'yzmon.cli', *sys.argv[1:]])\n"
            "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(done.returncode)\n"
        )
        import subprocess
        import sys

        mapping = EXAMPLES / "sales_unionpay.mapping.yaml"
        done = subprocess.run(
            [sys.executable, "-c", wrapper, "load", str(path), "--feed", "sales", "--mapping", str(mapping)],
            env=measured,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "300,000 valid rows sent, 0 invalid" in done.stdout
        assert not (tmp_path / "unionpay_300k.csv.rejects.csv").exists()
        peak_mb = int(done.stderr.rsplit("PEAK_KB", 1)[1].split()[0]) / 1024
        assert peak_mb < 400, f"the load peaked at {peak_mb:.0f} MiB"  # it read the whole file before: 626 MB
        stack.wait(lambda s: s["recycles"] >= 1, "a broker recycle", timeout_s=300)
        stack.worker_ready()
        sql = "SELECT count() AS n, uniqExact(event_id) AS ids, sum(amount) AS amount FROM sales_raw FINAL"

        def landed() -> dict:
            try:
                return rows(query_reader(stack.settings), sql)[0]
            # the worker is being recycled with the broker: ask again once it is back
            except (StoreError, OperationalError):
                stack.worker_ready()
                return {"n": -1}

        deadline = time.monotonic() + 300
        while int((got := landed())["n"]) < n and time.monotonic() < deadline:
            time.sleep(1)
        assert int(got["n"]) == int(got["ids"]) == n
        assert Decimal(str(got["amount"])) == total
        assert stack.state()["children"]["broker"]["restarts"] == 0  # recycled, never crashed
    finally:
        stack.down()


@pytest.mark.e2e
def test_a_kill_9_of_the_broker_mid_load_loses_nothing(tmp_path, free_port):
    """The embedded broker killed while a 300,000-row `yzmon load` runs, after part has landed and more
    has been acknowledged: the load sends again what had not landed, exits 0, and every row lands once."""
    import subprocess
    import sys

    from clickhouse_connect.driver.exceptions import OperationalError
    from support import DetachedStack

    from yzcore.store import StoreError, query_reader, rows

    n = 300_000
    path = tmp_path / "unionpay_300k.csv"
    total = _unionpay_file(path, n)
    stack = DetachedStack.up(tmp_path / "stack", free_port(), free_port(), free_port())
    sql = "SELECT count() AS n, uniqExact(event_id) AS ids, sum(amount) AS amount FROM sales_raw FINAL"

    def landed() -> dict:
        try:
            return rows(query_reader(stack.settings), sql)[0]
        except (StoreError, OperationalError):  # the worker restarts with the broker
            return {"n": -1}

    try:
        mapping = EXAMPLES / "sales_unionpay.mapping.yaml"
        load = subprocess.Popen(
            [sys.executable, "-m", "yzmon.cli", "load", str(path), "--feed", "sales", "--mapping", str(mapping)],
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        from yzmon.offsets import group_lag

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and load.poll() is None:  # part landed, more held by the broker
            if int(landed()["n"]) >= 100_000 and sum((group_lag(stack.settings.bootstrap) or {}).values()) > 0:
                break
            time.sleep(0.1)
        assert load.poll() is None, "the load ended before the broker could be killed mid-way"
        state = stack.state()
        assert _kill_the_broker_once_its_logs_grow(state, load, stack.settings.bootstrap), (
            "the broker's logs never grew while the worker was paused"
        )
        out, err = load.communicate(timeout=900)
        assert load.returncode == 0, err[-2000:]
        assert "300,000 valid rows sent, 0 invalid" in out
        got = landed()  # the load waited until the ledger showed every record landed
        assert int(got["n"]) == int(got["ids"]) == n
        assert Decimal(str(got["amount"])) == total
        state = stack.state()
        assert state["children"]["broker"]["restarts"] == 1
        resent = (stack.settings.data_dir / "logs" / "resent.log").read_text()
        assert "yzmon load unionpay_300k.csv: the broker was restarted; sent again" in resent
        status = stack.yzmon("status")
        assert "re-sent" in status.stdout and "sent again" in status.stdout
    finally:
        stack.down()


def _kill_the_broker_once_its_logs_grow(state: dict, load, bootstrap: str) -> bool:
    """Pause the worker and kill the broker once its logs grew: those records were acknowledged after the worker
    stopped fetching, so they cannot land before the kill (records the worker had already fetched would land
    after it, and the load could then find nothing to send again). The load may be holding back, waiting for the
    paused worker to land what it sent: the worker then runs for a while before the next try. False when the
    logs never grew or the load ended first."""
    import os
    import signal

    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    from yzmon.offsets import feed_partitions

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)

    def ends() -> int:  # -1 while the broker does not answer (busy with the load)
        try:
            return sum(consumer.end_offsets(feed_partitions(consumer)).values())
        except KafkaError:
            return -1

    try:
        for _ in range(20):
            os.kill(state["worker"], signal.SIGSTOP)
            try:
                before, grown = ends(), time.monotonic() + 10
                while before >= 0 and time.monotonic() < grown and load.poll() is None:
                    if ends() > before:
                        time.sleep(1)  # the broker's acknowledgement reaches the load
                        os.kill(state["broker"], signal.SIGKILL)
                        return True
                    time.sleep(0.1)
            finally:
                os.kill(state["worker"], signal.SIGCONT)
            if load.poll() is not None:
                return False
            time.sleep(3)  # the worker lands what the load waits for
        return False
    finally:
        consumer.close()
