"""The one settings object: environment variables prefixed ``YZMON_`` and an optional ``.env``.

Faust reads some unprefixed variables of its own (``BROKER_SESSION_TIMEOUT`` ...); ours never
share those names.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of every yzmon process. Only these values differ between embedded and production."""

    model_config = SettingsConfigDict(env_prefix="YZMON_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".yzmon"), description="Embedded stack state: chDB store, logs, pid files.")
    kafka_bootstrap: str | None = Field(
        None, description="host:port[,host:port] of an external Kafka; unset starts the embedded broker."
    )
    broker_host: str = "127.0.0.1"
    broker_port: int = Field(19092, ge=1, le=65535, description="Port of the embedded broker.")
    clickhouse_dsn: str | None = Field(
        None, description="chdb:///path (embedded, default DATA_DIR/clickhouse) or http(s)://user:pass@host:8123/db."
    )
    reader_dsn: str | None = Field(
        None, description="DSN of the read-only user for `yzmon sql` and dashboards; defaults to clickhouse_dsn."
    )
    worker_host: str = "127.0.0.1"
    worker_port: int = Field(6066, ge=1, le=65535, description="Worker web port: health, status, query gateway.")
    topic_partitions: int = Field(4, ge=1, le=256)
    bundle_events: int = Field(500, ge=1, le=5000, description="Most events a producer puts in one Kafka record.")
    batch_max: int = Field(
        300,
        ge=1,
        description="Most Kafka records (single events or bundles) the worker lands in one batch. Under a backlog, "
        "fewer larger writes leave the store fewer parts to merge (a 10-day backlog: 1-2 merges instead of 12-13).",
    )
    batch_seconds: float = Field(0.5, gt=0, description="Longest wait to fill a batch.")
    waiting_max_mb: float = Field(
        32,
        gt=0,
        description="Most bytes (MiB) of raw rows a feed's agent holds for the store (those of the batches waiting and "
        "being written; the records' values are dropped once prepared) before it stops taking records: with the "
        "batch size, what bounds the worker's memory under a backlog.",
    )
    kafka_compression: Literal["lz4", "gzip", "none"] = Field(
        "lz4",
        description="Compression of the records yzmon's producers send: the embedded broker keeps them in memory as "
        "sent, so lz4 makes it recycle about a third as often (a year: 4 recycles instead of 13); none sends as is.",
    )
    memory_trim_s: float = Field(
        1.0,
        ge=0,
        description="How often the worker gives the memory it freed back to the system (glibc malloc_trim, and "
        "the embedded store's jemalloc with SYSTEM JEMALLOC PURGE; 0 never): without it, the heaps fragmented by a "
        "backlog and the pages the store's statements freed keep the worker's memory high.",
    )
    memory_soft_limit_mb: float = Field(
        800,
        ge=0,
        description="Resident memory (MiB) above which the worker gives back what it freed at once (checked every "
        "0.1 s) rather than at its next round of memory_trim_s; 0: only the rounds.",
    )
    fetch_max_wait_ms: int = Field(
        100, ge=0, le=1500, description="Longest time the broker may hold the worker's fetch for data to arrive."
    )
    poll_records: int | None = Field(None, ge=1, description="Most records per consumer poll (Kafka client default).")
    future_tolerance_s: int = Field(300, ge=0, description="Events further than this in the future are rejected.")
    allowed_lateness_s: int = Field(
        600,
        ge=0,
        description="Events older than their 商圈's latest event time by "
        "more than this are counted as late (still landed and aggregated).",
    )
    group_session_timeout_s: float = Field(10.0, gt=1)
    clickhouse_cluster: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="ClickHouse cluster (remote_servers) to migrate for: ON CLUSTER, Replicated and Distributed "
        "tables (yzcore/cluster.py); unset for one server or the embedded store.",
    )
    fault_injection: bool = Field(False, description="Offer POST /admin/store-outage on the worker (tests, drills).")
    log_level: str = "info"
    restart_max: int = Field(
        5, ge=0, description="Restarts of a crashed worker or broker within restart_window_s before the stack gives up."
    )
    restart_window_s: float = Field(600.0, gt=0, description="The window in which restart_max counts crashes.")
    restart_backoff_s: float = Field(
        1.0, ge=0, description="Wait before the first restart of a crashed worker; doubles per crash, at most 30 s."
    )
    broker_recycle_mb: int = Field(
        512,
        ge=0,
        description="Embedded broker memory (RSS, MiB) past which the supervisor restarts it once everything it "
        "holds has landed (the broker keeps every record in memory); 0 never recycles.",
    )
    sql_host: str = Field(
        "127.0.0.1", description="Bind address of ClickHouse's HTTP interface served by the worker (read-only)."
    )
    sql_port: int = Field(8123, ge=1, le=65535, description="Port of the worker's ClickHouse HTTP interface.")
    sql_reader_password: SecretStr | None = Field(
        None, description="Password of the `reader` user (dashboards); required when sql_host is not loopback."
    )
    sql_analyst_password: SecretStr | None = Field(
        None, description="Password of the `analyst` user (people); required when sql_host is not loopback."
    )
    sql_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names (comma-separated) the HTTP interface answers to besides its bind address and "
        "localhost, e.g. the name Grafana or analysts use to reach it; any other Host header is refused.",
    )
    sql_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins (comma-separated, e.g. http://grafana.example:3000) whose pages may query the "
        "HTTP interface from a browser; requests from any other page are refused.",
    )
    read_max_execution_time_s: int = Field(60, ge=1, description="Longest a read query runs (max_execution_time).")
    read_max_memory_bytes: int = Field(
        4 * 1024**3, ge=64 * 1024**2, description="Most memory one read query may use (max_memory_usage)."
    )
    read_max_rows_to_read: int = Field(
        2_000_000_000, ge=1, description="Most rows one read query may scan (max_rows_to_read); a year is ~35M."
    )
    read_max_bytes_to_read: int = Field(
        200 * 1024**3, ge=1, description="Most uncompressed bytes one read query may scan (max_bytes_to_read)."
    )
    read_max_result_rows: int = Field(
        50_000_000, ge=1, description="Most rows one read query may return (max_result_rows)."
    )
    read_max_result_bytes: int = Field(
        4 * 1024**3, ge=1, description="Most bytes one read query may return (max_result_bytes)."
    )
    read_max_threads: int = Field(
        max(1, (os.cpu_count() or 2) - 1),
        ge=1,
        description="Threads one read query may use (max_threads); one core is left for ingestion.",
    )
    read_max_concurrent: int = Field(4, ge=1, le=64, description="Read queries the worker runs at once.")
    alert_channel: Literal["wecom", "dingding"] | None = Field(
        None,
        description="Where alerts go: wecom (企业微信群机器人) or dingding (钉钉群机器人), as for Grafana.",
    )
    alert_webhook_url: SecretStr | None = Field(
        None, description="The group robot's webhook URL (it carries the robot's key); `yzmon alerts test` posts to it."
    )

    @field_validator("sql_allowed_hosts", "sql_allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, v: object) -> object:
        return [item.strip() for item in v.split(",") if item.strip()] if isinstance(v, str) else v

    @field_validator("clickhouse_dsn", "reader_dsn")
    @classmethod
    def _known_scheme(cls, v: str | None) -> str | None:
        if v is not None and urlparse(v).scheme not in {"chdb", "http", "https"}:
            raise ValueError(f"unsupported ClickHouse DSN {v!r}: use chdb:///path or http(s)://user:pass@host:8123/db")
        return v

    @model_validator(mode="after")
    def _cluster_needs_a_server(self) -> Settings:
        if self.clickhouse_cluster and not (self.clickhouse_dsn or "").startswith("http"):
            raise ValueError(
                "YZMON_CLICKHOUSE_CLUSTER needs YZMON_CLICKHOUSE_DSN=http(s)://… of a node of that cluster; "
                "the embedded store is a single server: unset YZMON_CLICKHOUSE_CLUSTER"
            )
        return self

    @property
    def store_dsn(self) -> str:
        """The writer's ClickHouse DSN."""
        return self.clickhouse_dsn or f"chdb:///{self.data_dir.resolve() / 'clickhouse'}"

    @property
    def query_dsn(self) -> str:
        """The read-only DSN analysts and dashboards use."""
        return self.reader_dsn or self.store_dsn

    @property
    def embedded_store(self) -> bool:
        return self.store_dsn.startswith("chdb:")

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.broker_host}:{self.broker_port}"

    @property
    def worker_url(self) -> str:
        return f"http://{self.worker_host}:{self.worker_port}"

    def environment(self) -> dict[str, str]:
        """Every setting as the environment variable that sets it (``YZMON_<FIELD>``), for a child process:
        secrets in clear, paths absolute, booleans lower-case; unset options are left out."""
        prefix = self.model_config.get("env_prefix", "")
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = str(value).lower()
            elif isinstance(value, Path):
                value = value.resolve()
            elif isinstance(value, list | tuple):
                value = ",".join(map(str, value))  # the comma-separated form the list settings read
            out[f"{prefix}{name}".upper()] = str(value)
        return out


@lru_cache
def get_settings() -> Settings:
    return Settings()
