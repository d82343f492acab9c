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
