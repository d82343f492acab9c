"""Native format for a client protocol revision: chDB writes revision-0 Native; clients of the
HTTP interface that send ``client_protocol_version`` (clickhouse-go, hence Grafana's plugin, and
clickhouse-connect) read blocks with a ``BlockInfo`` header and, from revision 54454, a
custom-serialization flag after each column's type. This module finds the block and column
boundaries of revision-0 Native (by type, without decoding values) and writes them at the revision
asked for.
"""

from __future__ import annotations

import re

BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"  # is_overflows = false, bucket_num = -1, end
MIN_REVISION_WITH_BLOCK_INFO = 51903
MIN_REVISION_WITH_DATETIME_TIME_ZONE = 54337
MIN_REVISION_WITH_CUSTOM_SERIALIZATION = 54454

_FIXED = {
    "UInt8": 1, "Int8": 1, "Bool": 1, "Nothing": 1,
    "UInt16": 2, "Int16": 2, "Date": 2, "BFloat16": 2,
    "UInt32": 4, "Int32": 4, "Float32": 4, "DateTime": 4, "Date32": 4, "IPv4": 4, "Time": 4,
    "UInt64": 8, "Int64": 8, "Float64": 8, "DateTime64": 8, "Time64": 8,
    "UInt128": 16, "Int128": 16, "UUID": 16, "IPv6": 16,
    "UInt256": 32, "Int256": 32,
}  # fmt: skip
_LC_KEY_WIDTH = (1, 2, 4, 8)
_HAS_ADDITIONAL_KEYS = 1 << 9


class NeedMore(Exception):
    """The buffer ends inside a block."""


class UnsupportedType(ValueError):
    """A column type whose binary layout this module does not walk."""


def _split_args(args: str) -> list[str]:
    out, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(args):
        if quote:
            if ch == "\\":
                continue
            if ch == "'" and args[i - 1] != "\\":
                quote = False
        elif ch == "'":
            quote = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(args[start:i].strip())
            start = i + 1
    out.append(args[start:].strip())
    return [a for a in out if a]


_NAMED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s+(?=[A-Z])")


class _Reader:
    def __init__(self, data: bytes | memoryview, pos: int = 0):
        self.data = memoryview(data)
        self.pos = pos

    def take(self, n: int) -> int:
        start = self.pos
        self.pos += n
        if self.pos > len(self.data):
            raise NeedMore
        return start

    def varint(self) -> int:
        shift = value = 0
        data, pos = self.data, self.pos
        while True:
            if pos >= len(data):
                raise NeedMore
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                self.pos = pos
                return value
            shift += 7

    def uint64(self) -> int:
        start = self.take(8)
        return int.from_bytes(self.data[start : start + 8], "little")

    def string(self) -> bytes:
        n = self.varint()
        start = self.take(n)
        return bytes(self.data[start : start + n])

    def skip(self, type_name: str, rows: int) -> None:
        """Advance past ``rows`` values of ``type_name`` (revision-0 bulk serialization)."""
        if rows == 0:
            return
        base, _, rest = type_name.partition("(")
        args = _split_args(rest[:-1]) if rest else []
        if base in _FIXED:
            self.take(_FIXED[base] * rows)
        elif base == "String":
            self.pos = _skip_strings(self.data, self.pos, rows)
        elif base == "FixedString":
            self.take(int(args[0]) * rows)
        elif base in ("Enum8", "Enum16"):
            self.take((1 if base == "Enum8" else 2) * rows)
        elif base == "Decimal":
            precision = int(args[0])
            self.take((4 if precision <= 9 else 8 if precision <= 18 else 16 if precision <= 38 else 32) * rows)
        elif base in ("Decimal32", "Decimal64", "Decimal128", "Decimal256"):
            self.take(int(base[7:]) // 8 * rows)
        elif base.startswith("Interval"):
            self.take(8 * rows)
        elif base == "Nullable":
            self.take(rows)
            self.skip(args[0], rows)
        elif base == "Array":
            start = self.take(8 * rows)
            total = int.from_bytes(self.data[start + 8 * (rows - 1) : start + 8 * rows], "little")
            self.skip(args[0], total)
        elif base == "Map":
            start = self.take(8 * rows)
            total = int.from_bytes(self.data[start + 8 * (rows - 1) : start + 8 * rows], "little")
            self.skip(args[0], total)
            self.skip(args[1], total)
        elif base == "Tuple":
            for element in args:
                self.skip(_NAMED.sub("", element), rows)
        elif base == "SimpleAggregateFunction":
            self.skip(args[-1], rows)
        elif base == "LowCardinality":
            self._skip_low_cardinality(args[0], rows)
        else:
            raise UnsupportedType(type_name)

    def prefix(self, type_name: str) -> None:
        """Advance past a column's serialization prefix: written once, before its data, for every
        LowCardinality in it, nested ones included (their key serialization version)."""
        base, _, rest = type_name.partition("(")
        args = _split_args(rest[:-1]) if rest else []
        if base == "LowCardinality":
            self.uint64()
        elif base in ("Nullable", "Array"):
            self.prefix(args[0])
        elif base == "Map":
            self.prefix(args[0])
            self.prefix(args[1])
        elif base == "Tuple":
            for element in args:
                self.prefix(_NAMED.sub("", element))
        elif base == "SimpleAggregateFunction":
            self.prefix(args[-1])

    def _skip_low_cardinality(self, inner: str, rows: int) -> None:
        dictionary_type = inner[len("Nullable(") : -1] if inner.startswith("Nullable(") else inner
        done = 0
        while done < rows:
            flags = self.uint64()
            if flags & _HAS_ADDITIONAL_KEYS:
                self.skip(dictionary_type, self.uint64())
            indexes = self.uint64()
            self.take(_LC_KEY_WIDTH[flags & 0xFF] * indexes)
            done += indexes


class NativeRewriter:
    """Feed revision-0 Native bytes in any chunking; get whole blocks back at ``revision``."""

    def __init__(self, revision: int, types: list[str] | None = None):
        """``types``: the result's column types as the engine describes them; revision-0 Native drops the
        time zone of DateTime columns, which clients from revision 54337 on are sent."""
        self.revision = revision
        self.buffer = bytearray()
        self.types = types or []

    def feed(self, chunk: bytes) -> bytes:
        self.buffer += chunk
        out = bytearray()
        pos = 0
        while pos < len(self.buffer):
            try:
                pos = self._block(pos, out)
            except NeedMore:
                break
        del self.buffer[:pos]
        return bytes(out)

    def finish(self) -> None:
        if self.buffer:
            raise ValueError(f"the Native stream ended inside a block ({len(self.buffer)} bytes left)")

    def _block(self, pos: int, out: bytearray) -> int:
        r = _Reader(self.buffer, pos)
        columns, rows = r.varint(), r.varint()
        parts: list[bytes] = []
        for i in range(columns):
            name = r.string()
            type_name = r.string().decode()
            parts.append(_varint(len(name)) + name + _string(self._type(i, type_name)))
            if self.revision >= MIN_REVISION_WITH_CUSTOM_SERIALIZATION:
                parts.append(b"\x00")
            data_start = r.pos
            if rows:  # no rows: no bytes at all, not even the prefix
                r.prefix(type_name)
            r.skip(type_name, rows)
            parts.append(bytes(r.data[data_start : r.pos]))
        if self.revision >= MIN_REVISION_WITH_BLOCK_INFO:
            out += BLOCK_INFO
        out += _varint(columns) + _varint(rows)
        for part in parts:
            out += part
        return r.pos

    def _type(self, index: int, type_name: str) -> str:
        if self.revision < MIN_REVISION_WITH_DATETIME_TIME_ZONE or index >= len(self.types):
            return type_name
        described = self.types[index]
        return described if _WITHOUT_ZONE.sub("DateTime", described) == type_name else type_name


def _skip_strings(data: memoryview, pos: int, rows: int) -> int:
    end = len(data)
    for _ in range(rows):
        if pos >= end:
            raise NeedMore
        length = data[pos]
        pos += 1
        if length >= 0x80:
            length &= 0x7F
            shift = 7
            while True:
                if pos >= end:
                    raise NeedMore
                byte = data[pos]
                pos += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
        pos += length
    if pos > end:
        raise NeedMore
    return pos


_WITHOUT_ZONE = re.compile(r"DateTime\('[^']*'\)")


def _string(text: str) -> bytes:
    data = text.encode()
    return _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
