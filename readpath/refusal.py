"""A request the interface does not run, worded as ClickHouse words its exceptions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Refused(Exception):
    """A request this interface does not run: ClickHouse's error code and name, and the HTTP status."""

    code: int
    name: str
    message: str
    status: int = 403

    def __str__(self) -> str:
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name})"
