"""Give the worker's freed memory back to the system.

Under a backlog the worker allocates and frees many records of about 100 KB, in the consumer's thread
and the agents'. glibc keeps what is freed inside its heaps for reuse, and the heaps fragment: after a
10-day backlog the worker held about 735 MB with nothing left to land, and over a year its resident
memory crept to about 930 MB. ``malloc_trim(0)`` returns the free pages of every heap to the system;
calling it every second brought the idle worker back to about 515 MB at the same rate (BENCHMARKS.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def start_trimming(interval_s: float) -> threading.Thread | None:
    """Trim the heaps every ``interval_s`` seconds in a daemon thread; None when disabled or unsupported."""
    trim = _malloc_trim()
    if interval_s <= 0 or trim is None:
        return None

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            trim(0)

    thread = threading.Thread(target=loop, name="yzmon-malloc-trim", daemon=True)
    thread.start()
    return thread
