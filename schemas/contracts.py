"""Validate events against the contract files: on produce (a dict) and on consume (raw bytes).

Every refusal carries a reason code from REASONS and a human-readable detail; the stream worker
stores both with the original payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import fastjsonschema
import orjson

from schemas import SCHEMA_DIR
from schemas.reference import districts
from yzmon.feeds import Feed

MAX_PAYLOAD_BYTES = 64 * 1024

REASONS = {
    "oversized": "payload larger than 64 KiB",
    "malformed_json": "payload is not a JSON object",
    "schema_violation": "does not match the feed's JSON Schema",
    "negative_amount": "sales amount below zero",
    "unknown_district": "district id not in schemas/reference/districts.json",
    "future_timestamp": "event_time too far in the future",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


class InvalidEvent(ValueError):
    """Raised on produce when an event breaks its contract."""

    def __init__(self, rejection: Rejection):
        super().__init__(f"{rejection.reason}: {rejection.detail}")
        self.rejection = rejection


def load_schema(feed: Feed) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / feed.schema_file).read_text(encoding="utf-8"))


@lru_cache
def _validator(feed: Feed) -> Callable[[Any], Any]:
    return fastjsonschema.compile(load_schema(feed), formats={"date-time": _is_datetime})


def _is_datetime(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def check(feed: Feed, event: Any, now: datetime, future_tolerance: timedelta) -> Rejection | None:
    """Return why ``event`` (a decoded JSON value) is refused, or None when it is valid."""
    try:
        _validator(feed)(event)
    except fastjsonschema.JsonSchemaValueException as exc:
        money = exc.name in ("data.amount", "data.spend") and isinstance(exc.value, str)
        if money and exc.value.lstrip().startswith("-"):
            return Rejection("negative_amount", f"{exc.name[5:]} {exc.value[:40]!r} is negative")
        if exc.name == "data.district" and isinstance(exc.value, str):
            return Rejection("unknown_district", f"district {exc.value[:40]!r} is not a known 商圈")
        return Rejection("schema_violation", f"{exc.name}: {exc.message}"[:500])
    if event["district"] not in districts():
        return Rejection("unknown_district", f"district {event['district']!r} is not a known 商圈")
    when = datetime.fromisoformat(event["event_time"])
    if when - now > future_tolerance:
        return Rejection("future_timestamp", f"event_time {event['event_time']} is after {now.isoformat()}")
    return None


def decode(feed: Feed, payload: bytes, now: datetime, future_tolerance: timedelta) -> dict[str, Any] | Rejection:
    """Decode and validate one Kafka record value. Returns the event dict or a Rejection."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection("oversized", f"{len(payload)} bytes")
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Rejection("malformed_json", str(exc)[:500])
    if not isinstance(event, dict):
        return Rejection("malformed_json", f"top-level JSON {type(event).__name__}, expected an object")
    rejection = check(feed, event, now, future_tolerance)
    return rejection if rejection is not None else event


def to_row(feed: Feed, event: dict[str, Any]) -> tuple:
    """The raw-table row of a valid event, without the Kafka position columns."""
    when = datetime.fromisoformat(event["event_time"])
    source = event.get("source", "")
    if feed.name == "sales":
        return (event["event_id"], when, event["district"], event["sector"], event["merchant_group"],
                event.get("channel", "in_store"), Decimal(event["amount"]), event["txn_count"], source)
    if feed.name == "footfall":
        return (event["event_id"], when, event["district"], event["gate"], event["entries"], event["exits"], source)
    return (event["event_id"], when, event["district"], event["origin"], event["arrivals"],
            Decimal(event.get("spend", "0")), source)


RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales": ("event_id", "event_time", "district", "sector", "merchant_group", "channel", "amount", "txn_count",
              "source"),
    "footfall": ("event_id", "event_time", "district", "gate", "entries", "exits", "source"),
    "tourists": ("event_id", "event_time", "district", "origin", "arrivals", "spend", "source"),
}
