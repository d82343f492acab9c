"""Give the worker's freed memory back to the system: Python's heaps (glibc) and the store's (jemalloc).

Under a backlog the worker allocates and frees many records of about 100 KB, in the consumer's thread
and the agents'. glibc keeps what is freed inside its heaps for reuse, and the heaps fragment: after a
10-day backlog the worker held about 735 MB with nothing left to land, and over a year its resident
memory crept to about 930 MB. ``malloc_trim(0)`` returns the free pages of every heap to the system;
calling it every second brought the idle worker back to about 515 MB at the same rate (BENCHMARKS.md).

The embedded ClickHouse allocates with its own jemalloc, built with ``dirty_decay_ms:5000`` and no
background thread: pages its statements freed stay resident until later allocations happen to purge
them, so a drain's inserts and merges leave hundreds of MB that ClickHouse no longer counts
(``MemoryTracking``) in the worker's resident memory. ``SYSTEM JEMALLOC PURGE`` returns them; the same
thread runs it (``purge``) after each trim.

Between two rounds a backlog's statements can still free a hundred MB or more (the year's peak: inserts
and merges in flight, and 100–130 MB of jemalloc's freed pages). So above a soft limit of resident memory the
thread does not wait for the next round: it reads the process's resident memory every ``CHECK_S`` and trims
and purges as soon as it is over the limit.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable

from clickhouse_connect.driver.exceptions import ClickHouseError

from yzcore.memory import resident_mb

log = logging.getLogger(__name__)

PURGE = "SYSTEM JEMALLOC PURGE"  # the embedded store's statement returning jemalloc's freed pages
CHECK_S = 0.1  # how often the resident memory is read against the soft limit


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def start_trimming(
    interval_s: float,
    purge: Callable[[], object] | None = None,
    stop: threading.Event | None = None,
    soft_limit_mb: float = 0,
) -> threading.Thread | None:
    """Every ``interval_s`` seconds, and whenever the resident memory is over ``soft_limit_mb`` (0: no limit),
    trim the heaps and call ``purge`` (the store's jemalloc), in a daemon thread, until ``stop`` is set or the
    interpreter exits (it then waits for a purge in flight: one running while the interpreter tears the store down
    crashes the process); None when disabled or when there is nothing to trim. A purge that fails is logged once
    and not tried again: trimming goes on."""
    trim = _malloc_trim()
    if interval_s <= 0 or (trim is None and purge is None):
        return None
    stopped = stop or threading.Event()
    limit = soft_limit_mb if soft_limit_mb > 0 and resident_mb() > 0 else 0  # 0: the system does not tell
    tick = min(CHECK_S, interval_s) if limit else interval_s

    def loop() -> None:
        purging = purge
        due = time.monotonic() + interval_s
        while not stopped.wait(tick):
            now = time.monotonic()
            if now < due and not (limit and resident_mb() > limit):
                continue
            due = now + interval_s
            if trim is not None:
                trim(0)
            if purging is not None:
                try:
                    purging()
                except ClickHouseError as exc:  # an engine without the statement: keep trimming the heaps
                    log.warning("the store's memory is not purged (%s); the heaps are still trimmed", exc)
                    purging = None

    thread = threading.Thread(target=loop, name="yzmon-malloc-trim", daemon=True)
    thread.start()
    atexit.register(_stop, stopped, thread)  # before the store's own exit handlers, registered earlier, run
    return thread


def _stop(stopped: threading.Event, thread: threading.Thread) -> None:
    stopped.set()
    thread.join(5)
