"""The tests' shared helpers: the sample event, the embedded stack and its totals, the loaded store of the
dashboard checks, docker-compose.yml's interpolation. Test modules import from here, never from each other."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from producers.kafka import FeedProducer
from producers.replay import replay
from readpath.sqlhttp import SqlHttpServer
from schemas.feeds import FEEDS, GROUP_ID
from simulators.generate import bad_events, day_events
from simulators.run import RunSpec
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.sink import ClickHouseSink
from yzcore.migrate import migrate
from yzcore.settings import Settings
from yzcore.store import connect, query_reader, rows
from yzmon.broker import log_end_offsets
from yzmon.stack import Stack, state_file
from yzmon.status import consumer_lag


def sale(event_id: str = "e1", **changes) -> dict:
    """The sample sale event of the tests (a valid retail.sales.v1 event); ``changes`` replace or add fields."""
    return {
        "event_id": event_id,
        "event_time": "2024-10-01T12:00:00+08:00",
        "district": "daping",
        "sector": "retail",
        "merchant_group": "g",
        "amount": "1.00",
        "txn_count": 1,
        **changes,
    }


def _totals_sql(layer: str, name: str) -> str:
    """Totals per local day × 商圈 × the feed's first dimension (or none), one column per measure,
    of the raw table or the minute aggregates: from the feed registry."""
    feed = FEEDS[name]
    table, when = (feed.raw_table, "event_time") if layer == "raw" else (feed.level_table("minute"), "minute")
    dimension = feed.dims[0] if feed.dims else "''"
    sums = ", ".join(f"sum({m}) AS {m}" for m in feed.measures)
    return (
        f"SELECT toString(toDate({when}, 'Asia/Shanghai')) AS day, district, {dimension} AS dimension, {sums} "
        f"FROM {table} FINAL GROUP BY ALL"
    )


SQL = {(layer, name): _totals_sql(layer, name) for layer in ("raw", "agg") for name in FEEDS}


def store_totals(reader, layer: str) -> dict[tuple, Decimal]:
    out: dict[tuple, Decimal] = {}
    for feed in FEEDS:
        for r in rows(reader, SQL[(layer, feed)]):
            for measure, value in r.items():
                if measure not in ("day", "district", "dimension"):
                    out[(r["day"], r["district"], feed, r["dimension"], measure)] = Decimal(str(value))
    return out


def wait_idle(settings: Settings, expected_events: int = 0, timeout_s: float = 300) -> None:
    """Idle = no consumer lag and at least ``expected_events`` distinct events in the store (raw rows plus
    rejected records). A Kafka record may carry a bundle of events, so the store is what is counted."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lag = consumer_lag(settings)
        if lag is not None and sum(lag.values()) == 0 and _stored(settings) >= expected_events:
            return
        time.sleep(0.2)
    raise AssertionError(
        f"worker not idle after {timeout_s} s: lag {consumer_lag(settings)}, "
        f"{_stored(settings)} of {expected_events} events stored"
    )


def _stored(settings: Settings) -> int:
    tables = [f.raw_table for f in FEEDS.values()] + ["rejected_events"]
    sql = "SELECT " + " + ".join(f"(SELECT count() FROM {t} FINAL)" for t in tables) + " AS n"
    return int(rows(query_reader(settings), sql)[0]["n"])


def _committed(settings: Settings) -> int:

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        offsets = admin.list_group_offsets(GROUP_ID).get(GROUP_ID, {})
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic in {f.topic for f in FEEDS.values()})
    finally:
        admin.close()


FEEDS_BY_TOPIC = {f.topic: f.name for f in FEEDS.values()}


def read_all(bootstrap: str, topics: list[str], timeout_s: float = 60) -> list[ConsumerRecord]:
    """Every record now in ``topics``, read up to each partition's end (no idle timeout to wait out)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
        ends = log_end_offsets(consumer, tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topics} to their ends {ends}"
            for records in consumer.poll(timeout_ms=200).values():
                got.extend(records)
        return got
    finally:
        consumer.close()


def dead_letters(settings: Settings) -> Counter:
    got: Counter = Counter()
    for msg in read_all(settings.bootstrap, [f.dlq_topic for f in FEEDS.values()]):
        headers = dict(msg.headers)
        got[(FEEDS_BY_TOPIC[msg.topic.removesuffix(".dlq")], headers["yzmon.error.reason"].decode())] += 1
    return got


def start_stack(data_dir, free_port, **overrides) -> Stack:
    """An embedded stack on free ports in ``data_dir`` (3 partitions, 2000-record batches unless overridden)."""
    settings = Settings(
        data_dir=data_dir,
        broker_port=free_port(),
        worker_port=free_port(),
        sql_port=free_port(),
        **{"topic_partitions": 3, "batch_max": 2000, **overrides},
    )
    stack = Stack(settings)
    stack.start(wait_ready_s=120)
    return stack


# -- a stack started the way an operator starts it: `yzmon up --detach`, its own data dir and ports -------------
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class DetachedStack:
    settings: Settings
    env: dict[str, str]

    @classmethod
    def up(cls, data_dir: Path, broker_port: int, worker_port: int, sql_port: int, **extra: str) -> DetachedStack:
        env = {
            **os.environ,
            "YZMON_DATA_DIR": str(data_dir),
            "YZMON_BROKER_PORT": str(broker_port),
            "YZMON_WORKER_PORT": str(worker_port),
            "YZMON_SQL_PORT": str(sql_port),
            "COLUMNS": "250",  # rich tables on one line each, for the assertions
            **{f"YZMON_{k.upper()}": str(v) for k, v in extra.items()},
        }
        env.pop("YZMON_KAFKA_BOOTSTRAP", None)
        env.pop("YZMON_CLICKHOUSE_DSN", None)
        stack = cls(
            Settings(data_dir=data_dir, broker_port=broker_port, worker_port=worker_port, sql_port=sql_port, **extra),
            env,
        )
        done = stack.yzmon("up", "--detach", timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        stack.wait(lambda s: s.get("worker"), "the stack to come up")
        return stack

    def yzmon(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "yzmon.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def state(self) -> dict:
        try:
            return json.loads((self.settings.data_dir / "stack.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait(self, condition, what: str, timeout_s: float = 180) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.state()
            if state and condition(state):
                return state
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; supervisor state: {self.state()}")

    def worker_ready(self) -> None:
        """Wait until the (possibly restarted) worker answers, holds its partitions and serves reads."""
        import httpx

        from yzcore.store import interface_up

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"{self.settings.worker_url}/status", timeout=2).json()
                if status.get("assigned") and interface_up(self.settings):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        raise AssertionError(f"the worker did not come back; supervisor state: {self.state()}")

    def down(self) -> None:
        self.yzmon("down", timeout=120)


# The shared stack's day (tests/conftest.py: shared_stack): every 商圈 and feed, with 5 bad records per feed.
SHARED_DAY = RunSpec(load("baseline"), 7, date(2024, 10, 1), date(2024, 10, 2), bad_per_day=5)


@dataclass
class Replayed:
    """A running stack and the run replayed into it (``sent`` records), landed."""

    stack: DetachedStack
    spec: RunSpec
    sent: int

    @property
    def settings(self) -> Settings:
        return self.stack.settings


def replay_landed(stack: DetachedStack, spec: RunSpec) -> Replayed:
    """Replay ``spec`` at full speed into ``stack`` and wait until the worker has landed all of it."""
    producer = FeedProducer(stack.settings)
    try:
        sent = replay(spec, producer, None, show_progress=False)
    finally:
        producer.close()
    wait_idle(stack.settings, sent)
    return Replayed(stack, spec, sent)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down_leaves_no_process(stack: DetachedStack, timeout_s: float = 30) -> None:
    """`yzmon down` stops the detached stack, and its supervisor, worker and broker are gone."""
    state = stack.state()
    pids = [state[k] for k in ("supervisor", "worker", "broker") if state.get(k)]
    down = stack.yzmon("down", timeout=120)
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
    deadline = time.monotonic() + timeout_s
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running after `yzmon down`: {[p for p in pids if alive(p)]}"
        time.sleep(0.05)
    assert not state_file(stack.settings).exists()


class Acked:
    """An acknowledged send of :class:`FakeKafka`."""

    is_done = True

    def __init__(self, topic: str):
        self.value = type("Md", (), {"topic": topic, "partition": 0, "offset": 0})()

    def failed(self) -> bool:
        return False

    def succeeded(self) -> bool:
        return True


class FakeKafka:
    """A Kafka producer client that acknowledges every record at once and keeps them (for FeedProducer tests)."""

    def __init__(self):
        self.records: list[tuple[str, bytes | None, bytes]] = []

    def send(self, topic, key=None, value=None):
        self.records.append((topic, key, value))
        return Acked(topic)

    def flush(self, timeout=None):
        pass

    def close(self, timeout=None):
        pass


class ReadServer:
    """ClickHouse's HTTP interface served in this process (as the worker serves it) on the session's chDB
    directory, on a free port; ``database`` is where the test's tables are."""

    def __init__(self, chdb_dir, free_port, database: str = "default", **overrides):
        self.settings = Settings(_env_file=None, sql_port=free_port(), **overrides)
        self.database = database
        self.server = SqlHttpServer(self.settings, str(chdb_dir))
        self.server.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.sql_port}/"

    @property
    def dsn(self) -> str:
        return f"http://default@127.0.0.1:{self.settings.sql_port}/{self.database}"

    def stop(self) -> None:
        self.server.stop()


def land_records(dsn: str, by_feed: dict[str, list[bytes]]) -> None:
    """Land records (event JSON or bad bytes) through the worker's own write path: raw rows, rejects, rollups."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from streams.batch import Record, prepare
    from streams.sink import ClickHouseSink

    sink = ClickHouseSink(dsn)
    now = datetime.now(UTC)
    for feed, values in by_feed.items():
        for i in range(0, len(values), 5000):
            records = [Record(FEEDS[feed].topic, 0, i + j, v) for j, v in enumerate(values[i : i + 5000])]
            asyncio.run(sink.land(prepare(FEEDS[feed], records, now, timedelta(minutes=5))))


# -- a store loaded with the dashboards' test days (the dashboards, the alert rules and the briefing read it) ------
# 2023-10-04/05 are days 6 and 7 of 2023's eight-day 中秋国庆 window, aligned with 2024-10-06/07.
DAYS = [
    date(2023, 10, 4),
    date(2023, 10, 5),
    date(2023, 10, 6),
    date(2023, 10, 7),
    date(2024, 10, 6),
    date(2024, 10, 7),
]
DISTRICTS = ["jiefangbei", "daping", "hongyadong"]
LOADED_DB = "dashboards_all_loaded"


def _land(dsn: str) -> None:
    sink = ClickHouseSink(dsn)
    now = datetime.now(UTC)
    for feed_name, feed in FEEDS.items():
        marks: dict[tuple[int, str], datetime] = {}  # watermarks per (partition, 商圈)
        offset = 0
        for day in DAYS:
            events = [e for _, e in day_events(load("baseline"), 7, day, DISTRICTS, [feed_name])]
            records = [Record(feed.topic, 0, offset + i, orjson.dumps(e)) for i, e in enumerate(events)]
            offset += len(records)
            for i in range(0, len(records), 20000):
                asyncio.run(sink.land(prepare(feed, records[i : i + 20000], now, timedelta(minutes=5), marks)))
        # a redelivered hour of the first day: late against the watermark, deduplicated by the raw tables
        late = [e for _, e in day_events(load("baseline"), 7, DAYS[-2], DISTRICTS[:1], [feed_name])][:200]
        records = [Record(feed.topic, 1, 10**7 + i, orjson.dumps(e)) for i, e in enumerate(late)]
        moved = {(1, district): mark for (_, district), mark in marks.items()}  # partition 0's, on partition 1
        asyncio.run(sink.land(prepare(feed, records, now, timedelta(minutes=5), moved)))
    bad = bad_events(load("baseline"), 7, DAYS[-1], "sales", 10)
    records = [Record(FEEDS["sales"].topic, 2, i, payload) for i, (_, payload) in enumerate(bad)]
    asyncio.run(sink.land(prepare(FEEDS["sales"], records, now, timedelta(minutes=5))))


def loaded_dsn(chdb_dir: Path) -> str:
    """The DSN of a migrated database holding the test days (loaded once per chDB directory)."""
    dsn = f"chdb://{chdb_dir}?database={LOADED_DB}"
    connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE IF NOT EXISTS {LOADED_DB}")
    client = connect(dsn)
    migrate(client)
    if client.query("SELECT count() FROM ingest_batches").result_rows[0][0] == 0:
        _land(dsn)
    return dsn


# -- docker-compose.yml and its deploy files (the compose and the cluster checks) --------------------------------
class MissingVariable(KeyError):
    pass


_REF = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>.*))?", re.S)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one string: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?m}, ${VAR?m}."""

    def sub(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        if m.group("named"):
            return env.get(m.group("named"), "")
        parsed = _BRACED.fullmatch(m.group("braced"))
        assert parsed, f"unparsable reference ${{{m.group('braced')}}}"
        name, op, arg = parsed.group("name", "op", "arg")
        value = env.get(name)
        if op is None:
            return value or ""
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if (op == ":?" and not value) or (op == "?" and value is None):
            raise MissingVariable(name)
        return value or ""

    return _REF.sub(sub, text)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    return node


def _code(text: str) -> str:
    """The compose file without its comment lines and without $$ escapes."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")).replace("$$", "")


def referenced_variables(text: str) -> set[str]:
    text = _code(text)
    return {m.group(1) or m.group(2) for m in re.finditer(r"\$(?:\{([A-Za-z_]\w*)|([A-Za-z_]\w*))", text)}


def required_variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_]\w*):?\?", _code(text)))


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(host source, container target) of the service's bind mounts."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, _, rest = volume.partition(":")
        if source.startswith((".", "/", "~")):
            mounts.append((source, rest.split(":")[0]))
    return mounts


def compose_schema() -> dict:
    """The Compose specification schema vendored by check-jsonschema (found without importing its CLI)."""
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("check-jsonschema is missing: `pip install -e '.[dev]'` installs it (it vendors the schema)")
    path = Path(next(iter(spec.submodule_search_locations))) / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text(encoding="utf-8"))


def settings_for(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a process started with ``env`` (and no other YZMON_ variable, no .env) would read."""
    for key in list(os.environ):
        if key.startswith("YZMON_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)
