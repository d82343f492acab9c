"""The worker gives back what it freed: glibc keeps freed chunks of a fragmented heap until trimmed."""

from __future__ import annotations

import subprocess
import sys

from support import ROOT

from streams.trim import start_trimming

FRAGMENT = """
import sys, time
from streams.trim import start_trimming

def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024

big, keep = [], []
for i in range(2000):  # records of about 100 KB, each followed by a small survivor on the same heap
    big.append(bytes(100_000) + bytes([i % 256]))
    keep.append(bytes(1000) + bytes([i % 256]))
del big
time.sleep(0.1)
held = rss()
start_trimming(float(sys.argv[1]))
time.sleep(0.5)
print(held, rss())
"""


def _held_then(interval_s: float) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", FRAGMENT, str(interval_s)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    held, after = map(float, done.stdout.split())
    return held, after


def test_freed_records_go_back_to_the_system_within_the_interval():
    held, after = _held_then(0.05)
    assert held > 150 and after < held - 150, (held, after)  # about 190 MB freed but held, then given back


def test_without_trimming_the_fragmented_heap_keeps_them():
    held, after = _held_then(0)
    assert held > 150 and after > held - 20, (held, after)


def test_trimming_can_be_switched_off():
    assert start_trimming(0) is None


STORE = """
import sys, tempfile, time
from streams.trim import PURGE, start_trimming
from yzcore.store import connect

def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024

client = connect(f"chdb://{tempfile.mkdtemp()}")
client.command("CREATE TABLE t (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
for _ in range(5):  # statements that allocate and free a few hundred MB in the store's jemalloc
    client.command("INSERT INTO t SELECT number, toString(number * 7) FROM numbers(3000000)")
held = rss()
start_trimming(0.05, (lambda: client.command(PURGE)) if sys.argv[1] == "purge" else None)
time.sleep(0.5)
print(held, rss())
"""


def _store_held_then(mode: str) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", STORE, mode], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    held, after = map(float, done.stdout.split())
    return held, after


def test_the_stores_freed_pages_go_back_with_the_purge_and_not_with_the_trim_alone():
    held, after = _store_held_then("purge")
    assert after < held - 100, (held, after)  # about 200 MB of jemalloc's dirty pages returned
    held, after = _store_held_then("trim")
    assert after > held - 50, (held, after)  # glibc's trim does not reach the store's allocator


def test_a_purge_the_store_refuses_is_tried_once_and_the_trimming_goes_on(monkeypatch, caplog):
    import threading
    import time

    from clickhouse_connect.driver.exceptions import DatabaseError

    import streams.trim as trim

    trims, purges, stop = [], [], threading.Event()

    def fake_trim(pad: int) -> None:
        trims.append(pad)
        if len(trims) >= 10:
            stop.set()

    def refuse():
        purges.append(1)
        raise DatabaseError("Code: 1. DB::Exception: SYSTEM JEMALLOC PURGE is not supported")

    monkeypatch.setattr(trim, "_malloc_trim", lambda: fake_trim)
    thread = trim.start_trimming(0.01, refuse, stop)
    assert thread is not None
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(trims) == 10 and purges == [1]
    assert "not purged" in caplog.text
