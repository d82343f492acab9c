"""The worker's environment is generated from the settings object: a process reading it sees every setting
the stack was given."""

from pathlib import Path

from pydantic import SecretStr
from support import settings_for

from yzcore.settings import Settings
from yzmon.stack import worker_env


def _clear(monkeypatch) -> None:
    settings_for({}, monkeypatch)


def test_every_setting_reaches_the_worker(tmp_path, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("YZMON_BATCH_MAX", "7")  # the parent's own value loses to the settings object's
    given = Settings(
        _env_file=None,
        data_dir=tmp_path / "d",
        broker_port=19999,
        worker_port=16001,
        sql_port=18001,
        sql_host="0.0.0.0",
        sql_reader_password=SecretStr("r s"),
        topic_partitions=3,
        bundle_events=17,
        batch_max=2000,
        batch_seconds=0.25,
        fetch_max_wait_ms=50,
        poll_records=321,
        future_tolerance_s=12,
        allowed_lateness_s=34,
        group_session_timeout_s=6.5,
        fault_injection=True,
        log_level="debug",
        restart_max=2,
        restart_window_s=60,
        restart_backoff_s=0.5,
        broker_recycle_mb=0,
        read_max_execution_time_s=5,
        read_max_memory_bytes=128 * 1024**2,
        read_max_rows_to_read=10,
        read_max_bytes_to_read=11,
        read_max_result_rows=12,
        read_max_result_bytes=13,
        read_max_threads=1,
        read_max_concurrent=2,
    )
    seen = settings_for(worker_env(given), monkeypatch)
    want = given.model_dump() | {
        "data_dir": (tmp_path / "d").resolve(),
        "kafka_bootstrap": given.bootstrap,
        "clickhouse_dsn": given.store_dsn,
    }
    got = seen.model_dump()
    assert got.pop("sql_reader_password").get_secret_value() == "r s"
    want.pop("sql_reader_password")
    assert got == want
    assert set(given.environment()) == {
        f"YZMON_{name.upper()}" for name, value in given.model_dump().items() if value is not None
    }


def test_paths_are_absolute_and_unset_options_absent(monkeypatch):
    _clear(monkeypatch)
    env = Settings(_env_file=None, data_dir=Path("rel")).environment()
    assert Path(env["YZMON_DATA_DIR"]).is_absolute()
    assert "YZMON_KAFKA_BOOTSTRAP" not in env and "YZMON_POLL_RECORDS" not in env
