"""The previous release's store, with its data, migrates with the current code: every total and view stays.

tests/fixtures/v0.1.0/ holds release 0.1.0 (tag v0.1.0): its sql/ migrations, and every table of a store
that release wrote (one simulated day of two 商圈, bad records included; make_fixture.py, run with that
release's code), table by table in ClickHouse's Native format, its migration ledger included.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from support import store_totals

from yzcore.migrate import STATEMENTS, Migration, MigrationError, discover, migrate, release, store_release
from yzcore.store import DirectReader, connect

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v0.1.0"
_names = itertools.count()


def _old_store(chdb_dir: Path):
    """A database built as release 0.1.0 left it: its schema, its data, its migration ledger."""
    name = f"upgrade{os.getpid()}_{next(_names)}"
    connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE {name}")
    client = connect(f"chdb://{chdb_dir}?database={name}")
    for path in sorted((FIXTURE / "sql").glob("*.sql")):
        for statement in Migration(int(path.name[:3]), path.stem, path.read_text(encoding="utf-8")).statements():
            client.command(statement)
    from yzcore.migrate import LEDGER

    client.command(LEDGER)
    for path in sorted((FIXTURE / "data").glob("*.native.gz")):
        table = path.name.removesuffix(".native.gz")
        client.raw_insert(table, insert_block=gzip.decompress(path.read_bytes()), fmt="Native")
    return client


def _views(client) -> dict[str, tuple]:
    """Every view: its rows and a digest of their content (a parameterised view, which answers only with its
    parameters, is listed with its parameters instead)."""
    out = {}
    for view, create in client.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() AND engine = 'View' "
        "ORDER BY name"
    ).result_rows:
        params = tuple(sorted(set(re.findall(r"\{([A-Za-z_]\w*)\s*:", create))))
        if params:
            out[view] = (0, params)
            continue
        out[view] = tuple(client.query(f"SELECT count(), groupBitXor(cityHash64(*)) FROM `{view}`").result_rows[0])
    return out


def _counts(client) -> dict[str, int]:
    out = {}
    for table, engine in client.query(
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' "
        "AND name NOT IN ('schema_migrations', 'store_releases')"
    ).result_rows:
        final = " FINAL" if "Replacing" in engine else ""
        out[table] = int(client.command(f"SELECT count() FROM `{table}`{final}"))
    return out


def test_the_previous_release_store_migrates_with_its_data(chdb_dir):
    client = _old_store(chdb_dir)
    reader = DirectReader(client)
    before = {layer: store_totals(reader, layer) for layer in ("raw", "agg")}
    views, counts = _views(client), _counts(client)
    recorded = dict(client.query("SELECT version, checksum FROM schema_migrations FINAL").result_rows)
    assert len(recorded) == 9 and not any(c.startswith(STATEMENTS) for c in recorded.values())  # 0.1.0's ledger
    assert sum(v for k, v in counts.items() if k.endswith("_raw")) > 40_000 and counts["rejected_events"] > 0

    migrate(client)  # the current release: pending migrations, reference data, the ledger moved on

    after = {layer: store_totals(reader, layer) for layer in ("raw", "agg")}
    assert after == before and after["raw"]  # every raw and rollup total, to the fen
    assert all(isinstance(v, Decimal) for v in after["raw"].values())
    now = _views(client)
    assert {k: now[k] for k in views} == views  # every view of 0.1.0 answers the same
    assert all(rows >= 0 for rows, _ in now.values())  # and the views added since answer at all
    assert {k: v for k, v in _counts(client).items() if k in counts} == counts
    ledger = dict(
        client.query("SELECT version, argMax(checksum, applied_at) FROM schema_migrations GROUP BY version").result_rows
    )
    assert ledger == {m.version: m.checksum for m in discover()}
    assert store_release(client) == release()
    assert migrate(client) == []  # and again: nothing to do


def test_a_changed_statement_is_refused_but_a_mended_comment_is_not(store, tmp_path):
    for m in discover():
        (tmp_path / f"{m.name}.sql").write_text(m.sql)
    first = discover()[0]
    (tmp_path / f"{first.name}.sql").write_text("-- a mended comment\n" + first.sql + "\n-- and another\n")
    assert migrate(store, tmp_path) == []
    (tmp_path / f"{first.name}.sql").write_text(first.sql.replace("String", "LowCardinality(String)", 1))
    with pytest.raises(MigrationError, match="statements were changed after it was applied"):
        migrate(store, tmp_path)


def test_db_status_lists_pending_then_applied_migrations_and_the_release(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("YZMON_")}
    env |= {"YZMON_DATA_DIR": str(tmp_path / "d"), "COLUMNS": "200"}

    def yzmon(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "yzmon.cli", *args], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = yzmon("db", "status")
    assert first.count("│ pending") == len(discover()) and "run `yzmon db migrate`" in first
    yzmon("db", "migrate")
    second = yzmon("db", "status")
    assert "│ pending" not in second and second.count("│ applied ") == len(discover())
    assert f"store release: {release()} · this release: {release()} · schema up to date" in second
