"""The store-outage drill: while it is on, every write attempt fails as if the store were down
(``POST /admin/store-outage`` with YZMON_FAULT_INJECTION=true)."""

from __future__ import annotations

import time

from streams.sink import StoreUnavailable


class OutageDrill:
    def __init__(self) -> None:
        self.until = 0.0  # epoch seconds

    def fail_for(self, seconds: float) -> None:
        self.until = time.time() + seconds

    @property
    def active(self) -> bool:
        return time.time() < self.until

    def check(self) -> None:
        """Raise StoreUnavailable while the drill is on."""
        if self.active:
            raise StoreUnavailable("store unavailable (outage drill)")
