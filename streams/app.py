"""The Faust app: one landing agent per feed, the DLQ topics, and the worker's web endpoints.

Run the worker with `yzmon up` (embedded) or `python -m streams.worker` (production).
"""

from __future__ import annotations

import faust

from schemas.feeds import GROUP_ID
from streams.agents import register_agents
from streams.gateway import register_views
from streams.sink import ClickHouseSink
from yzcore.settings import Settings, get_settings


def create_app(settings: Settings) -> faust.App:
    session = settings.group_session_timeout_s
    app = faust.App(
        GROUP_ID,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        web_enabled=True,
        web_bind=settings.worker_host,
        web_host=settings.worker_host,
        web_port=settings.worker_port,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        # Group membership on a small broker: a short session so that joins (which wait about half
        # a session on Tansu) are quick, heartbeats well inside it, and commits every second.
        broker_session_timeout=session,
        broker_heartbeat_interval=max(session / 5, 0.5),
        broker_rebalance_timeout=session,
        broker_request_timeout=max(session * 3, 30.0),
        broker_max_poll_interval=300.0,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=settings.batch_max * 2,
        broker_max_poll_records=settings.poll_records,
        producer_acks=-1,
        logging_config=None,
    )
    app.sink = ClickHouseSink(settings.store_dsn)  # type: ignore[attr-defined]
    app.yz_settings = settings  # type: ignore[attr-defined]
    register_agents(app, settings)
    register_views(app)
    return app


app = create_app(get_settings())
