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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable

from clickhouse_connect.driver.exceptions import ClickHouseError

log = logging.getLogger(__name__)

PURGE = "SYSTEM JEMALLOC PURGE"  # the embedded store's statement returning jemalloc's freed pages


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def start_trimming(
    interval_s: float, purge: Callable[[], object] | None = None, stop: threading.Event | None = None
) -> threading.Thread | None:
    """Every ``interval_s`` seconds, trim the heaps and call ``purge`` (the store's jemalloc), in a daemon
    thread, until ``stop`` is set (the worker never sets it); None when disabled or when there is nothing to
    trim. A purge that fails is logged once and not tried again: trimming goes on."""
    trim = _malloc_trim()
    if interval_s <= 0 or (trim is None and purge is None):
        return None
    stopped = stop or threading.Event()

    def loop() -> None:
        purging = purge
        while not stopped.wait(interval_s):
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
    return thread
