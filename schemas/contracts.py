"""Validate events against the contract files: on produce (a dict) and on consume (raw bytes).

A Kafka record's value is one event (a JSON object) or a *bundle*: a JSON array of events of the
same feed, as our producers send them (one record per 商圈 and up to a few hundred events, so
that Kafka and the worker pay their per-record cost once per bundle). Every event of a bundle is
validated on its own; a refused one is refused alone, with its own reason.

Validation runs the JSON Schema files themselves (jsonschema-rs, compiled once; the district
enumeration is added from schemas/reference/districts.json). Every refusal carries a reason code
from REASONS and a human-readable detail; the stream worker stores both with the payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import jsonschema_rs
import orjson

from schemas import SCHEMA_DIR
from schemas.feeds import DECIMAL, INTEGER, TIME, Feed
from schemas.reference import districts

MAX_PAYLOAD_BYTES = 64 * 1024  # a record holding one event
MAX_BUNDLE_BYTES = 1024 * 1024  # a record holding a bundle (Kafka's default message size limit)

REASONS = {
    "oversized": "payload larger than 64 KiB (1 MiB for a bundle)",
    "malformed_json": "payload is not a JSON object or a non-empty array of them",
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


@dataclass(slots=True)
class Decoded:
    """The events of one record: valid ones with their event time in epoch seconds, refused ones with
    their bytes. ``index`` of a refusal is the event's position in the bundle, or -1 when the whole
    record is refused.
    """

    events: list[dict[str, Any]]
    stamps: list[float]
    rejected: list[tuple[int, bytes, Rejection]]


def load_schema(feed: Feed) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / feed.schema_file).read_text(encoding="utf-8"))


@lru_cache
def _validators(feed: Feed) -> tuple[Any, Any]:
    """(one event, a bundle of events) validators of the feed's schema with the known 商圈 enumerated."""
    schema = load_schema(feed)
    schema["properties"]["district"] = {**schema["properties"]["district"], "enum": sorted(districts())}
    bundle = {"type": "array", "minItems": 1, "items": schema}
    return (
        jsonschema_rs.validator_for(schema, validate_formats=True),
        jsonschema_rs.validator_for(bundle, validate_formats=True),
    )


def _reason(feed: Feed, event: Any) -> Rejection:
    """Why the schema refuses ``event``: money below zero and unknown 商圈 first, else the first error."""
    errors = list(_validators(feed)[0].iter_errors(event))
    for err in errors:
        field = err.instance_path[0] if len(err.instance_path) == 1 else None
        if field in ("amount", "spend") and isinstance(err.instance, str) and err.instance.lstrip().startswith("-"):
            return Rejection("negative_amount", f"{field} {err.instance[:40]!r} is negative")
    for err in errors:
        if list(err.instance_path) == ["district"] and isinstance(err.instance, str):
            return Rejection("unknown_district", f"district {err.instance[:40]!r} is not a known 商圈")
    err = errors[0]
    where = ".".join(str(p) for p in err.instance_path) or "event"
    return Rejection("schema_violation", f"{where}: {err.message}"[:500])


_STAMPS: dict[str, float] = {}  # epoch seconds of recently seen event_time strings (events share minutes)
_STAMPS_MAX = 200_000


def _stamp(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 time (cached), or None when Python cannot parse it."""
    stamp = _STAMPS.get(text)
    if stamp is None:
        try:
            stamp = datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
        if len(_STAMPS) >= _STAMPS_MAX:
            _STAMPS.clear()
        _STAMPS[text] = stamp
    return stamp


def _event_time(event: dict[str, Any], latest: float) -> float | Rejection:
    """The epoch seconds of a schema-valid event's time, or why it is refused
    (``latest``: the latest acceptable time, in epoch seconds)."""
    stamp = _stamp(event["event_time"])
    if stamp is None:
        try:
            datetime.fromisoformat(event["event_time"])
        except ValueError as exc:
            return Rejection("schema_violation", f"event_time: {exc}"[:500])
    assert stamp is not None
    if stamp > latest:
        return Rejection(
            "future_timestamp",
            f"event_time {event['event_time']} is more than the tolerance after "
            f"{datetime.fromtimestamp(latest).astimezone().isoformat()}",
        )
    return stamp


def check(feed: Feed, event: Any, now: datetime, future_tolerance: timedelta) -> Rejection | None:
    """Return why ``event`` (a decoded JSON value) is refused, or None when it is valid."""
    if not _validators(feed)[0].is_valid(event):
        return _reason(feed, event)
    stamp = _event_time(event, (now + future_tolerance).timestamp())
    return stamp if isinstance(stamp, Rejection) else None


def decode(feed: Feed, payload: bytes, now: datetime, future_tolerance: timedelta) -> dict[str, Any] | Rejection:
    """Decode and validate a record holding one event. Returns the event dict or a Rejection."""
    decoded = decode_record(feed, payload, now, future_tolerance)
    if decoded.rejected:
        return decoded.rejected[0][2]
    if len(decoded.events) != 1:
        return Rejection("malformed_json", f"a bundle of {len(decoded.events)} events, expected one event")
    return decoded.events[0]


def decode_record(feed: Feed, payload: bytes, now: datetime, future_tolerance: timedelta) -> Decoded:
    """Decode and validate one record: a single event or a bundle. A valid bundle is checked in one call
    (the worker's hot path); only a bundle holding a refused event is checked event by event.

    A refused single event, or a record refused as a whole, keeps the original bytes and index -1.
    """
    bundle = payload.startswith(b"[")
    whole = Decoded([], [], [])
    limit = MAX_BUNDLE_BYTES if bundle else MAX_PAYLOAD_BYTES
    if len(payload) > limit:
        whole.rejected.append((-1, payload, Rejection("oversized", f"{len(payload)} bytes")))
        return whole
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        whole.rejected.append((-1, payload, Rejection("malformed_json", str(exc)[:500])))
        return whole
    if bundle and not value:
        whole.rejected.append((-1, payload, Rejection("malformed_json", "empty bundle")))
        return whole
    if not bundle and not isinstance(value, dict):
        detail = f"top-level JSON {type(value).__name__}, expected an object or an array of objects"
        whole.rejected.append((-1, payload, Rejection("malformed_json", detail)))
        return whole
    items = value if bundle else [value]
    valid = _validators(feed)[1 if bundle else 0].is_valid(value)
    latest = (now + future_tolerance).timestamp()
    if valid:
        stamps = [_stamp(e["event_time"]) for e in items]
        if None not in stamps and max(stamps) <= latest:  # type: ignore[type-var]
            return Decoded(items, stamps, [])  # type: ignore[arg-type]
    out = Decoded([], [], [])
    for index, event in enumerate(items):
        if not valid and not isinstance(event, dict):
            why: Rejection | float = Rejection(
                "malformed_json", f"bundle item {type(event).__name__}, expected an object"
            )
        elif not valid and not _validators(feed)[0].is_valid(event):
            why = _reason(feed, event)
        else:
            why = _event_time(event, latest)
        if isinstance(why, Rejection):
            out.rejected.append((index, orjson.dumps(event), why) if bundle else (-1, payload, why))
        else:
            out.events.append(event)
            out.stamps.append(why)
    return out


def to_columns(feed: Feed, events: list[dict[str, Any]], times: list[datetime] | None = None) -> list[list[Any]]:
    """Raw-table columns (Python values) of valid events, without the Kafka position: absent optional
    fields take the registry's default, money becomes Decimal and times datetime (``times``: already parsed)."""
    out: list[list[Any]] = []
    for column in feed.columns:
        if column.kind == TIME:
            values: list[Any] = (
                list(times) if times is not None else [datetime.fromisoformat(e[column.name]) for e in events]
            )
        elif column.default is None:
            values = [e[column.name] for e in events]
        else:
            values = [e.get(column.name, column.default) for e in events]
        if column.kind == DECIMAL:
            values = [Decimal(v) for v in values]
        elif column.kind == INTEGER:
            values = [int(v) for v in values]
        out.append(values)
    return out


def to_row(feed: Feed, event: dict[str, Any], when: datetime | None = None) -> tuple:
    """The raw-table row of one valid event, without the Kafka position columns."""
    return tuple(column[0] for column in to_columns(feed, [event], None if when is None else [when]))
