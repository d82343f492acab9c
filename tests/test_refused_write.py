"""A write no retry can fix stops the worker with its reason, and the supervisor's crash-loop rule says so
in `yzmon status`: the embedded stack over a store that lacks a column the worker writes (as after a bad
migration)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import sale

from producers.kafka import FeedProducer
from streams.app import EXIT_REFUSED
from yzcore.settings import Settings
from yzmon.stack import Stack, supervision_rows

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


class BrokenSchemaStack(Stack):
    """Migrates the store, then drops a column of sales_raw behind the ledger's back."""

    def migrate(self) -> None:
        super().migrate()
        drop = "import sys; from yzcore.store import connect; connect(sys.argv[1]).command(sys.argv[2])"
        statement = "ALTER TABLE sales_raw DROP COLUMN merchant_group"
        subprocess.run([sys.executable, "-c", drop, self.settings.store_dsn, statement], check=True, cwd=ROOT)


def test_a_write_no_retry_can_fix_stops_the_worker_and_status_says_why(tmp_path, free_port):
    settings = Settings(
        data_dir=tmp_path,
        broker_port=free_port(),
        worker_port=free_port(),
        sql_port=free_port(),
        topic_partitions=1,
        restart_max=0,  # the crash-loop rule at its strictest: the first such exit gives up
        group_session_timeout_s=4,  # a quicker group join (Tansu waits about half the session); one batch here
    )
    stack = BrokenSchemaStack(settings)
    stack.start(wait_ready_s=120)
    try:
        producer = FeedProducer(settings)
        producer.send("sales", sale("refused-1"))
        producer.close(wait_landed=False)  # it never lands: the worker refuses the write
        deadline = time.monotonic() + 90
        while stack.tick():
            assert time.monotonic() < deadline, "the worker did not stop"
            time.sleep(0.1)
        assert stack.worker is not None and stack.worker.returncode == EXIT_REFUSED
        record = stack.records["worker"]
        assert record.state == "gave up"
        assert f"exited with code {EXIT_REFUSED}" in record.last_reason
        assert "NO_SUCH_COLUMN_IN_TABLE" in record.last_reason and "yzmon db migrate" in record.last_reason
        (supervisor,) = [text for label, text in supervision_rows(settings) if label == "supervisor"]
        assert "worker gave up" in supervisor and "NO_SUCH_COLUMN_IN_TABLE" in supervisor
        last = stack.logs["worker"].read_text(encoding="utf-8").strip().splitlines()[-1]
        assert last.startswith("worker stopped: ClickHouse refused a write with NO_SUCH_COLUMN_IN_TABLE (code 16)")
    finally:
        stack.close()
