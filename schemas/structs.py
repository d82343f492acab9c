"""A bundle decoded and validated in compiled calls: msgspec Structs generated from the JSON Schema files.

The worker's fast path. :func:`decode_bundle` decodes a whole bundle (a record holding a JSON array of
events) with msgspec into Structs generated from the feed's contract file: types, enums, lengths,
bounds, required and optional fields, ``additionalProperties: false`` as ``forbid_unknown_fields``; the
商圈 enumeration comes from schemas/reference/districts.json as in ``schemas.contracts``. Patterns and
formats are not translated: the schema's own property, compiled by jsonschema-rs, checks the column of a
field's values in one call (event times once per distinct value). The path vouches for a bundle only
when every event is valid and within the future tolerance; otherwise it returns None and the worker
takes the precise path (``contracts.decode_record``: orjson + jsonschema-rs), which gives each refused
event its own reason. So refusals are unchanged.

The Structs are never wider than the schema: an integer written as ``3.0`` (a JSON Schema integer) is
not an ``int`` to msgspec, and goes the precise way. ``tests/test_structs.py`` checks that both paths
accept the same events and land the same rows, on valid, mutated and fuzzed events and bundles.

The accepted events go on to ClickHouse as JSON (``streams.batch``), encoded again from the Structs
(absent optional fields stay absent). Not the bundle's own bytes: ClickHouse refuses an object with a
duplicated key, which JSON parsers (orjson, msgspec) read as the last value, and proving a bundle free of
them cost more than encoding it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Annotated, Any, Literal

import jsonschema_rs
import msgspec

from schemas.contracts import load_schema
from schemas.feeds import Feed
from schemas.reference import districts

_IGNORED = {"description", "title", "default", "$comment", "examples"}  # annotations, no constraint
_STRING = {"type", "minLength", "maxLength", "pattern", "format"}
_INTEGER = {"type", "minimum", "maximum"}


def _field_type(name: str, spec: dict[str, Any]) -> Any:
    """The msgspec type of one property (its pattern and format left to the column check), or ValueError
    for a keyword this generator does not translate."""
    keys = set(spec) - _IGNORED
    if "enum" in spec:
        if keys - {"enum", "type", "pattern"}:
            raise ValueError(f"{name}: enum with {sorted(keys - {'enum', 'type', 'pattern'})}")
        check = jsonschema_rs.validator_for(spec)  # an enum's values that the rest of the property admits
        values = tuple(v for v in spec["enum"] if isinstance(v, str) and check.is_valid(v))
        if not values:
            raise ValueError(f"{name}: no string value of its enum is valid")
        return Literal[values]  # type: ignore[valid-type]
    kind = spec.get("type")
    if kind == "string" and keys <= _STRING:
        return Annotated[str, msgspec.Meta(min_length=spec.get("minLength"), max_length=spec.get("maxLength"))]
    if kind == "integer" and keys <= _INTEGER:
        return Annotated[int, msgspec.Meta(ge=spec.get("minimum"), le=spec.get("maximum"))]
    raise ValueError(f"{name}: {spec} is not translated to a msgspec type")


@dataclass(frozen=True)
class EventStruct:
    """The generated Struct of a feed's events, its bundle decoder and the checks left for after decoding."""

    struct: type[msgspec.Struct]
    decoder: msgspec.json.Decoder
    optional: tuple[str, ...]  # fields that may be absent (then UNSET)
    # (a field's getter, whether it may be absent, the schema's validator of an array of its values): patterns
    columns: tuple[tuple[Any, bool, Any], ...]
    time: Any  # the schema's validator of one event_time (pattern and RFC 3339 date-time)


@lru_cache
def event_struct(feed: Feed) -> EventStruct:
    """Generate the feed's Struct from its JSON Schema file (the 商圈 enumerated from reference data)."""
    schema = load_schema(feed)
    unknown = set(schema) - _IGNORED - {"$schema", "$id", "type", "additionalProperties", "required", "properties"}
    if schema.get("type") != "object" or schema.get("additionalProperties") is not False or unknown:
        raise ValueError(f"{feed.schema_file}: only closed objects of plain properties are translated")
    props = dict(schema["properties"])
    props["district"] = {**props["district"], "enum": sorted(districts())}
    required = set(schema["required"])
    if "event_time" not in required or not {"pattern", "format"} & set(props["event_time"]):
        raise ValueError(f"{feed.schema_file}: event_time must be required, with a pattern or a format")
    fields: list[tuple[Any, ...]] = []
    for name, spec in props.items():
        kind = _field_type(name, spec)
        fields.append((name, kind) if name in required else (name, kind | msgspec.UnsetType, msgspec.UNSET))
    fields.sort(key=lambda f: len(f) == 3)  # required fields first, as Struct fields without defaults must be
    struct = msgspec.defstruct(f"{feed.name.title()}Event", fields, forbid_unknown_fields=True, frozen=True, gc=False)
    return EventStruct(
        struct,
        msgspec.json.Decoder(list[struct]),  # type: ignore[valid-type]
        tuple(name for name in props if name not in required),
        tuple(
            (
                attrgetter(name),
                name not in required,
                jsonschema_rs.validator_for({"type": "array", "items": spec}, validate_formats=True),
            )
            for name, spec in props.items()
            if {"pattern", "format"} & set(spec) and "enum" not in spec and name != "event_time"
        ),
        jsonschema_rs.validator_for(props["event_time"], validate_formats=True),
    )


@dataclass(slots=True)
class Bundle:
    """A valid bundle: its events as JSON (an array), and their 商圈 and event times (epoch seconds), in order."""

    json: bytes
    districts: list[str]
    stamps: list[float]


_TIMES: dict[str, float] = {}  # epoch seconds of seen event_time strings; +inf for one the schema refuses
_TIMES_MAX = 200_000
_ENCODE = msgspec.json.Encoder().encode
_TIME = attrgetter("event_time")
_DISTRICT = attrgetter("district")


def _remember(texts: set[str], check: Any) -> None:
    """Cache the epoch seconds of times, +inf for one the schema's property validator refuses (so that it is
    never within the tolerance, and the precise path decides). Every one of ``texts`` is cached on return,
    also those already cached when the cache was full and had to start again."""
    new = texts.difference(_TIMES)
    if len(_TIMES) + len(new) > _TIMES_MAX:
        _TIMES.clear()
        new = texts
    for text in new:
        try:
            _TIMES[text] = datetime.fromisoformat(text).timestamp() if check.is_valid(text) else math.inf
        except ValueError:
            _TIMES[text] = math.inf


def _accepted(feed: Feed, payload: bytes, latest: float) -> tuple[list, list[float]] | None:
    """The bundle's events and their epoch seconds when all of them are valid and none is later than ``latest``;
    None when the precise path must decide."""
    spec = event_struct(feed)
    try:
        events = spec.decoder.decode(payload)
    except msgspec.DecodeError:  # ValidationError included
        return None
    if not events:
        return None
    for field, optional, check in spec.columns:
        values = list(map(field, events))
        if optional and msgspec.UNSET in values:
            values = [v for v in values if v is not msgspec.UNSET]
        if not check.is_valid(values):
            return None
    times = list(map(_TIME, events))
    try:
        stamps = list(map(_TIMES.__getitem__, times))
    except KeyError:
        _remember(set(times), spec.time)
        stamps = list(map(_TIMES.__getitem__, times))
    if max(stamps) > latest:
        return None
    return events, stamps


def decode_bundle(feed: Feed, payload: bytes, latest: float) -> Bundle | None:
    """The bundle's events when all of them are valid and none is later than ``latest`` (epoch seconds);
    None when the precise path must decide (anything refused, or not a bundle this path reads)."""
    accepted = _accepted(feed, payload, latest)
    if accepted is None:
        return None
    events, stamps = accepted
    return Bundle(_ENCODE(events), list(map(_DISTRICT, events)), stamps)


def all_valid(feed: Feed, payload: bytes, latest: float) -> bool:
    """Whether :func:`decode_bundle` would accept the bundle, without encoding its events again (a producer's
    check of what it is about to send). False means only that the precise path must decide."""
    return _accepted(feed, payload, latest) is not None
