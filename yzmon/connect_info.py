"""How analysts' and Grafana's own tools reach the embedded store, as `yzmon up` prints it."""

from __future__ import annotations

from yzcore.settings import Settings
from yzcore.store import interface_dsn


def connect_lines(settings: Settings) -> list[str]:
    """Lines for the console: a DSN for pandas, the Grafana datasource settings, DBeaver."""
    dsn = interface_dsn(settings)
    host = dsn.split("@", 1)[1].rsplit(":", 1)[0]
    user = dsn.split("//", 1)[1].split("@", 1)[0].split(":", 1)[0]
    password = "(none)" if user == "default" else f"YZMON_SQL_{user.upper()}_PASSWORD"
    shown = dsn if user == "default" else dsn.replace(dsn.split("//", 1)[1].split("@", 1)[0], f"{user}:***")
    return [
        f"ClickHouse HTTP interface (read-only): http://{host}:{settings.sql_port} · user {user} · password {password}",
        f"  pandas:  clickhouse_connect.get_client(dsn='{shown}').query_df('SELECT …')",
        f"  Grafana: ClickHouse datasource, protocol http, host {host}, port {settings.sql_port}, user {user}, "
        "database default (provisioning: deploy/grafana/local/)",
        f"  DBeaver: ClickHouse driver, host {host}, port {settings.sql_port}, database default, user {user}",
    ]


def provider_lines(settings: Settings) -> list[str]:
    """Where providers' own Kafka clients send (docs/providers.md: which client versions the embedded broker serves)."""
    if settings.embedded_broker:
        return [
            f"Kafka for providers' clients: bootstrap.servers={settings.bootstrap} (embedded broker, plaintext, "
            "loopback; librdkafka ≥ 2.x such as confluent-kafka 2.16 — not Debian's librdkafka 2.0.2/kcat; "
            "docs/providers.md)"
        ]
    return [f"Kafka for providers' clients: bootstrap.servers={settings.bootstrap}"]
