"""The broker gate: lets the embedded stack's supervisor swap its broker without losing a record.

The embedded broker keeps records in memory and cannot delete them, so the supervisor restarts it
(a "recycle") once everything it holds has landed. Producers on the same machine take the gate
shared while they hold records the broker has not acknowledged; the supervisor takes it
exclusively, so a recycle never starts while a record is in flight, and producers wait (instead of
sending into a broker about to go away) until it is over. The gate is a lock file per broker
address; a producer of another Kafka simply finds none.

Files, next to each other in the system's temporary directory:
``yzmon-broker-PORT.gate`` (the lock; its text is the broker's generation, bumped on every
restart so producers know to open a fresh connection) and ``yzmon-broker-PORT.wanted`` (present
while the supervisor waits for the gate: producers then flush and step back).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path

STALE_S = 120.0


class GateTimeout(TimeoutError):
    pass


def gate_path(bootstrap: str) -> Path | None:
    """The gate of a broker on this machine (``host:port``); None for several brokers or a remote one."""
    if "," in bootstrap:
        return None
    host, _, port = bootstrap.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1") or not port.isdigit():
        return None
    return Path(tempfile.gettempdir()) / f"yzmon-broker-{port}.gate"


class Gate:
    """One process's handle on a broker gate (shared for producers, exclusive for the supervisor)."""

    def __init__(self, path: Path):
        self.path = path
        self.wanted = path.with_suffix(".wanted")
        self._fd: int | None = None
        self._exclusive = False

    @classmethod
    def create(cls, path: Path) -> Gate:
        """The supervisor's side: make the gate file (generation 0) and clear any stale request."""
        gate = cls(path)
        if not path.exists():
            path.write_text("0")
        gate.wanted.unlink(missing_ok=True)
        return gate

    @property
    def held(self) -> bool:
        return self._fd is not None

    def generation(self) -> str:
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def requested(self) -> bool:
        """A recycle is wanted (a request older than STALE_S is a leftover of a killed supervisor)."""
        try:
            return time.time() - self.wanted.stat().st_mtime < STALE_S
        except OSError:
            return False

    def acquire_shared(self, timeout_s: float) -> None:
        """Block while a recycle is wanted or under way, then hold the gate shared."""
        self._acquire(fcntl.LOCK_SH, timeout_s, yield_to_request=True)

    def acquire_exclusive(self, timeout_s: float) -> bool:
        """Ask producers to step back and hold the gate alone; False when they did not within ``timeout_s``."""
        self.wanted.touch()
        try:
            self._acquire(fcntl.LOCK_EX, timeout_s, yield_to_request=False)
            return True
        except GateTimeout:
            self.wanted.unlink(missing_ok=True)
            return False

    def bump(self) -> None:
        """A new broker generation (call while holding the gate exclusively)."""
        self.path.write_text(str(time.time_ns()))

    def release(self) -> None:
        if self._fd is None:
            return
        if self._exclusive:
            self.wanted.unlink(missing_ok=True)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        self._exclusive = False

    def _acquire(self, mode: int, timeout_s: float, yield_to_request: bool) -> None:
        if self._fd is not None:
            return
        deadline = time.monotonic() + timeout_s
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        while True:
            if not (yield_to_request and self.requested()):
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    self._fd = fd
                    self._exclusive = mode == fcntl.LOCK_EX
                    return
                except BlockingIOError:
                    pass
            if time.monotonic() > deadline:
                os.close(fd)
                raise GateTimeout(f"the broker gate {self.path} stayed closed for {timeout_s:.0f} s")
            time.sleep(0.02)
