"""Find the running stack of a data directory from DATA_DIR/stack.json alone: its addresses (Kafka,
worker, the SQL interface) as the supervisor recorded them, so that a command run with only
YZMON_DATA_DIR (a second terminal, a cron job) talks to that stack and never opens its store."""

from __future__ import annotations

import json
import os
from typing import Any

from yzcore.settings import Settings
from yzcore.store import interface_dsn


def running_stack(settings: Settings) -> dict[str, Any] | None:
    """The state of the stack supervising ``settings.data_dir``, or None when none runs."""
    try:
        state = json.loads((settings.data_dir / "stack.json").read_text())
        os.kill(int(state["supervisor"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


ADDRESSES = ("kafka_bootstrap", "broker_port", "worker_host", "worker_port", "sql_host", "sql_port")


def addresses(settings: Settings) -> dict[str, Any]:
    """What stack.json records of a stack's addresses (the settings that find it)."""
    return {name: getattr(settings, name) for name in ADDRESSES}


def adopt_stack_addresses(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Put the running stack's recorded addresses into the environment where it does not name them
    (YZMON_DATA_DIR alone finds the stack); return what was added."""
    env = os.environ if environ is None else environ
    state = running_stack(Settings())
    if state is None:
        return {}
    added = {}
    for name, value in (state.get("addresses") or {}).items():
        key = f"YZMON_{name.upper()}"
        if name in ADDRESSES and value is not None and key not in env:
            env[key] = added[key] = str(value)
    settings = Settings()
    if state.get("sql_url") and settings.embedded_store and "YZMON_READER_DSN" not in env:
        # reads go to the stack's interface even while its worker restarts: never to the store it owns
        env["YZMON_READER_DSN"] = added["YZMON_READER_DSN"] = interface_dsn(settings)
    return added


def worker_restarting(settings: Settings) -> str | None:
    """ "worker restarting (n)" while the stack of this data dir brings its worker back; else None."""
    state = running_stack(settings)
    worker = ((state or {}).get("children") or {}).get("worker") or {}
    if worker.get("state", "up") in ("up", "gave up"):
        return None
    return f"worker restarting ({worker.get('restarts', 0)})"
