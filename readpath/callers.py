"""Who may call the interface: the Host and Origin rules that keep web pages out, and the throttle on
wrong passwords.

- **Host** (DNS rebinding): the bound address, ``localhost``, a loopback address, a name listed in
  ``YZMON_SQL_ALLOWED_HOSTS``, or (when bound to every address) any IP address. A rebinding page
  reaches the interface under its own domain name, which is none of these.
- **Origin** (cross-site pages): a request that names an Origin is served only when that Origin is
  listed in ``YZMON_SQL_ALLOWED_ORIGINS``; a browser request without one whose ``Sec-Fetch-Site`` is
  ``cross-site`` or ``same-site`` (an ``<img>`` or a link on another page), or whose ``Referer`` is
  another site, is refused as well. Programs (clickhouse-connect, Grafana's plugin, DBeaver, curl)
  send none of these headers.
- **Wrong passwords**: after ``FREE_FAILURES`` wrong passwords from one client address, that
  address is refused for a delay that doubles with each further failure (up to ``MAX_DELAY_S``),
  whatever it sends; a right password afterwards clears its count.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from readpath.refusal import Refused
from yzcore.settings import Settings

FREE_FAILURES = 3
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 300.0
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() in _LOOPBACK_NAMES


def _host_name(header: str) -> str:
    """The host of a Host header, without its port (``[::1]:8123`` → ``::1``)."""
    parts = urlsplit(f"//{header}")
    try:
        return (parts.hostname or "").lower()
    except ValueError:
        return ""


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        return value.strip().lower()
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}".lower()


@dataclass
class CallerRules:
    """The Host and Origin rules of one interface, from the settings."""

    bound: str
    hosts: frozenset[str]
    origins: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> CallerRules:
        return cls(
            settings.sql_host.strip("[]").lower(),
            frozenset(h.strip().lower() for h in settings.sql_allowed_hosts if h.strip()),
            frozenset(_origin(o) for o in settings.sql_allowed_origins if o.strip()),
        )

    def check(self, headers: Mapping[str, str]) -> None:
        """Refused (403) when the request's Host or its browser headers say it does not come from a caller served."""
        host = headers.get("Host")
        if host is not None and not self.host_allowed(_host_name(host)):
            raise Refused(
                497,
                "ACCESS_DENIED",
                f"Host {host[:80]!r} is not served: this interface answers to {self.bound}, localhost and the names "
                "in YZMON_SQL_ALLOWED_HOSTS (a page on another domain cannot reach it through DNS rebinding)",
            )
        origin = headers.get("Origin")
        if origin is not None:
            if _origin(origin) not in self.origins:
                raise Refused(
                    497,
                    "ACCESS_DENIED",
                    f"Origin {origin[:80]!r} is not served: requests from web pages are answered only for the "
                    "origins in YZMON_SQL_ALLOWED_ORIGINS",
                )
            return
        site = headers.get("Sec-Fetch-Site", "").lower()
        referer = headers.get("Referer")
        if site in ("cross-site", "same-site") or (
            referer is not None and site != "same-origin" and _origin(referer) not in self.origins
        ):
            raise Refused(
                497,
                "ACCESS_DENIED",
                "A request sent by a web page of another site is not served: open the interface from a program, "
                "or list the page's origin in YZMON_SQL_ALLOWED_ORIGINS",
            )

    def host_allowed(self, name: str) -> bool:
        if not name:
            return False
        if name == self.bound or is_loopback(name) or name in self.hosts:
            return True
        if self.bound in ("0.0.0.0", "::", ""):
            try:
                ipaddress.ip_address(name)
                return True  # bound to every address: reached by one of them (a rebinding page uses a name)
            except ValueError:
                return False
        return False

    def cors_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``Access-Control-Allow-Origin`` for an Origin that is served."""
        origin = headers.get("Origin")
        if origin is not None and _origin(origin) in self.origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}


@dataclass
class Throttle:
    """Wrong passwords per client address: a doubling delay after FREE_FAILURES, counted without sleeping."""

    clock: Callable[[], float] = time.monotonic
    failures: dict[str, int] = field(default_factory=dict)
    blocked_until: dict[str, float] = field(default_factory=dict)

    def wait_s(self, address: str) -> float:
        """Seconds this address must still wait before a password is checked (0: check it now)."""
        return max(0.0, self.blocked_until.get(address, 0.0) - self.clock())

    def failed(self, address: str) -> None:
        count = self.failures.get(address, 0) + 1
        self.failures[address] = count
        if count >= FREE_FAILURES:
            delay = min(FIRST_DELAY_S * 2 ** (count - FREE_FAILURES), MAX_DELAY_S)
            self.blocked_until[address] = self.clock() + delay
        if len(self.failures) > 10_000:  # many addresses: forget the oldest, never grow without bound
            oldest = next(iter(self.failures))
            self.failures.pop(oldest)
            self.blocked_until.pop(oldest, None)

    def succeeded(self, address: str) -> None:
        self.failures.pop(address, None)
        self.blocked_until.pop(address, None)
