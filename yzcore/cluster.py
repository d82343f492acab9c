"""The migrations rendered for a ClickHouse cluster, from the same sql/NNN_*.sql files.

With ``YZMON_CLICKHOUSE_CLUSTER=<name>`` (a cluster of the servers' ``remote_servers``, see
deploy/cluster/), `yzmon db migrate` turns each statement of the single-server schema into:

- a table keyed by 商圈 (sorting key starting with ``district``, not a ``dim_`` dimension):
  ``<table>_local`` as ``Replicated*MergeTree('/clickhouse/tables/{shard}/{database}/{table}',
  '{replica}', …) ON CLUSTER``, and ``<table>``, a ``Distributed`` table over it sharded by
  ``cityHash64(district)``, so every row, duplicate and window of a 商圈 lives on one shard;
- any other table (dimensions, targets, rejected events, ingest batches, the ledger): one table
  replicated to every node (``/clickhouse/tables/all/…``), so joins and lookups stay local;
- a view: the same view ``ON CLUSTER``.

The views, the rollup refreshes (streams/rollups.py), the query library (sql/queries/) and the
dashboards all name ``<table>``, which on the cluster is the Distributed table: they run unchanged.
The single-server and embedded paths never call this module.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

LOCAL_SUFFIX = "_local"
SHARDING_KEY = "cityHash64(district)"
SHARD_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
GLOBAL_PATH = "/clickhouse/tables/all/{database}/{table}"
MERGE_TREES = frozenset(
    {
        "MergeTree",
        "ReplacingMergeTree",
        "AggregatingMergeTree",
        "SummingMergeTree",
        "CollapsingMergeTree",
        "VersionedCollapsingMergeTree",
    }
)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*", re.I)
_CREATE_VIEW = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s+AS\s", re.I)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(\w+)\s+", re.I)
_DROP = re.compile(r"^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?(\w+)(\s+SYNC)?$", re.I)
_INSERT = re.compile(r"^INSERT\s+INTO\s", re.I)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w+)", re.I)
_ORDER_BY = re.compile(r"\bORDER\s+BY\s+\(?\s*(\w+)", re.I)
_COLUMN_ALTER = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)


class ClusterRenderError(ValueError):
    """A statement that cannot be placed on the cluster as written."""


def _closing(text: str, start: int) -> int:
    """Index just past the parenthesis closing the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ClusterRenderError(f"unbalanced parentheses in: {text[:80]}")


def is_sharded(table: str, statement: str) -> bool:
    """A table is sharded by 商圈 when its sorting key starts with ``district`` and it is no dimension."""
    order = _ORDER_BY.search(statement)
    return bool(order) and order.group(1) == "district" and not table.startswith("dim_")


@dataclass(frozen=True)
class Engine:
    """The ENGINE clause of a CREATE TABLE statement, split where the Replicated arguments go."""

    name: str
    args: str  # the engine's own arguments, e.g. the version column of ReplacingMergeTree
    start: int  # where ``ENGINE`` starts in the statement
    tail: str  # everything after the engine: PARTITION BY, ORDER BY, TTL, SETTINGS

    @classmethod
    def of(cls, table: str, statement: str) -> Engine:
        match = _ENGINE.search(statement)
        if not match or match.group(1) not in MERGE_TREES:
            found = match.group(1) if match else "none"
            raise ClusterRenderError(f"{table}: engine {found} cannot be replicated; use one of the MergeTree family")
        end = match.end()
        args = ""
        if statement[end : end + 1] == "(":
            close = _closing(statement, end)
            args, end = statement[end + 1 : close - 1].strip(), close
        return cls(match.group(1), args, match.start(), statement[end:])

    def replicated(self, path: str) -> str:
        args = f", {self.args}" if self.args else ""
        return f"ENGINE = Replicated{self.name}('{path}', '{{replica}}'{args}){self.tail}"


@dataclass(frozen=True)
class Cluster:
    """Renders statements for cluster ``name`` and database ``database``.

    ``sharded`` names every table sharded by 商圈 across all migrations (ALTER and DROP in a later
    migration need it); ``creates`` holds every table's CREATE statement (a reference table's twin
    copies its engine).
    """

    name: str
    database: str
    sharded: frozenset[str] = frozenset()
    creates: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, value in (("cluster", self.name), ("database", self.database)):
            if not NAME.match(value):
                raise ClusterRenderError(f"{what} name {value!r}: use letters, digits and _ only")

    @classmethod
    def for_schema(cls, name: str, database: str, statements: Iterable[str]) -> Cluster:
        """The renderer for a schema: every statement of every migration (and the ledger)."""
        sharded, creates = set(), {}
        for statement in statements:
            if match := _CREATE_TABLE.match(statement.strip()):
                creates[match.group(2)] = statement.strip()
                if is_sharded(match.group(2), statement):
                    sharded.add(match.group(2))
        return cls(name, database, frozenset(sharded), creates)

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER {self.name}"

    def render(self, statement: str) -> list[str]:
        """The cluster statements for one statement of a migration file, in order."""
        text = statement.strip()
        if match := _CREATE_TABLE.match(text):
            return self._create_table(text, match)
        if match := _CREATE_VIEW.match(text):
            return [f"{text[: match.end(2)]} {self.on_cluster}{text[match.end(2) :]}"]
        if match := _ALTER.match(text):
            return self._alter(match.group(1), text[match.end() :])
        if match := _DROP.match(text):
            kind, if_exists, name = match.group(1).upper(), match.group(2) or "", match.group(3)
            names = [name, name + LOCAL_SUFFIX] if kind == "TABLE" and name in self.sharded else [name]
            return [f"DROP {kind} {if_exists}{n} {self.on_cluster} SYNC" for n in names]
        if _INSERT.match(text):
            return [text]  # into the Distributed (or replicated-everywhere) table of that name
        raise ClusterRenderError(
            f"cannot place on the cluster: {text[:60]!r}; a migration holds CREATE TABLE, CREATE VIEW, ALTER TABLE, "
            "DROP TABLE/VIEW or INSERT (a materialized view needs a per-shard target table: write it for the "
            "cluster by hand)"
        )

    def _create_table(self, text: str, match: re.Match) -> list[str]:
        if_not_exists, table = match.group(1) or "", match.group(2)
        engine = Engine.of(table, text)
        sharded = table in self.sharded or is_sharded(table, text)
        local = table + LOCAL_SUFFIX if sharded else table
        columns = text[match.end() : engine.start]
        create = (
            f"CREATE TABLE {if_not_exists}{local} {self.on_cluster}\n{columns}"
            f"{engine.replicated(SHARD_PATH if sharded else GLOBAL_PATH)}"
        )
        if not sharded:
            return [create]
        distributed = (
            f"CREATE TABLE {if_not_exists}{table} {self.on_cluster} AS {local} "
            f"ENGINE = Distributed({self.name}, {self.database}, {local}, {SHARDING_KEY})"
        )
        return [create, distributed]

    def _alter(self, table: str, action: str) -> list[str]:
        if table not in self.sharded:
            return [f"ALTER TABLE {table} {self.on_cluster} {action}"]
        statements = [f"ALTER TABLE {table}{LOCAL_SUFFIX} {self.on_cluster} {action}"]
        if _COLUMN_ALTER.match(action):  # the Distributed table mirrors the columns
            statements.append(f"ALTER TABLE {table} {self.on_cluster} {action}")
        return statements

    def swap(self, table: str, twin: str) -> tuple[list[str], list[str]]:
        """Statements around filling ``twin`` to replace replicated-everywhere ``table`` whole.

        The twin gets a ZooKeeper path of its own (a fresh suffix: after the exchange the table
        keeps the twin's path, and the next twin must not collide with it), and every replica
        has its rows before the exchange.
        """
        if table in self.sharded or table not in self.creates:
            raise ClusterRenderError(f"{table} is not a table replicated to every node")
        engine = Engine.of(table, self.creates[table])
        path = f"{GLOBAL_PATH}/{uuid.uuid4().hex}"
        before = [
            f"DROP TABLE IF EXISTS {twin} {self.on_cluster} SYNC",
            f"CREATE TABLE {twin} {self.on_cluster} AS {table} {engine.replicated(path)}",
        ]
        after = [
            f"SYSTEM SYNC REPLICA {self.on_cluster} {twin}",
            f"EXCHANGE TABLES {twin} AND {table} {self.on_cluster}",
            f"DROP TABLE {twin} {self.on_cluster} SYNC",
        ]
        return before, after


def main(argv: list[str] | None = None) -> None:
    """``python -m yzcore.cluster NAME [DATABASE]``: print every migration rendered for cluster NAME."""
    import sys

    from yzcore.migrate import LEDGER, RELEASES, discover

    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        sys.exit("usage: python -m yzcore.cluster CLUSTER [DATABASE]  (DATABASE defaults to yzmon)")
    migrations = discover()
    try:
        cluster = Cluster.for_schema(
            args[0], args[1] if len(args) > 1 else "yzmon", [LEDGER, RELEASES, *_all(migrations)]
        )
        ledgers = [("schema_migrations", [LEDGER]), ("store_releases", [RELEASES])]
        for name, statements in [*ledgers, *((m.name, m.statements()) for m in migrations)]:
            rendered = [out for s in statements for out in cluster.render(s)]
            print(f"-- {name}\n" + "".join(f"{s};\n" for s in rendered))
    except ClusterRenderError as exc:
        sys.exit(f"cannot render for the cluster: {exc}")


def _all(migrations: list) -> list[str]:
    return [s for m in migrations for s in m.statements()]


if __name__ == "__main__":
    main()
