"""The cluster: migrations rendered for it, its compose file and configs, and rollups = raw on it.

Checked without Docker: every statement the cluster migration issues is parsed by the engine
(chDB's formatQuery), deploy/cluster/docker-compose.yml follows the Compose specification, the
Keeper and server configs agree with each other and with the compose file, and the reasons the
rollups stay equal to raw when a 商圈's partition moves between workers are exercised on the real
engine: two workers on one store, and two shard databases fed the way the Distributed tables
route rows (docs/operations.md, "Past one machine").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from support import (
    bind_mounts,
    compose_schema,
    env_of,
    interpolate_tree,
    parse_env_file,
    referenced_variables,
    required_variables,
)

from schemas.feeds import FEEDS
from simulators.generate import day_events
from simulators.scenario import load
from streams.batch import Prepared, Record, prepare
from streams.rollups import STATEMENTS, recompute_statements
from streams.sink import ClickHouseSink
from yzcore import queries
from yzcore.cluster import (
    GLOBAL_PATH,
    LOCAL_SUFFIX,
    SHARD_PATH,
    SHARDING_KEY,
    Cluster,
    ClusterRenderError,
    Engine,
)
from yzcore.migrate import LEDGER, RELEASES, cluster_plan, discover, migrate
from yzcore.settings import Settings
from yzcore.store import connect

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_DIR = ROOT / "deploy" / "cluster"
COMPOSE_FILE = CLUSTER_DIR / "docker-compose.yml"
ENV_EXAMPLE = CLUSTER_DIR / ".env.example"
SERVER_XML = CLUSTER_DIR / "clickhouse" / "config.d" / "cluster.xml"
KEEPER_XML = CLUSTER_DIR / "keeper" / "keeper.xml"
SINGLE_USERS_XML = ROOT / "deploy" / "clickhouse" / "users.d" / "yzmon.xml"
CLUSTER_USERS_XML = CLUSTER_DIR / "clickhouse" / "users.d" / "cluster.xml"
NAME = "yzmon"


# -- a client that records what migrate() sends ---------------------------------------------------------------------
class Recorder:
    """Stands in for a ClickHouse server that has nothing applied yet; records every command and insert."""

    def __init__(self, database: str = NAME) -> None:
        self.database = database
        self.commands: list[str] = []
        self.inserts: list[str] = []

    def command(self, sql: str, parameters: Any = None) -> Any:
        if sql == "SELECT currentDatabase()":
            return self.database
        self.commands.append(sql)
        return ""

    def query(self, sql: str, parameters: Any = None) -> Any:
        return type("Result", (), {"result_rows": []})()

    def insert(self, table: str, data: Any, column_names: Any = None, **_: Any) -> None:
        self.inserts.append(table)


@pytest.fixture(scope="module")
def cluster_run() -> Recorder:
    recorder = Recorder()
    migrate(recorder, cluster=NAME)  # type: ignore[arg-type]
    return recorder


@pytest.fixture(scope="module")
def plan() -> Cluster:
    schema = [LEDGER, RELEASES, *(s for m in discover() for s in m.statements())]
    return Cluster.for_schema(NAME, NAME, schema)


@pytest.fixture(scope="module")
def engine(chdb_dir: Path):
    return connect(f"chdb://{chdb_dir}")


def formatted(engine, statement: str) -> str:
    """The statement as the engine's parser reads it back (raises on a syntax error)."""
    return engine.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows[0][0]


# -- rendering -----------------------------------------------------------------------------------------------------
def test_every_statement_of_the_cluster_migration_parses(cluster_run: Recorder, engine) -> None:
    assert len(cluster_run.commands) > 40
    for statement in cluster_run.commands:
        text = formatted(engine, statement)
        if text.startswith("INSERT"):  # through a Distributed table: complete on the shards when it returns
            assert "distributed_foreground_insert = 1" in text, statement[:120]
        elif not text.startswith("SYSTEM"):
            assert f"ON CLUSTER {NAME}" in text, statement[:120]
    for statement in cluster_run.commands:
        if statement.startswith("CREATE TABLE") and " AS " not in statement.split("\n")[0]:
            text = formatted(engine, statement)
            assert "ENGINE = Replicated" in text and "'{replica}'" in text, statement[:120]


def test_the_migration_runs_every_file_rendered_and_records_it(cluster_run: Recorder, plan: Cluster) -> None:
    expected = [*plan.render(LEDGER), *plan.render(RELEASES)]
    for m in discover():
        for statement in m.statements():
            expected += plan.render(statement)
    assert cluster_run.commands[: len(expected)] == expected
    assert cluster_run.inserts.count("schema_migrations") == len(discover())
    assert cluster_run.commands[len(expected)] == f"SYSTEM SYNC REPLICA ON CLUSTER {NAME} schema_migrations"
    swaps = cluster_run.commands[len(expected) + 1 :]
    for table in ("dim_district", "dim_sector", "dim_origin", "dim_calendar"):
        twin = f"{table}__next"
        assert f"{twin}" in cluster_run.inserts
        create = next(s for s in swaps if s.startswith(f"CREATE TABLE {twin} ON CLUSTER {NAME} AS {table} "))
        assert f"'{GLOBAL_PATH}/" in create, "a twin needs a Keeper path of its own"
        order = [
            f"DROP TABLE IF EXISTS {twin} ON CLUSTER {NAME} SYNC",
            create,
            f"SYSTEM SYNC REPLICA ON CLUSTER {NAME} {twin}",
            f"EXCHANGE TABLES {twin} AND {table} ON CLUSTER {NAME}",
            f"DROP TABLE {twin} ON CLUSTER {NAME} SYNC",
        ]
        positions = [swaps.index(s) for s in order]
        assert positions == sorted(positions), f"{table}: the swap runs out of order"


def test_twins_never_share_a_keeper_path(plan: Cluster) -> None:
    paths = {re.search(r"'(/clickhouse/[^']+)'", plan.swap("dim_sector", "dim_sector__next")[0][1]).group(1)}
    paths.add(re.search(r"'(/clickhouse/[^']+)'", plan.swap("dim_sector", "dim_sector__next")[0][1]).group(1))
    assert len(paths) == 2
    with pytest.raises(ClusterRenderError, match="not a table replicated to every node"):
        plan.swap("sales_raw", "sales_raw__next")


def _creates(plan: Cluster) -> dict[str, list[str]]:
    return {table: plan.render(sql) for table, sql in plan.creates.items()}


def test_tables_keyed_by_district_are_sharded_the_rest_replicated_everywhere(plan: Cluster) -> None:
    raw = {feed.raw_table for feed in FEEDS.values()}
    rollups = {r.table for refreshes in STATEMENTS.values() for r in refreshes}
    copies = {t for t in plan.sharded if t.endswith("__regrain")}  # a migration's copies of a table, dropped by it
    assert copies == {f"{t}__regrain" for t in ("sales_agg_1m", "footfall_agg_1m", "tourists_agg_1m")}
    assert raw | rollups == plan.sharded - copies
    for table, rendered in _creates(plan).items():
        source = plan.creates[table]
        if table in plan.sharded:
            local, distributed = rendered
            assert local.startswith(f"CREATE TABLE IF NOT EXISTS {table}{LOCAL_SUFFIX} ON CLUSTER {NAME}\n")
            engine = Engine.of(table, source).name
            assert f"Replicated{engine}('{SHARD_PATH}', '{{replica}}'" in local
            assert distributed == (
                f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER {NAME} AS {table}{LOCAL_SUFFIX} "
                f"ENGINE = Distributed({NAME}, {NAME}, {table}{LOCAL_SUFFIX}, {SHARDING_KEY})"
            )
            # the deduplication key starts with the sharding column: a duplicate meets its original on one shard
            assert re.search(r"ORDER BY \(district,", local)
        else:
            (create,) = rendered
            assert f"('{GLOBAL_PATH}', '{{replica}}'" in create
            assert "Distributed" not in create
        tail = Engine.of(table, source).tail.strip()
        assert tail and tail in rendered[0], f"{table}: partitioning, sorting and TTL must not change"


def test_the_engine_arguments_are_kept_after_the_replication_arguments(plan: Cluster) -> None:
    (local, _) = plan.render(plan.creates["sales_raw"])
    assert f"ReplicatedReplacingMergeTree('{SHARD_PATH}', '{{replica}}', ingested_at)" in local
    (targets,) = plan.render(plan.creates["targets"])
    assert f"ENGINE = ReplicatedMergeTree('{GLOBAL_PATH}', '{{replica}}') ORDER BY (year, scope, metric, version)" in (
        targets
    )
    (ingest,) = plan.render(plan.creates["ingest_batches"])
    assert "TTL toDateTime(landed_at) + INTERVAL 90 DAY" in ingest


def test_later_migrations_alter_drop_and_insert_on_the_right_tables(plan: Cluster, engine) -> None:
    add = plan.render("ALTER TABLE sales_raw ADD COLUMN IF NOT EXISTS store_id String DEFAULT ''")
    assert add == [
        f"ALTER TABLE sales_raw_local ON CLUSTER {NAME} ADD COLUMN IF NOT EXISTS store_id String DEFAULT ''",
        f"ALTER TABLE sales_raw ON CLUSTER {NAME} ADD COLUMN IF NOT EXISTS store_id String DEFAULT ''",
    ]
    ttl = plan.render("ALTER TABLE sales_raw MODIFY TTL toDateTime(event_time) + INTERVAL 5 YEAR")
    assert ttl == [f"ALTER TABLE sales_raw_local ON CLUSTER {NAME} MODIFY TTL toDateTime(event_time) + INTERVAL 5 YEAR"]
    assert plan.render("ALTER TABLE targets ADD COLUMN note String") == [
        f"ALTER TABLE targets ON CLUSTER {NAME} ADD COLUMN note String"
    ]
    assert plan.render("DROP TABLE IF EXISTS sales_hourly") == [
        f"DROP TABLE IF EXISTS sales_hourly ON CLUSTER {NAME} SYNC",
        f"DROP TABLE IF EXISTS sales_hourly_local ON CLUSTER {NAME} SYNC",
    ]
    assert plan.render("DROP VIEW v_sales") == [f"DROP VIEW v_sales ON CLUSTER {NAME} SYNC"]
    replace = plan.render("CREATE OR REPLACE VIEW v_sales AS SELECT event_id FROM sales_raw FINAL")
    assert replace == [f"CREATE OR REPLACE VIEW v_sales ON CLUSTER {NAME} AS SELECT event_id FROM sales_raw FINAL"]
    insert = (
        "INSERT INTO targets (year, scope, metric, value, unit, source, version) "
        "VALUES (2026, 'x', 'y', 1, 'u', 's', 1)"
    )
    assert plan.render(insert) == [insert]
    for statement in add + ttl + replace + plan.render("DROP TABLE IF EXISTS sales_hourly"):
        formatted(engine, statement)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("CREATE MATERIALIZED VIEW mv TO sales_daily AS SELECT * FROM sales_raw", "materialized view"),
        ("CREATE TABLE IF NOT EXISTS scratch (x UInt8) ENGINE = Memory", "Memory cannot be replicated"),
        ("CREATE TABLE IF NOT EXISTS scratch (x UInt8) ENGINE = Log", "Log cannot be replicated"),
        ("TRUNCATE TABLE sales_raw", "cannot place on the cluster"),
    ],
)
def test_what_cannot_be_placed_on_the_cluster_is_refused_clearly(plan: Cluster, statement: str, message: str) -> None:
    with pytest.raises(ClusterRenderError, match=message):
        plan.render(statement)


def test_the_rendering_can_be_reviewed_before_it_runs(
    capsys: pytest.CaptureFixture[str], cluster_run: Recorder
) -> None:
    from yzcore.cluster import main

    main([NAME])
    printed = [s.strip() for s in re.sub(r"^--.*$", "", capsys.readouterr().out, flags=re.M).split(";\n") if s.strip()]
    migration_commands = [c for c in cluster_run.commands if "__next" not in c and not c.startswith("SYSTEM")]
    assert printed == migration_commands
    with pytest.raises(SystemExit, match="usage"):
        main([])


def test_bad_names_are_refused() -> None:
    with pytest.raises(ClusterRenderError, match="letters, digits"):
        Cluster("yz-mon", NAME)
    with pytest.raises(ValueError, match="clickhouse_cluster"):
        Settings(_env_file=None, clickhouse_cluster="yz mon; DROP", clickhouse_dsn="http://u:p@h:8123/yzmon")
    with pytest.raises(ValueError, match="embedded store is a single server"):
        Settings(_env_file=None, clickhouse_cluster=NAME)


# -- what reads and writes the tables ------------------------------------------------------------------------------
_TABLE_REF = re.compile(r"\b(?:FROM|JOIN|INTO)\s+(\w+)", re.I)


def test_views_refreshes_queries_and_the_sink_name_tables_that_answer_for_the_whole_cluster(plan: Cluster) -> None:
    """None names a *_local table; every name is a Distributed table, a replicated-everywhere one or a view."""
    views = {m.group(1) for m in (re.match(r"CREATE VIEW IF NOT EXISTS (\w+)", s) for s in _all()) if m}
    whole = set(plan.creates) | views
    readers = {
        "views": [s for s in _all() if s.startswith("CREATE VIEW")],
        "rollup refreshes": [r.sql for refreshes in STATEMENTS.values() for r in refreshes],
        "query library": [re.sub(r"--[^\n]*", "", q.sql) for q in queries.library().values()],
        "dashboards": _dashboard_sql(),
    }
    assert all(readers.values())
    ctes = {"days", "sales", "visits", "tourists", "per_day", "daily"}
    views_over_shards = {v for v in views if set(_TABLE_REF.findall(_view_sql(v))) & plan.sharded}
    for what, texts in readers.items():
        for text in texts:
            # a sharded table joined straight to another is a double-distributed join, which ClickHouse refuses
            # (distributed_product_mode=deny): join per-商圈 subqueries instead, as every query here does
            for left, right in _DIRECT_JOIN.findall(text):
                sharded = plan.sharded | views_over_shards
                assert not (left in sharded and right in sharded), f"{what}: {left} JOIN {right}"
            named = set(re.findall(r"(?:\bWITH|,)\s*(\w+)\s+AS\s*\(", text))  # the query's own CTEs
            for name in _TABLE_REF.findall(text):
                if name in ctes or name in named:
                    continue
                assert not name.endswith(LOCAL_SUFFIX), f"{what}: {name}"
                assert name in whole, f"{what} reads or writes {name}, which the migrations do not create"
    written_by_sink = {feed.raw_table for feed in FEEDS.values()} | {"rejected_events", "ingest_batches"}
    assert written_by_sink <= set(plan.creates)


def _all() -> list[str]:
    return [s for m in discover() for s in m.statements()]


_DIRECT_JOIN = re.compile(r"\bFROM\s+(\w+)(?:\s+AS\s+\w+)?(?:\s+FINAL)?\s+(?:\w+\s+)*?JOIN\s+(\w+)", re.I)


def _view_sql(name: str) -> str:
    return next(s for s in _all() if s.startswith(f"CREATE VIEW IF NOT EXISTS {name} "))


def _dashboard_sql() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "rawSql" and isinstance(value, str):
                    found.append(re.sub(r"--[^\n]*", "", value))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROOT / "dashboards").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return found


# -- the single-server and embedded paths --------------------------------------------------------------------------
def test_the_single_server_path_sends_the_files_byte_for_byte() -> None:
    recorder = Recorder()
    migrate(recorder)  # type: ignore[arg-type]
    statements = [LEDGER, RELEASES, *_all()]
    assert recorder.commands[: len(statements)] == statements
    swaps = recorder.commands[len(statements) :]
    assert swaps == [
        statement
        for table in ("dim_district", "dim_sector", "dim_origin", "dim_calendar", "dim_source", "dim_nowcast_error")
        for statement in (
            f"DROP TABLE IF EXISTS {table}__next SYNC",
            f"CREATE TABLE {table}__next AS {table}",
            f"EXCHANGE TABLES {table}__next AND {table}",
            f"DROP TABLE {table}__next SYNC",
        )
    ]
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in recorder.commands)


def test_the_setting_chooses_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """`yzmon db migrate` and ``python -m yzcore.migrate`` migrate for the cluster the settings name."""
    import yzcore.migrate as migrate_module

    recorder = Recorder("analytics")
    monkeypatch.setattr(migrate_module, "connect", lambda dsn: recorder)
    settings = Settings(
        _env_file=None, clickhouse_cluster=NAME, clickhouse_dsn="http://yzmon_writer:secret@clickhouse:8123/analytics"
    )
    migrate_module.migrate_configured(settings)
    assert any(f"ON CLUSTER {NAME}" in s for s in recorder.commands)
    chosen = cluster_plan(Recorder("analytics"), cluster=settings.clickhouse_cluster)  # type: ignore[arg-type]
    assert chosen is not None and (chosen.name, chosen.database) == (NAME, "analytics")
    assert cluster_plan(Recorder(), cluster="") is None  # type: ignore[arg-type]
    assert cluster_plan(Recorder()) is None  # type: ignore[arg-type]


def test_the_embedded_store_migrates_as_before(store) -> None:
    engines = dict(store.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").result_rows)
    assert engines["sales_raw"] == "ReplacingMergeTree" and engines["targets"] == "MergeTree"
    assert not any(e.startswith(("Replicated", "Distributed")) for e in engines.values())
    assert not any(name.endswith(LOCAL_SUFFIX) for name in engines)


# -- the compose file ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def raw(raw_text: str) -> dict:
    return yaml.safe_load(raw_text)


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def services(raw: dict, example_env: dict[str, str]) -> dict[str, dict]:
    filled = {k: v or f"{k.lower().replace('_', '')}0123456789abcdef" for k, v in example_env.items()}
    return interpolate_tree(raw, filled)["services"]


@pytest.fixture(scope="module")
def server_xml() -> ET.Element:
    return ET.parse(SERVER_XML).getroot()


@pytest.fixture(scope="module")
def keeper_xml() -> ET.Element:
    return ET.parse(KEEPER_XML).getroot()


def kind(services: dict, image: str) -> list[str]:
    return sorted(name for name, s in services.items() if s["image"].split(":")[0] == image)


@pytest.mark.parametrize("stage", ["as written", "interpolated"])
def test_compose_file_follows_the_compose_specification(stage: str, raw: dict, services: dict) -> None:
    from jsonschema import Draft7Validator

    document = raw if stage == "as written" else raw | {"services": services}
    errors = sorted(Draft7Validator(compose_schema()).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_cluster_has_its_nodes_and_pinned_images(services: dict) -> None:
    assert len(kind(services, "clickhouse/clickhouse-keeper")) == 3
    assert len(kind(services, "clickhouse/clickhouse-server")) == 4
    assert len([n for n in kind(services, "apache/kafka") if n != "kafka-init"]) == 3
    assert {"migrate", "worker", "grafana", "kafka-init", "replayer"} <= set(services)
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for name, service in services.items():
        image, _, tag = service["image"].partition(":")
        assert tag and tag != "latest", f"{name}: image {image} is not pinned"
        if image != "yzmon":
            assert tag[0].isdigit(), f"{name}: {service['image']}"
    assert services["ch-s1-r1"]["image"] == single["clickhouse"]["image"]
    assert services["ch-s1-r1"]["image"].split(":")[1] == services["keeper-1"]["image"].split(":")[1]
    assert services["kafka-1"]["image"] == single["kafka"]["image"]
    assert services["grafana"]["image"] == single["grafana"]["image"]


def test_healthchecks_and_start_order(services: dict) -> None:
    for name, service in services.items():
        if service.get("restart") != "no":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for target, spec in (service.get("depends_on") or {}).items():
            condition = spec["condition"]
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target}, which has no healthcheck"
            else:
                assert condition == "service_completed_successfully" and services[target]["restart"] == "no"
    for server in kind(services, "clickhouse/clickhouse-server"):
        assert set(kind(services, "clickhouse/clickhouse-keeper")) <= set(services[server]["depends_on"])
    assert set(kind(services, "clickhouse/clickhouse-server")) <= set(services["migrate"]["depends_on"])
    assert {"migrate", "kafka-init"} <= set(services["worker"]["depends_on"])
    keeper_probe = " ".join(services["keeper-1"]["healthcheck"]["test"])
    assert "9182/ready" in keeper_probe


def test_the_worker_scales_and_every_app_setting_exists(services: dict) -> None:
    worker = services["worker"]
    assert "container_name" not in worker and not worker.get("ports") and "hostname" not in worker
    for name in ("worker", "migrate", "replayer"):
        for key in env_of(services[name]):
            if key.startswith("YZMON_"):
                assert key.removeprefix("YZMON_").lower() in Settings.model_fields, f"{name}: {key}"


def test_app_services_reach_the_whole_cluster(services: dict, server_xml: ET.Element) -> None:
    (cluster,) = server_xml.find("remote_servers")
    for name in ("worker", "migrate"):
        env = env_of(services[name])
        assert env["YZMON_CLICKHOUSE_CLUSTER"] == cluster.tag
        for key in ("YZMON_CLICKHOUSE_DSN", "YZMON_READER_DSN"):
            host = re.search(r"@([\w-]+):8123/", env[key]).group(1)
            serving = [s for s in kind(services, "clickhouse/clickhouse-server") if _aliases(services[s]) >= {host}]
            assert sorted(serving) == kind(services, "clickhouse/clickhouse-server"), f"{key}: {host} is not every node"
        brokers = env["YZMON_KAFKA_BOOTSTRAP"].split(",")
        assert sorted(b.split(":")[0] for b in brokers) == [
            n for n in kind(services, "apache/kafka") if n != "kafka-init"
        ]
    assert (
        services["worker"]["environment"]["YZMON_TOPIC_PARTITIONS"]
        == services["kafka-init"]["environment"]["TOPIC_PARTITIONS"]
    )


def _aliases(service: dict) -> set[str]:
    return set(((service.get("networks") or {}).get("default") or {}).get("aliases") or [])


def test_kafka_is_three_kraft_nodes_with_three_copies(services: dict, raw: dict) -> None:
    brokers = [n for n in kind(services, "apache/kafka") if n != "kafka-init"]
    voters = set()
    for name in brokers:
        env = env_of(services[name])
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        voters.add(env["KAFKA_CONTROLLER_QUORUM_VOTERS"])
        assert f"{env['KAFKA_NODE_ID']}@{name}:9093" in env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        assert f"PLAINTEXT://{name}:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert any(v.split(":")[1] == env["KAFKA_LOG_DIRS"] for v in services[name]["volumes"])
    assert len(voters) == 1 and len({env_of(services[n])["KAFKA_NODE_ID"] for n in brokers}) == 3
    assert len({env_of(services[n])["CLUSTER_ID"] for n in brokers}) == 1
    published = [p.split(":")[-2] for n in brokers for p in services[n]["ports"]]
    assert len(set(published)) == 3, "each broker needs its own external port"
    init = env_of(services["kafka-init"])
    assert init["REPLICATION_FACTOR"] == "3" and init["MIN_INSYNC_REPLICAS"] == "2"
    assert init["FEED_TOPICS"].split() == [feed.topic for feed in FEEDS.values()]
    script = "\n".join(raw["services"]["kafka-init"]["command"])
    assert '--replication-factor "$$REPLICATION_FACTOR"' in script and "min.insync.replicas" in script


def test_secrets_come_only_from_the_environment(raw: dict, raw_text: str, example_env: dict[str, str]) -> None:
    for name, service in raw["services"].items():
        for key, value in env_of(service).items():
            if re.search(r"PASSWORD|SECRET", key) and key != "GF_SMTP_PASSWORD":  # optional e-mail, as in compose
                assert re.fullmatch(r"\$\{[A-Za-z_]\w*:\?[^}]+\}", value), f"{name}: {key}"
            if key.endswith("_DSN"):
                assert re.search(r"://[a-z_]+:\$\{[A-Za-z_]\w*:\?[^}]+\}@", value), f"{name}: {key}"
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[i - 1].startswith("# "), (
                f"{ENV_EXAMPLE.name}: {line.partition('=')[0]} has no comment above it"
            )
    optional = {"SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM_ADDRESS"}  # e-mail is optional, as in compose
    assert required_variables(raw_text) == {k for k, v in example_env.items() if v == ""} - optional
    assert referenced_variables(raw_text) == set(example_env), "deploy/cluster/.env.example and the compose file differ"


def test_the_same_users_and_roles_as_the_single_server(services: dict) -> None:
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["clickhouse"]
    single_env = set(single["environment"])
    for server in kind(services, "clickhouse/clickhouse-server"):
        mounts = dict((target, source) for source, target in bind_mounts(services[server]))
        assert mounts["/etc/clickhouse-server/users.d/yzmon.xml"] == "../clickhouse/users.d/yzmon.xml"
        assert (CLUSTER_DIR / mounts["/etc/clickhouse-server/users.d/yzmon.xml"]).resolve() == SINGLE_USERS_XML
        assert single_env <= set(services[server]["environment"]), f"{server} lacks a variable the users file reads"
        for source, _ in bind_mounts(services[server]):
            assert (CLUSTER_DIR / source).exists(), f"{server}: {source} does not exist"
    for name in ("grafana",):
        mounts = dict((target, source) for source, target in bind_mounts(services[name]))
        assert (CLUSTER_DIR / mounts["/etc/grafana/provisioning"]).resolve() == ROOT / "deploy/grafana/provisioning"
        assert (CLUSTER_DIR / mounts["/var/lib/grafana/dashboards"]).resolve() == ROOT / "dashboards"
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/clickhouse.yaml").read_text())
    host = datasource["datasources"][0]["jsonData"]["host"]
    assert all(host in _aliases(services[s]) for s in kind(services, "clickhouse/clickhouse-server"))
    # the cluster file only adds settings to the writer's profile: no user, password or grant of its own
    extra = ET.parse(CLUSTER_USERS_XML).getroot()
    assert extra.find("users") is None and [p.tag for p in extra.find("profiles")] == ["yzmon_writer"]
    writer = extra.find("profiles/yzmon_writer")
    assert writer.findtext("distributed_foreground_insert") == "1"
    assert writer.findtext("parallel_distributed_insert_select") == "2"
    (cluster,) = ET.parse(SERVER_XML).getroot().find("remote_servers")
    per_shard = {len(shard.findall("replica")) for shard in cluster.findall("shard")}
    assert {int(writer.findtext("insert_quorum"))} == per_shard, "a refresh must read rows on whichever replica"
    assert ET.parse(SINGLE_USERS_XML).getroot().find("profiles/yzmon_writer") is not None


# -- the Keeper and server configuration ---------------------------------------------------------------------------
def test_keeper_nodes_form_one_quorum(services: dict, keeper_xml: ET.Element) -> None:
    keeper = keeper_xml.find("keeper_server")
    servers = keeper.findall("raft_configuration/server")
    ids = [int(s.findtext("id")) for s in servers]
    assert len(ids) == len(set(ids)) == 3, "raft ids must be unique"
    by_host = {s.findtext("hostname"): int(s.findtext("id")) for s in servers}
    nodes = kind(services, "clickhouse/clickhouse-keeper")
    assert sorted(by_host) == nodes, "every Keeper node is listed in raft_configuration, nothing else"
    assert keeper.find("server_id").get("from_env") == "KEEPER_SERVER_ID"
    for node in nodes:
        service = services[node]
        assert service["hostname"] == node
        assert int(service["environment"]["KEEPER_SERVER_ID"]) == by_host[node]
        mounts = dict((target, source) for source, target in bind_mounts(service))
        config = service["environment"]["KEEPER_CONFIG"]
        assert (CLUSTER_DIR / mounts[config]).resolve() == KEEPER_XML
    assert keeper.findtext("http_control/readiness/endpoint") == "/ready"
    assert keeper.findtext("http_control/port") == "9182"


def test_servers_agree_on_the_cluster_and_their_own_place_in_it(
    services: dict, server_xml: ET.Element, keeper_xml: ET.Element
) -> None:
    (cluster,) = server_xml.find("remote_servers")
    assert cluster.tag == NAME and cluster.find("secret").get("from_env") == "CLICKHOUSE_CLUSTER_SECRET"
    shards = cluster.findall("shard")
    assert len(shards) == 2 and all(len(s.findall("replica")) == 2 for s in shards)
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    placed = {}
    for number, shard in enumerate(shards, start=1):
        for replica in shard.findall("replica"):
            assert replica.findtext("port") == "9000"
            placed[replica.findtext("host")] = number
    servers = kind(services, "clickhouse/clickhouse-server")
    assert sorted(placed) == servers, "every server is in the cluster once, and only servers are"
    replicas = []
    for server in servers:
        service = services[server]
        assert service["hostname"] == server
        mounts = dict((target, source) for source, target in bind_mounts(service))
        assert (CLUSTER_DIR / mounts["/etc/clickhouse-server/config.d/cluster.xml"]).resolve() == SERVER_XML
        macros = ET.parse(CLUSTER_DIR / mounts["/etc/clickhouse-server/config.d/macros.xml"]).getroot().find("macros")
        assert int(macros.findtext("shard")) == placed[server], f"{server}: its {{shard}} is not its shard"
        assert macros.findtext("cluster") == NAME
        replicas.append(macros.findtext("replica"))
        for variable in ("CLICKHOUSE_CLUSTER_SECRET", "CLICKHOUSE_INTERSERVER_PASSWORD"):
            assert variable in service["environment"]
    assert len(set(replicas)) == len(replicas), "{replica} must differ on every node (reference tables use one path)"
    keepers = {(n.findtext("host"), n.findtext("port")) for n in server_xml.findall("zookeeper/node")}
    raft = keeper_xml.find("keeper_server")
    assert keepers == {
        (s.findtext("hostname"), raft.findtext("tcp_port")) for s in raft.findall("raft_configuration/server")
    }
    assert server_xml.findtext("distributed_ddl/path")
    assert server_xml.find("interserver_http_credentials/password").get("from_env") == "CLICKHOUSE_INTERSERVER_PASSWORD"


# -- rollups = raw when a 商圈's partition moves between workers ----------------------------------------------------
NOW = datetime(2026, 11, 23, tzinfo=UTC)
TOL = timedelta(minutes=5)
DISTRICTS = ["hongyadong", "hualongqiao", "daping"]
LEVELS = {
    "sales": [
        ("sales_agg_1m", "minute", "toStartOfMinute(event_time)", "sector", "sum(amount), sum(txn_count)"),
        ("sales_hourly", "hour", "toStartOfHour(event_time)", "sector", "sum(amount), sum(txn_count)"),
        ("sales_daily", "day", "toDate(event_time)", "sector", "sum(amount), sum(txn_count)"),
        ("sales_monthly", "month", "toStartOfMonth(event_time)", "sector", "sum(amount), sum(txn_count)"),
    ],
    "footfall": [
        ("footfall_agg_1m", "minute", "toStartOfMinute(event_time)", None, "sum(entries), sum(exits)"),
        ("footfall_daily", "day", "toDate(event_time)", None, "sum(entries), sum(exits)"),
    ],
    "tourists": [
        ("tourists_agg_1m", "minute", "toStartOfMinute(event_time)", "origin", "sum(arrivals), sum(spend)"),
        ("tourists_monthly", "month", "toStartOfMonth(event_time)", "origin", "sum(arrivals), sum(spend)"),
    ],
}


def _batches(feed: str, events: list[dict], first: int, last: int, size: int = 120) -> list[Prepared]:
    """Records [first, last) of partition 0 in batches, as a worker would take them."""
    records = [Record(FEEDS[feed].topic, 0, i, orjson.dumps(events[i])) for i in range(first, last)]
    return [prepare(FEEDS[feed], records[i : i + size], NOW, TOL) for i in range(0, len(records), size)]


def _mismatches(reads: list[tuple[Any, str]], feed: str) -> list[str]:
    """Every rollup level against raw over the union of ``reads`` (client, database); empty when all equal."""
    problems = []
    for table, column, bucket, key, sums in LEVELS[feed]:
        keys = f"district, {key}, " if key else "district, "
        metric = sums.replace("sum(", "").replace(")", "").split(", ")
        raw = " UNION ALL ".join(f"SELECT * FROM {db}.{FEEDS[feed].raw_table} FINAL" for _, db in reads)
        agg = " UNION ALL ".join(
            f"SELECT {keys}{column}, {', '.join(metric)} FROM {db}.{table} FINAL" for _, db in reads
        )
        client = reads[0][0]
        want = client.query(f"SELECT {keys}{bucket} AS b, {sums} FROM ({raw}) GROUP BY ALL ORDER BY ALL").result_rows
        got = client.query(f"SELECT * FROM ({agg}) ORDER BY ALL").result_rows
        if [tuple(r) for r in want] != [tuple(r) for r in got]:
            problems.append(f"{table}: {len(want)} windows in raw, {len(got)} rows in the rollup")
    return problems


def _events(feed: str, most: int = 900) -> list[dict]:
    """Up to ``most`` events of one day of three 商圈, spread over the whole day, in time order."""
    events = [e for _, e in day_events(load("baseline"), 5, date(2024, 10, 2), DISTRICTS, [feed])]
    return events[:: max(1, len(events) // most)][:most]


def test_rollups_equal_raw_when_a_partition_moves_between_workers(store, store_dsn) -> None:
    """Worker A lands [0, k) but commits only c < k and still has a batch in flight; worker B takes the
    partition from c (redelivery of [c, k)) to the end; A's stale batch lands last, after B."""
    a, b = ClickHouseSink(store_dsn), ClickHouseSink(store_dsn)
    database = store.query("SELECT currentDatabase()").result_rows[0][0]
    for feed in LEVELS:
        events = _events(feed)
        n = len(events)
        c, k = n // 3, n // 2
        for batch in _batches(feed, events, 0, k):
            asyncio.run(a.land(batch))
        in_flight = _batches(feed, events, c, k)[-1]
        for batch in _batches(feed, events, c, n):
            asyncio.run(b.land(batch))
        asyncio.run(a.land(in_flight))  # the zombie: its windows are recomputed from raw, nothing is added
        assert _mismatches([(store, database)], feed) == [], feed
        assert store.query(f"SELECT count() FROM {FEEDS[feed].raw_table} FINAL").result_rows[0][0] == n


def test_the_last_refresh_to_start_sees_every_committed_raw_row(store, store_dsn) -> None:
    """Two workers' raw writes and window refreshes of the same 商圈 and minutes, in every order in which
    each worker refreshes after its own write: the latest version of every window equals raw."""
    events = _events("sales")[:400]
    halves = {"A": _batches("sales", events, 0, 250, 250)[0], "B": _batches("sales", events, 150, 400, 250)[0]}
    shared = [
        (a, b) for a in halves["A"].touched for b in halves["B"].touched if a[0] == b[0] and a[1] < b[2] and b[1] < a[2]
    ]
    assert shared, "the two workers must touch common windows"
    sinks = {name: ClickHouseSink(store_dsn) for name in halves}
    tables = ["sales_raw", "sales_agg_1m", "sales_hourly", "sales_daily", "sales_monthly"]
    database = store.query("SELECT currentDatabase()").result_rows[0][0]
    steps = [("A", "raw"), ("A", "refresh"), ("B", "raw"), ("B", "refresh")]
    orders = [
        order
        for order in itertools.permutations(steps)
        if order.index(("A", "raw")) < order.index(("A", "refresh"))
        and order.index(("B", "raw")) < order.index(("B", "refresh"))
    ]
    assert len(orders) == 6
    for order in orders:
        for table in tables:
            store.command(f"TRUNCATE TABLE {table}")
        for worker, step in order:
            batch = halves[worker]
            if step == "raw":
                sinks[worker].call(
                    lambda c, b=batch: c.insert(
                        b.feed.raw_table, b.raw_columns(), column_names=b.column_names, column_oriented=True
                    )
                )
            else:
                for sql, params in recompute_statements(batch.feed, batch.touched):
                    sinks[worker].call(lambda c, s=sql, p=params: c.command(s, parameters=p))
        assert _mismatches([(store, database)], "sales") == [], order


# -- the same on two shards, rows routed by the Distributed tables' sharding key ------------------------------------
LANDED = sorted(
    {feed.raw_table for feed in FEEDS.values()} | {r.table for refreshes in STATEMENTS.values() for r in refreshes}
)


@pytest.fixture(scope="module")
def shard_databases(chdb_dir: Path) -> list[tuple[Any, str]]:
    """Two databases migrated with the schema every shard's local tables have (replication aside)."""
    admin = connect(f"chdb://{chdb_dir}")
    made = []
    for number in (1, 2):
        name = f"s{os.getpid()}_{number}_{datetime.now().strftime('%H%M%S%f')}"
        admin.command(f"CREATE DATABASE {name}")
        client = connect(f"chdb://{chdb_dir}?database={name}")
        migrate(client, cluster="")
        made.append((client, name))
    return made


@pytest.fixture
def shards(shard_databases: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    """The two shard databases, emptied of landed and aggregated rows."""
    for client, _ in shard_databases:
        for table in LANDED:
            client.command(f"TRUNCATE TABLE {table}")
    return shard_databases


def _route(shards, batch: Prepared, shard_of) -> None:
    """Insert each raw row into the shard ``shard_of(row)`` picks, then refresh on every shard (what
    parallel_distributed_insert_select=2 does: the same INSERT … SELECT on each shard's local tables)."""
    names = batch.column_names
    rows = list(zip(*batch.raw_columns(), strict=True))
    for number, (client, _) in enumerate(shards):
        mine = [r for r in rows if shard_of(dict(zip(names, r, strict=True))) == number]
        if mine:
            client.insert(batch.feed.raw_table, mine, column_names=names)
    for client, _ in shards:
        for sql, params in recompute_statements(batch.feed, batch.touched):
            client.command(sql, parameters=params)


@pytest.mark.parametrize("feed", ["sales", "footfall"])
def test_on_two_shards_a_district_lives_on_one_and_rollups_equal_raw(shards, engine, plan: Cluster, feed: str) -> None:
    key = re.search(r"Distributed\(\w+, \w+, \w+, (.+)\)$", plan.render(plan.creates[FEEDS[feed].raw_table])[1]).group(
        1
    )
    placed = dict(
        engine.query(
            f"SELECT district, ({key}) % 2 FROM (SELECT arrayJoin({{d:Array(String)}}) AS district)",
            parameters={"d": DISTRICTS},
        ).result_rows
    )
    assert set(placed.values()) == {0, 1}, "the test needs 商圈 on both shards"
    events = _events(feed)
    n = len(events)
    c, k = n // 3, n // 2
    # worker A, then B from A's last commit (redelivering [c, k)), then A's stale in-flight batch
    for batch in [*_batches(feed, events, 0, k), *_batches(feed, events, c, n), _batches(feed, events, c, k)[-1]]:
        _route(shards, batch, lambda row: placed[row["district"]])
    assert _mismatches(shards, feed) == []
    for number, (client, _) in enumerate(shards):
        on_shard = {r[0] for r in client.query(f"SELECT DISTINCT district FROM {FEEDS[feed].raw_table}").result_rows}
        assert on_shard == {d for d, s in placed.items() if s == number}


def test_sharding_by_anything_but_the_district_would_break_the_rollups(shards, engine) -> None:
    """The control: rows of one 商圈 spread over both shards give each shard part of a window, and the
    per-shard refreshes then disagree with raw (the Distributed tables must shard by 商圈)."""
    events = _events("sales")
    for batch in _batches("sales", events, 0, len(events)):
        _route(shards, batch, lambda row: zlib.crc32(row["event_id"].encode()) % 2)
    assert _mismatches(shards, "sales") != []


# -- the documented move from one server ---------------------------------------------------------------------------
def _doc_sql_blocks() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text[text.index("## Past one machine") :]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def _statements(block: str) -> list[str]:
    body = "\n".join(re.sub(r"--.*$", "", line) for line in block.splitlines())
    return [s.strip() for s in body.split(";") if s.strip()]


def test_the_documented_move_parses_and_its_part_move_lands_each_district_on_its_shard(
    engine, store, store_dsn, shards
) -> None:
    blocks = _doc_sql_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        for statement in _statements(block):
            formatted(engine, statement)
    (attach_block,) = [b for b in blocks if "ATTACH PARTITION" in b]
    events = _events("sales", 300)
    sink = ClickHouseSink(store_dsn)
    for batch in _batches("sales", events, 0, len(events)):
        asyncio.run(sink.land(batch))
    source = store.query("SELECT currentDatabase()").result_rows[0][0]
    for number, (client, database) in enumerate(shards, start=1):
        for statement in _statements(attach_block):
            client.command(
                statement.replace("yzmon_import.", f"{source}.")
                .replace("yzmon.sales_raw_local", f"{database}.sales_raw")
                .replace("yzmon.", f"{database}.")
                .replace("N - 1", str(number - 1))
            )
    placed = dict(
        engine.query(
            f"SELECT district, ({SHARDING_KEY}) % 2 + 1 FROM (SELECT arrayJoin({{d:Array(String)}}) AS district)",
            parameters={"d": DISTRICTS},
        ).result_rows
    )
    total = 0
    for number, (client, _) in enumerate(shards, start=1):
        rows = dict(client.query("SELECT district, count() FROM sales_raw FINAL GROUP BY district").result_rows)
        assert set(rows) == {d for d, n in placed.items() if n == number}
        total += sum(rows.values())
    assert total == len(events)


def test_the_documented_audit_finds_a_stale_window_and_the_documented_repair_fixes_it(
    store, store_dsn, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text[text.index("## Past one machine") :]
    (audit,) = [b for b in _doc_sql_blocks() if "FULL OUTER JOIN" in b]
    (repair,) = re.findall(r"```python\n(.*?)```", section, re.S)
    sink = ClickHouseSink(store_dsn)
    for batch in _batches("sales", _events("sales", 600), 0, 600):
        asyncio.run(sink.land(batch))
    day = {"day": date(2024, 10, 2)}
    assert store.query(audit, parameters=day).result_rows == []
    # a refresh that lost the race: a newer version of one hongyadong window, missing part of its amount
    store.command(
        "INSERT INTO sales_agg_1m SELECT minute, district, sector, amount - 1, txn_count, events, now64(6) "
        "FROM sales_agg_1m FINAL WHERE district = 'hongyadong' ORDER BY minute LIMIT 1"
    )
    (stale,) = store.query(audit, parameters=day).result_rows
    assert stale[0] == "hongyadong" and stale[3] == stale[4] - 1
    import yzcore.store

    monkeypatch.setattr(yzcore.store, "connect", lambda dsn: store)
    exec(compile(repair, "docs/operations.md", "exec"), {})  # the documented snippet, as written
    assert store.query(audit, parameters=day).result_rows == []
    assert _mismatches([(store, store.query("SELECT currentDatabase()").result_rows[0][0])], "sales") == []
