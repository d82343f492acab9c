"""The production stack (docker-compose.yml and what it mounts), checked offline without a Docker engine.

The compose file is validated against the Compose specification schema vendored by check-jsonschema,
then interpolated the way Compose does it (``${VAR:-default}``, ``${VAR:?message}``, ``$$``) with the
values of .env.example, secrets filled in, and checked for what a broken deployment would show
first: unpinned images, clashing ports, missing mounts, app services without the settings they need,
credentials that do not line up between ClickHouse, the app and Grafana.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from support import (
    MissingVariable,
    bind_mounts,
    compose_schema,
    env_of,
    interpolate_tree,
    parse_env_file,
    referenced_variables,
    required_variables,
    settings_for,
)

from schemas.feeds import FEEDS
from yzcore.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
USERS_XML = ROOT / "deploy" / "clickhouse" / "users.d" / "yzmon.xml"
DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml"
DASHBOARD_PROVIDER = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "yzmon.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

APP_SERVICES = ("worker", "migrate", "replayer")
# The settings each app service cannot run in production without (their defaults are for the
# embedded stack: an in-process broker, a chDB directory, a relative data dir, loopback web).
NEEDS: dict[str, set[str]] = {
    "worker": {
        "kafka_bootstrap",
        "clickhouse_dsn",
        "reader_dsn",
        "data_dir",
        "topic_partitions",
        "worker_host",
        "worker_port",
    },
    "migrate": {"clickhouse_dsn", "data_dir"},
    "replayer": {"kafka_bootstrap", "data_dir", "topic_partitions"},
}
ONE_SHOT = {"kafka-init", "migrate"}
CLICKHOUSE_DS_TYPE = "grafana-clickhouse-datasource"
PLUGIN = ("grafana-clickhouse-datasource", "4.20.0")
GRAFANA_DOCKERFILE = ROOT / "deploy" / "grafana" / "Dockerfile"
ALERTING = ROOT / "deploy" / "grafana" / "provisioning" / "alerting"
# Secrets of optional features (alert e-mail): empty means the feature is off.
OPTIONAL_SECRETS = {"GF_SMTP_PASSWORD"}
OPTIONAL_SETTINGS = {"SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM_ADDRESS"}


# -- fixtures ------------------------------------------------------------------------------------------------------
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
def filled_env(example_env: dict[str, str]) -> dict[str, str]:
    """.env.example with every empty (required) secret filled, as an operator's .env would be."""
    return {k: v or f"{k.lower().replace('_', '')}0123456789abcdef" for k, v in example_env.items()}


@pytest.fixture(scope="module")
def compose(raw: dict, filled_env: dict[str, str]) -> dict:
    return interpolate_tree(raw, filled_env)


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def users() -> ET.Element:
    return ET.parse(USERS_XML).getroot()


def published_ports(service: dict) -> list[str]:
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published"):
                ports.append(str(port["published"]))
            continue
        parts = str(port).split("/")[0].split(":")
        if len(parts) >= 2:
            ports.append(parts[-2])
    return ports


def user_profile(users: ET.Element, name: str) -> ET.Element:
    user = users.find(f"users/{name}")
    assert user is not None, f"user {name} is not defined in {USERS_XML.name}"
    profile = users.find(f"profiles/{user.findtext('profile')}")
    assert profile is not None, f"user {name}: profile {user.findtext('profile')!r} is not defined"
    return profile


def is_readonly(users: ET.Element, name: str) -> bool:
    return (user_profile(users, name).findtext("readonly") or "0").strip() in {"1", "2"}


# -- the file against the Compose specification -------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["as written", "interpolated"])
def test_compose_file_follows_the_compose_specification(stage: str, raw: dict, compose: dict) -> None:
    from jsonschema import Draft7Validator

    schema = compose_schema()
    assert "draft-07" in schema["$schema"]
    validator = Draft7Validator(schema)
    errors = sorted(validator.iter_errors(raw if stage == "as written" else compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_stack_has_its_services(services: dict) -> None:
    assert {"kafka", "kafka-init", "clickhouse", "migrate", "worker", "grafana", "replayer"} <= set(services)
    assert services["replayer"].get("profiles") == ["replay"]
    assert services["replayer"]["entrypoint"] == ["yzmon", "replay"]
    assert services["migrate"]["command"] == ["yzmon", "db", "migrate"]
    assert services["worker"]["command"] == ["python", "-m", "streams.worker"]
    for name in APP_SERVICES:
        assert "build" in services[name], f"{name} must be built from the repository's Dockerfile"


# -- images, ports, mounts -----------------------------------------------------------------------------------------
def test_every_image_is_pinned(services: dict) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name} has no image"
        if "@sha256:" in image:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} uses latest"
        if "build" not in service:  # pulled from a registry: an exact release, not a moving minor tag
            assert re.fullmatch(r"\d+\.\d+\.\d+(\.\d+)?", tag), f"{name}: pin an exact version, not {tag!r}"
    grafana_major = int(services["grafana"]["image"].rpartition(":")[2].split(".")[0])
    assert grafana_major in (11, 12)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert services["kafka-init"]["image"] == services["kafka"]["image"]


def test_no_two_services_publish_the_same_host_port(services: dict) -> None:
    seen: dict[str, str] = {}
    for name, service in services.items():
        for port in published_ports(service):
            assert port not in seen, f"host port {port} is published by both {seen[port]} and {name}"
            seen[port] = name
    assert {"3000", "8123", "29092"} <= set(seen)


def test_the_worker_scales(services: dict) -> None:
    worker = services["worker"]
    assert "container_name" not in worker, "a fixed container_name prevents --scale worker=N"
    assert not worker.get("ports"), "a published port would clash between worker replicas"
    assert "hostname" not in worker
    port = env_of(worker)["YZMON_WORKER_PORT"]
    assert f"127.0.0.1:{port}/health" in " ".join(worker["healthcheck"]["test"])


def test_every_bind_mount_exists_in_the_repository(services: dict, compose: dict) -> None:
    named = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, str) and not volume.startswith((".", "/", "~")):
                assert volume.split(":")[0] in named, f"{name}: volume {volume!r} is not declared"
        for source, _ in bind_mounts(service):
            assert source.startswith("./"), f"{name}: bind mount {source!r} should be relative to the repository"
            assert (ROOT / source).exists(), f"{name}: bind-mounted {source} does not exist"


# -- the app services and their settings ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_get_the_settings_they_need(name: str, services: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_of(services[name])
    fields = set(Settings.model_fields)
    for key in env:
        if key.startswith("YZMON_"):
            assert key.removeprefix("YZMON_").lower() in fields, f"{name}: {key} is not a setting of yzcore.settings"
    missing = {f"YZMON_{field.upper()}" for field in NEEDS[name]} - set(env)
    assert not missing, f"{name} needs {sorted(missing)}"
    settings = settings_for(env, monkeypatch)
    assert settings.data_dir.is_absolute()
    if "kafka_bootstrap" in NEEDS[name]:
        assert not settings.embedded_broker
        for address in settings.bootstrap.split(","):
            host, _, port = address.partition(":")
            assert host in services, f"{name}: Kafka host {host!r} is not a service"
            assert f"//{host}:{port}" in env_of(services[host])["KAFKA_ADVERTISED_LISTENERS"]
        assert settings.topic_partitions == int(env_of(services["kafka-init"])["TOPIC_PARTITIONS"])
    if "clickhouse_dsn" in NEEDS[name]:
        assert not settings.embedded_store
        dsn = urlparse(settings.store_dsn)
        assert dsn.scheme == "http" and dsn.hostname in services and dsn.port == 8123
    if name == "worker":
        assert settings.worker_host == "0.0.0.0", "the worker's web port must listen beyond loopback in a container"


def test_dsn_users_line_up_with_clickhouse(services: dict, users: ET.Element, monkeypatch: pytest.MonkeyPatch) -> None:
    clickhouse_env = env_of(services["clickhouse"])
    database = clickhouse_env["CLICKHOUSE_DB"]
    settings = settings_for(env_of(services["worker"]), monkeypatch)
    for dsn, readonly in ((settings.store_dsn, False), (settings.query_dsn, True)):
        url = urlparse(dsn)
        assert url.path.lstrip("/") == database
        user = users.find(f"users/{url.username}")
        assert user is not None, f"DSN user {url.username} is not defined in {USERS_XML.name}"
        assert is_readonly(users, url.username) == readonly
        password_var = user.find("password").get("from_env")
        assert clickhouse_env[password_var] == url.password, f"{url.username}'s password differs from the server's"
        grants = " ".join(q.text or "" for q in user.findall("grants/query"))
        assert f" ON {database}.*" in grants
        assert ("SELECT" in grants) if readonly else ("ALL" in grants or "INSERT" in grants)
    for name in APP_SERVICES:
        env = env_of(services[name])
        for key in ("YZMON_CLICKHOUSE_DSN", "YZMON_READER_DSN"):
            if key in env:
                assert env[key] == env_of(services["worker"])[key]


def test_topics_match_the_feeds(services: dict, raw: dict) -> None:
    init = services["kafka-init"]
    env = env_of(init)
    assert env["FEED_TOPICS"].split() == [feed.topic for feed in FEEDS.values()]
    assert all(feed.dlq_topic == f"{feed.topic}.dlq" for feed in FEEDS.values())
    script = "\n".join(raw["services"]["kafka-init"]["command"])
    assert '"$$feed.dlq"' in script and "--if-not-exists" in script and "retention.ms" in script
    assert '--partitions "$$TOPIC_PARTITIONS"' in script
    assert raw["services"]["kafka-init"]["environment"]["TOPIC_PARTITIONS"] == "${YZMON_TOPIC_PARTITIONS:-4}"
    for name in ("worker", "replayer"):
        assert env_of(services[name])["YZMON_TOPIC_PARTITIONS"] == env["TOPIC_PARTITIONS"]
    assert int(env["FEED_RETENTION_MS"]) > 0 and int(env["DLQ_RETENTION_MS"]) > 0


def test_kafka_is_a_single_kraft_node(services: dict) -> None:
    kafka = services["kafka"]
    env = env_of(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["CLUSTER_ID"]
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
    ):
        assert env[key] == "1", f"{key} must be 1 on a single node"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    volumes = kafka.get("volumes") or []
    assert any(v.split(":")[1] == env["KAFKA_LOG_DIRS"] for v in volumes if isinstance(v, str)), "no data volume"


# -- start order -------------------------------------------------------------------------------------------------
def test_healthchecks_and_start_order(services: dict) -> None:
    for name in ("kafka", "clickhouse", "grafana", "worker"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "wget --spider -q http://127.0.0.1:8123/ping" in " ".join(services["clickhouse"]["healthcheck"]["test"])
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, spec in depends.items():
            condition = spec.get("condition")
            assert condition in {"service_healthy", "service_completed_successfully"}, f"{name} -> {target}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target}, which has no healthcheck"
            else:
                assert target in ONE_SHOT and services[target].get("restart") == "no"
    worker = services["worker"]["depends_on"]
    assert worker["migrate"]["condition"] == worker["kafka-init"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    assert services["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


# -- secrets -------------------------------------------------------------------------------------------------------
def test_secrets_come_only_from_the_environment(raw: dict, raw_text: str, example_env: dict[str, str]) -> None:
    secret_like = re.compile(r"PASSWORD|SECRET|TOKEN")
    for name, service in raw["services"].items():
        for key, value in env_of(service).items():
            if secret_like.search(key) and key not in OPTIONAL_SECRETS:
                assert re.fullmatch(r"\$\{[A-Za-z_]\w*:\?[^}]+\}", value), f"{name}: {key} must be ${{VAR:?message}}"
            elif secret_like.search(key):  # an optional feature's secret: empty (feature off) unless given
                assert re.fullmatch(r"\$\{[A-Za-z_]\w*:-\}", value), f"{name}: {key} may only default to empty"
            if key.endswith("_DSN"):
                assert re.search(r"://[a-z_]+:\$\{[A-Za-z_]\w*:\?[^}]+\}@", value), f"{name}: {key} embeds a password"
    required = required_variables(raw_text)
    secrets = {k for k, v in example_env.items() if v == ""} - OPTIONAL_SETTINGS
    assert required == secrets, "required variables and the empty secrets of .env.example differ"
    assert all(re.search(r"PASSWORD|SECRET|ALERT", name) for name in secrets)
    for name in secrets:  # without the secret, Compose refuses to interpolate the file
        with pytest.raises(MissingVariable):
            interpolate_tree(
                raw, {k: v for k, v in example_env.items() if k != name} | {k: "x" for k in secrets if k != name}
            )


def test_env_example_documents_every_variable(raw_text: str) -> None:
    used = referenced_variables(raw_text)
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    documented = {}
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            key = line.partition("=")[0]
            assert i > 0 and lines[i - 1].startswith("# "), f".env.example: {key} has no comment above it"
            documented[key] = line.partition("=")[2]
    assert used - set(documented) == set(), f"not in .env.example: {sorted(used - set(documented))}"
    assert set(documented) - used == set(), f"unused in docker-compose.yml: {sorted(set(documented) - used)}"
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in gitignore, ".env must stay git-ignored"


# -- ClickHouse users ----------------------------------------------------------------------------------------------
def test_clickhouse_users(users: ET.Element, services: dict, raw: dict) -> None:
    assert users.tag == "clickhouse"
    for name in ("grafana", "analyst"):
        profile = user_profile(users, name)
        assert profile.findtext("readonly") == "1", f"{name} must have a readonly=1 profile"
        constraint = profile.find("constraints/max_execution_time")
        assert constraint is not None and constraint.find("changeable_in_readonly") is not None, (
            "the Grafana plugin sets max_execution_time; readonly=1 must allow that one setting"
        )
    assert not is_readonly(users, "yzmon_writer")
    assert users.find("users/default") is None
    clickhouse_env = env_of(services["clickhouse"])
    for user in users.findall("users/*"):
        password = user.find("password")
        assert password is not None and not (password.text or "").strip(), f"{user.tag}: literal password"
        assert password.get("from_env") in clickhouse_env, f"{user.tag}: {password.get('from_env')} is not passed"
        assert user.findtext("access_management") == "0"
    raw_env = raw["services"]["clickhouse"]["environment"]
    assert str(raw_env["CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT"]) == "1"
    assert raw_env["CLICKHOUSE_PASSWORD"].startswith("${") and ":?" in raw_env["CLICKHOUSE_PASSWORD"]
    target = dict((t, s) for s, t in bind_mounts(services["clickhouse"]))
    assert target.get("/etc/clickhouse-server/users.d/yzmon.xml") == "./" + USERS_XML.relative_to(ROOT).as_posix()


# -- Grafana -------------------------------------------------------------------------------------------------------
def dashboard_datasource_uids() -> set[str]:
    uids: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == CLICKHOUSE_DS_TYPE and isinstance(node.get("uid"), str):
                uids.add(node["uid"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROOT / "dashboards").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return {uid for uid in uids if not uid.startswith("$")}


def test_grafana_datasource_provisioning(services: dict, users: ET.Element) -> None:
    doc = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))
    assert doc["apiVersion"] == 1
    (source,) = [d for d in doc["datasources"] if d["type"] == CLICKHOUSE_DS_TYPE]
    referenced = dashboard_datasource_uids()
    assert referenced, "no dashboard references the ClickHouse datasource"
    assert referenced == {source["uid"]}, f"dashboards reference {referenced}, provisioning defines {source['uid']}"
    data = source["jsonData"]
    assert data["host"] in services and data["protocol"] in {"http", "native"}
    assert int(data["port"]) == (8123 if data["protocol"] == "http" else 9000)
    assert data["defaultDatabase"] == env_of(services["clickhouse"])["CLICKHOUSE_DB"]
    assert is_readonly(users, data["username"]), "Grafana must log in as a read-only user"
    password = re.fullmatch(r"\$\{?([A-Za-z_]\w*)\}?", source["secureJsonData"]["password"])
    assert password, "the datasource password must come from the environment"
    grafana_env = env_of(services["grafana"])
    user = users.find(f"users/{data['username']}")
    assert grafana_env[password.group(1)] == env_of(services["clickhouse"])[user.find("password").get("from_env")]


def test_grafana_service_and_dashboard_provider(services: dict, raw: dict) -> None:
    grafana = services["grafana"]
    env = env_of(grafana)
    assert "GF_PLUGINS_PREINSTALL_SYNC" not in env, "it blocks start-up and fails without internet"
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true" and env["TZ"] == "Asia/Shanghai"
    assert env["GF_USERS_DEFAULT_LANGUAGE"] == "zh-Hans"
    raw_env = raw["services"]["grafana"]["environment"]
    for key in (
        "GF_SECURITY_ADMIN_PASSWORD",
        "GF_SECURITY_SECRET_KEY",
        "YZMON_ALERT_CHANNEL",
        "YZMON_ALERT_WEBHOOK_URL",
    ):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", raw_env[key]), f"{key}: from the environment, no default"
    mounts = dict((target, source) for source, target in bind_mounts(grafana))
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = yaml.safe_load(DASHBOARD_PROVIDER.read_text(encoding="utf-8"))["providers"][0]
    assert provider["type"] == "file"
    assert mounts[provider["options"]["path"]] == "./dashboards"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    board = json.loads((ROOT / "dashboards" / home.rpartition("/")[2]).read_text(encoding="utf-8"))
    assert board["uid"] == "yzmon-overview", "the overview is the home dashboard"


def test_dashboards_and_alert_rules_share_one_folder() -> None:
    """Alert rule files name their folder by title only (grafana/grafana#125079) and are provisioned before or
    alongside the dashboards; a provider with folderUid would create a second folder of the same title."""
    provider = yaml.safe_load(DASHBOARD_PROVIDER.read_text(encoding="utf-8"))["providers"][0]
    assert "folderUid" not in provider, "by title, like the alert rules, or Grafana makes two folders"
    rules = yaml.safe_load((ALERTING / "yzmon-alerts.yaml").read_text(encoding="utf-8"))
    assert {group["folder"] for group in rules["groups"]} == {provider["folder"]}


def test_alerts_reach_someone() -> None:
    """A contact point from the environment and a policy tree that routes every rule category to it."""
    points = yaml.safe_load((ALERTING / "contact-points.yaml").read_text(encoding="utf-8"))
    (point,) = points["contactPoints"]
    (receiver,) = point["receivers"]
    assert receiver["type"] == "${YZMON_ALERT_CHANNEL}" and receiver["settings"]["url"] == "${YZMON_ALERT_WEBHOOK_URL}"
    assert receiver["uid"]
    (policy,) = yaml.safe_load((ALERTING / "policies.yaml").read_text(encoding="utf-8"))["policies"]
    assert policy["receiver"] == point["name"]
    routes = {tuple(r["object_matchers"][0]): r for r in policy["routes"]}
    rules = yaml.safe_load((ALERTING / "yzmon-alerts.yaml").read_text(encoding="utf-8"))
    categories = {rule["labels"]["category"] for group in rules["groups"] for rule in group["rules"]}
    assert {("category", "=", c) for c in categories} == set(routes)
    assert all(r["receiver"] == point["name"] for r in routes.values())
    mutes = {
        m["name"]: m for m in yaml.safe_load((ALERTING / "mute-timings.yaml").read_text(encoding="utf-8"))["muteTimes"]
    }
    used = {n for r in routes.values() for n in r.get("mute_time_intervals", []) + r.get("active_time_intervals", [])}
    assert used == set(mutes) and all(
        i["location"] == "Asia/Shanghai" for m in mutes.values() for i in m["time_intervals"]
    )
    crowd = routes[("category", "=", "crowd")]
    assert not crowd.get("mute_time_intervals") and not crowd.get("active_time_intervals"), "crowds are never muted"


def test_grafana_image_installs_the_pinned_plugin_at_build_time(raw: dict) -> None:
    grafana = raw["services"]["grafana"]
    assert grafana["build"]["context"] == "deploy/grafana"
    name, version = PLUGIN
    assert grafana["build"]["args"]["CLICKHOUSE_PLUGIN_VERSION"] == version
    assert grafana["image"].endswith(f"ch{version}") and grafana["build"]["args"]["GRAFANA_VERSION"] in grafana["image"]
    text = GRAFANA_DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG GRAFANA_VERSION=\d+\.\d+\.\d+$", text, re.M)
    assert f"ARG CLICKHOUSE_PLUGIN={name}" in text and f"ARG CLICKHOUSE_PLUGIN_VERSION={version}" in text
    assert re.search(r"grafana cli --pluginsDir \S+ plugins install \S+ \S+", text)
    assert "GF_PATHS_PLUGINS=/var/lib/grafana-plugins" in text, "outside the grafana-data volume"
    assert "USER grafana" in text


def test_clickhouse_users_only_from_the_compose_network(users: ET.Element, raw: dict, services: dict) -> None:
    subnet = raw["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert subnet == "${YZMON_NETWORK_SUBNET:-172.28.0.0/24}"
    assert env_of(services["clickhouse"])["YZMON_NETWORK_SUBNET"] == "172.28.0.0/24"
    for user in users.findall("users/*"):
        ips = user.findall("networks/ip")
        assert [ip.get("from_env") for ip in ips if ip.get("from_env")] == ["YZMON_NETWORK_SUBNET"], user.tag
        assert {ip.text for ip in ips if not ip.get("from_env")} <= {"127.0.0.1", "::1"}, user.tag


# -- the image -----------------------------------------------------------------------------------------------------
def test_dockerfile_is_multi_stage_pinned_and_unprivileged() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    froms = [line.split()[1] for line in instructions if line.upper().startswith("FROM ")]
    assert len(froms) >= 2, "the Dockerfile should be multi-stage"
    stages = {line.split()[-1] for line in instructions if line.upper().startswith("FROM ") and " AS " in line.upper()}
    for base in froms:
        if base in stages:
            continue
        _, _, tag = base.partition(":")
        assert tag and tag != "latest" and re.match(r"\d+\.\d+\.\d+", tag), f"base image {base} is not pinned"
    last_stage = instructions[max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM ")) :]
    users_set = [line.split()[1] for line in last_stage if line.upper().startswith("USER ")]
    assert users_set and users_set[-1].split(":")[0] not in {"root", "0"}, "the runtime stage must switch to non-root"
    assert any(line.startswith("CMD") and "streams.worker" in line for line in last_stage)
    assert any(line.startswith("COPY") and "sql" in line.split() for line in instructions), "migrations not copied"
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    for entry in (".env", ".venv", ".git", ".yzmon"):
        assert entry in ignored, f".dockerignore must exclude {entry}"


def test_the_image_carries_every_package_of_the_project() -> None:
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    copied = {line.split()[1] for line in lines if line.startswith("COPY ")}
    for pattern in packages["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"the Dockerfile does not copy the package {pattern.rstrip('*')}"


def test_production_read_users_run_under_the_embedded_read_limits():
    """Grafana's and the analysts' profile carries the same limits as the embedded store's read path."""
    from yzcore.readlimits import LIMITS
    from yzcore.settings import Settings

    profile = ET.parse(USERS_XML).getroot().find("profiles/yzmon_readonly")
    defaults = Settings()
    for limit in LIMITS:
        if limit.setting == "max_threads":  # the server's cores are its own; the embedded default follows this machine
            continue
        assert profile.findtext(limit.setting) == str(getattr(defaults, limit.field)), limit.setting
    assert profile.findtext("readonly") == "1"
    assert profile.findtext("cancel_http_readonly_queries_on_client_close") == "1"
