"""The Faust app: a typed App holding the worker's settings, its store sink, the retry policy and the
outage drill; the landing agents (``streams.agents``) and the web views (``streams.gateway``, a Blueprint).

Run the worker with `yzmon up` (embedded) or `python -m streams.worker` (production).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime

import faust

from schemas.feeds import FEEDS, GROUP_ID
from streams.backup import blueprint as backup_blueprint
from streams.drill import OutageDrill
from streams.gateway import blueprint, register_sql_interface
from streams.retry import Failure, Retrying
from streams.sink import ClickHouseSink
from streams.transport import SCHEME
from yzcore.settings import Settings, get_settings

EXIT_REFUSED = 3  # the worker's exit code after a write no retry can fix
STOP_GRACE_S = 30.0  # longest a graceful stop may take before the worker exits regardless


def faust_config(settings: Settings) -> dict:
    """Faust's settings for the worker."""
    session = settings.group_session_timeout_s
    return {
        "broker": f"{SCHEME}://{settings.bootstrap}",
        "store": "memory://",
        "datadir": str(settings.data_dir / "faust"),
        "web_enabled": True,
        "web_bind": settings.worker_host,
        "web_host": settings.worker_host,
        "web_port": settings.worker_port,
        "topic_partitions": settings.topic_partitions,
        "consumer_auto_offset_reset": "earliest",
        # Group membership on a small broker: a short session so that joins (which wait about half
        # a session on Tansu) are quick, heartbeats well inside it, and commits every second.
        "broker_session_timeout": session,
        "broker_heartbeat_interval": max(session / 5, 0.5),
        "broker_rebalance_timeout": session,
        "broker_request_timeout": max(session * 3, 30.0),
        "broker_max_poll_interval": 300.0,
        "broker_commit_interval": 1.0,
        "stream_buffer_maxsize": settings.batch_max * 2,
        "broker_max_poll_records": settings.poll_records,
        "producer_acks": -1,
        "logging_config": None,
    }


class YzApp(faust.App):
    """The worker's app: Faust's App plus what the agents and views share."""

    yz_settings: Settings
    sink: ClickHouseSink
    drill: OutageDrill
    landing: Retrying
    watermarks: dict[str, dict[tuple[int, str], float]]  # per feed: latest event time per (partition, 商圈)
    started_at: float
    refused: Failure | None  # the write failure that stopped the worker

    def __init__(self, settings: Settings, sink: ClickHouseSink | None = None) -> None:
        super().__init__(GROUP_ID, **faust_config(settings))
        self.yz_settings = settings
        self.sink = sink if sink is not None else ClickHouseSink(settings.store_dsn)
        self.drill = OutageDrill()
        self.landing = Retrying(self.sink, self.drill, stop=self.stop_for)
        self.watermarks = {name: {} for name in FEEDS}
        self.started_at = time.time()
        self.refused = None

    def stop_for(self, failure: Failure) -> None:
        """Stop the worker for a write no retry can fix: Faust stops as on SIGTERM (committing what was
        acknowledged), then the process exits with :data:`EXIT_REFUSED` and the reason as its last line
        (:func:`last_words`), which the supervisor records for `yzmon status`."""
        if self.refused is not None:
            return
        self.refused = failure
        self.conf.stream_wait_empty = False  # the held batch is never acknowledged: commit what was, and go

        def exit_regardless() -> None:  # a graceful stop that hangs must not keep a worker that cannot write
            last_words(failure)
            os._exit(EXIT_REFUSED)

        timer = threading.Timer(STOP_GRACE_S, exit_regardless)
        timer.daemon = True
        timer.start()
        os.kill(os.getpid(), signal.SIGTERM)

    def now(self) -> datetime:
        """The wall clock the future-time check is made against."""
        return datetime.now(UTC)


def last_words(failure: Failure) -> None:
    """The worker's last line: why it stopped and what to do."""
    print(f"worker stopped: {failure.advice}", file=sys.__stderr__, flush=True)  # Faust redirects sys.stderr


def create_app(settings: Settings) -> YzApp:
    app = YzApp(settings)
    blueprint.register(app, url_prefix="/")
    backup_blueprint.register(app, url_prefix="/")
    register_sql_interface(app)
    return app


app = create_app(get_settings())
