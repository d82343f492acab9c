"""The analyst query library: named, parameterised SQL files in sql/queries/.

Each file starts with comment lines ``-- name:``, ``-- description:`` and ``-- columns:``; its
parameters are the ``{name:Type}`` placeholders, which ClickHouse binds (values are never pasted
into the SQL). Run one with `yzmon sql --query NAME --param k=v`; list them with `yzmon sql --list`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

QUERY_DIR = Path(__file__).resolve().parent.parent / "sql" / "queries"
_HEADER = re.compile(r"^--\s*(name|description|columns):\s*(.*)$")
_PARAM = re.compile(r"\{(\w+):([^}]+)\}")


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    columns: tuple[str, ...]
    sql: str

    @property
    def params(self) -> dict[str, str]:
        """Parameter name → ClickHouse type, in order of first use."""
        return dict(_PARAM.findall(self.sql))

    def bind(self, given: dict[str, str]) -> dict[str, str]:
        missing = [p for p in self.params if p not in given]
        extra = [p for p in given if p not in self.params]
        if missing or extra:
            wanted = ", ".join(f"{k}:{t}" for k, t in self.params.items())
            raise QueryError(
                f"query {self.name} takes --param {wanted}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        return given


def _parse(path: Path) -> Query:
    header: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADER.match(line)
        if not match:
            break
        header[match.group(1)] = match.group(2).strip()
    if header.get("name") != path.stem or "columns" not in header:
        raise QueryError(f"{path.name}: starts with -- name: {path.stem}, -- description: and -- columns:")
    return Query(
        path.stem,
        header.get("description", ""),
        tuple(c.strip() for c in header["columns"].split(",")),
        path.read_text(encoding="utf-8"),
    )


@lru_cache
def library() -> dict[str, Query]:
    return {q.name: q for q in map(_parse, sorted(QUERY_DIR.glob("*.sql")))}


def get(name: str) -> Query:
    try:
        return library()[name]
    except KeyError:
        raise QueryError(f"no query {name!r}; `yzmon sql --list` shows: {', '.join(library())}") from None
