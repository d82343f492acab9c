"""Where each feed partition stands on the broker: the worker group's committed offset and the log's end.

The supervisor samples it every few seconds; when the embedded broker dies, the last sample says which
offset ranges had not been committed by the worker (not landed) and were lost with it — for producers
other than yzmon's own, which keep and send again what had not landed (``producers.landing``).
"""

from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

from schemas.feeds import FEEDS, GROUP_ID
from yzmon.broker import log_end_offsets, port_open


def partition_offsets(bootstrap: str) -> dict[tuple[str, int], tuple[int, int]] | None:
    """(committed, end) per (topic, partition) of the feed topics; None when Kafka is unreachable."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port_open(host, int(port)):
        return None
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000, enable_auto_commit=False)
    try:
        committed = {tp: meta.offset for tp, meta in admin.list_group_offsets(GROUP_ID).get(GROUP_ID, {}).items()}
        tps = feed_partitions(consumer)
        return {
            (tp.topic, tp.partition): (max(committed.get(tp, 0), 0), end)
            for tp, end in log_end_offsets(consumer, tps).items()
        }
    finally:
        consumer.close()
        admin.close()


def feed_partitions(consumer: KafkaConsumer) -> list[TopicPartition]:
    """Every partition of the feed topics that the broker lists."""
    return [TopicPartition(f.topic, p) for f in FEEDS.values() for p in (consumer.partitions_for_topic(f.topic) or ())]


def group_lag(bootstrap: str) -> dict[str, int] | None:
    """Records of each feed topic the worker's group has not committed yet; None when Kafka is unreachable."""
    offsets = partition_offsets(bootstrap)
    return None if offsets is None else lag_by_topic(offsets)


def lag_by_topic(offsets: dict[tuple[str, int], tuple[int, int]]) -> dict[str, int]:
    lag = {f.topic: 0 for f in FEEDS.values()}
    for (topic, _), (committed, end) in offsets.items():
        lag[topic] = lag.get(topic, 0) + max(end - committed, 0)
    return lag


def uncommitted_ranges(offsets: dict[tuple[str, int], tuple[int, int]]) -> list[str]:
    """``topic-partition first–last`` of every range not committed yet."""
    return [
        f"{topic}-{partition} {committed}–{end - 1}"
        for (topic, partition), (committed, end) in sorted(offsets.items())
        if end > committed
    ]
