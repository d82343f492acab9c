"""Real feed files: read CSV, JSON Lines or Parquet from a provider, map columns onto a feed's
contract, and validate every row. Bad rows come back with their line numbers; none is dropped
silently. Files are read in chunks (pandas' chunked CSV reader, line by line for JSON Lines,
pyarrow's ``iter_batches`` for Parquet), so a file of any size loads in bounded memory.

A mapping file (YAML) says how the provider's columns become contract fields:

```yaml
feed: sales
columns: {event_id: 流水号, event_time: 交易时间, district: 商圈, amount: 金额, txn_count: 笔数, ...}
constants: {channel: in_store, source: unionpay}     # fields the file does not carry
values: {district: {解放碑: jiefangbei, 大坪: daping}}  # translate a field's values
timezone: Asia/Shanghai                               # for times written without an offset
amount_unit: yuan                                     # or fen
```
Without event_id in the file, a stable id is derived from the row's content, so loading the same
file twice is idempotent downstream.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
import yaml

from schemas.contracts import check, load_schema
from schemas.feeds import FEEDS
from yzcore.settings import Settings

_INT = re.compile(r"^-?\d+$")
_MONEY = ("amount", "spend")
# the settings' default; a command passes its own (settings.future_tolerance_s)
DEFAULT_FUTURE_TOLERANCE = timedelta(seconds=Settings.model_fields["future_tolerance_s"].default)


class MappingError(ValueError):
    pass


@dataclass(frozen=True)
class Mapping:
    feed: str
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    timezone: str = "Asia/Shanghai"
    amount_unit: str = "yuan"

    @classmethod
    def load(cls, path: Path | None, feed: str) -> Mapping:
        """The mapping in ``path``; without one, columns already carry the contract's names."""
        if path is None:
            return cls(feed=feed)
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(raw) - {"feed", "columns", "constants", "values", "timezone", "amount_unit"}
        if unknown:
            raise MappingError(f"{path}: unknown keys {sorted(unknown)}")
        if raw.get("feed", feed) != feed:
            raise MappingError(f"{path} maps the {raw['feed']!r} feed, not {feed!r}")
        if raw.get("amount_unit", "yuan") not in ("yuan", "fen"):
            raise MappingError(f"{path}: amount_unit is yuan or fen")
        fields = set(load_schema(FEEDS[feed])["properties"])
        bad = (set(raw.get("columns") or {}) | set(raw.get("constants") or {})) - fields
        if bad:
            raise MappingError(f"{path}: {sorted(bad)} are not fields of {feed}; fields: {sorted(fields)}")
        return cls(
            feed=feed,
            columns=raw.get("columns") or {},
            constants=raw.get("constants") or {},
            values=raw.get("values") or {},
            timezone=raw.get("timezone", "Asia/Shanghai"),
            amount_unit=raw.get("amount_unit", "yuan"),
        )


@dataclass(frozen=True)
class BadRow:
    line: int  # 1-based line in the file (CSV counts its header line); row number for Parquet
    reason: str
    detail: str


@dataclass
class Loaded:
    events: list[dict[str, Any]]
    bad: list[BadRow]
    rows: int


CHUNK_ROWS = 20_000  # rows read at once: what a load holds in memory, whatever the file's size
SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise MappingError(f"{path.name}: read .csv, .jsonl/.ndjson or .parquet files")
    return {".ndjson": ".jsonl"}.get(suffix, suffix)


def count_rows(path: Path) -> int:
    """Data rows in the file (for progress), counted without holding the file in memory."""
    kind = _kind(path)
    if kind == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"
    return max(lines - 1, 0) if kind == ".csv" else lines


def iter_rows(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[int, dict[str, Any]] | BadRow]:
    """(line, row) pairs of a CSV, JSON Lines or Parquet file, in file order, read ``chunk_rows`` at a
    time; a line that cannot be parsed comes as a BadRow in its place."""
    kind = _kind(path)
    if kind == ".csv":
        line = 2  # the header is line 1
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", chunksize=chunk_rows)
        with reader:
            for chunk in reader:
                for row in chunk.to_dict("records"):
                    yield line, row
                    line += 1
    elif kind == ".jsonl":
        with path.open("rb") as f:
            for i, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    value = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    yield BadRow(i, "malformed_json", str(exc)[:200])
                    continue
                if not isinstance(value, dict):
                    yield BadRow(i, "malformed_json", "a line must hold one JSON object")
                    continue
                yield i, value
    else:
        import pyarrow.parquet as pq

        n = 1
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            for row in batch.to_pandas().to_dict("records"):  # pandas types, as derived event ids expect
                yield n, row
                n += 1


def read_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[BadRow]]:
    """All (line, row) pairs of a small file, with the lines that could not be parsed."""
    rows: list[tuple[int, dict[str, Any]]] = []
    bad: list[BadRow] = []
    for item in iter_rows(path):
        (bad if isinstance(item, BadRow) else rows).append(item)  # type: ignore[arg-type]
    return rows, bad


def to_event(row: dict[str, Any], m: Mapping) -> dict[str, Any]:
    """Apply the mapping to one provider row (values are still unvalidated)."""
    event: dict[str, Any] = dict(m.constants)
    names = m.columns or {k: k for k in row}
    for name, column in names.items():
        if column not in row:
            continue
        value = row[column]
        if value is None or (isinstance(value, float) and value != value) or value == "":
            continue
        value = m.values.get(name, {}).get(str(value), value)
        event[name] = _normalise(name, value, m)
    if "event_id" not in event:
        digest = hashlib.blake2b(orjson.dumps(row, default=str, option=orjson.OPT_SORT_KEYS), digest_size=12)
        event["event_id"] = f"{m.feed}-{digest.hexdigest()}"
    return event


def _normalise(name: str, value: Any, m: Mapping) -> Any:
    if name == "event_time":
        when = value if isinstance(value, datetime) else _parse_time(str(value))
        if when is None:
            return str(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(m.timezone))
        return when.isoformat()
    if name in _MONEY:
        try:
            amount = Decimal(str(value).replace(",", "").strip())
        except InvalidOperation:
            return str(value)
        if m.amount_unit == "fen":
            amount = amount / 100
        return format(amount, "f")
    if isinstance(value, str) and _INT.match(value.strip()):
        return int(value)
    if hasattr(value, "item"):  # numpy scalars from Parquet
        return value.item()
    return value


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        return None


def stream_file(
    path: Path, m: Mapping, future_tolerance: timedelta | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    """Read, map and validate ``path`` row by row in file order: (line, event) for a valid row,
    (line, BadRow) for an invalid one. Memory stays bounded by ``chunk_rows``."""
    if future_tolerance is None:
        future_tolerance = DEFAULT_FUTURE_TOLERANCE
    feed = FEEDS[m.feed]
    now = datetime.now(UTC)
    for item in iter_rows(path, chunk_rows):
        if isinstance(item, BadRow):
            yield item.line, item
            continue
        line, row = item
        event = to_event(row, m)
        rejection = check(feed, event, now, future_tolerance)
        if rejection is not None:
            yield line, BadRow(line, rejection.reason, rejection.detail)
        else:
            yield line, event


def load_file(path: Path, m: Mapping, future_tolerance: timedelta | None = None) -> Loaded:
    """Read, map and validate a small file at once: the valid events in time order and every bad row."""
    events: list[dict[str, Any]] = []
    bad: list[BadRow] = []
    for _, item in stream_file(path, m, future_tolerance):
        (bad if isinstance(item, BadRow) else events).append(item)  # type: ignore[arg-type]
    events.sort(key=lambda e: datetime.fromisoformat(e["event_time"]))
    bad.sort(key=lambda b: b.line)
    return Loaded(events, bad, len(events) + len(bad))
