from decimal import Decimal

import pytest

from yzcore.migrate import MigrationError, discover, migrate
from yzcore.settings import Settings
from yzcore.store import DirectReader, connect


def test_migration_numbers_are_unique_and_contiguous():
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrate_is_idempotent_and_recorded(store):
    assert migrate(store) == []
    recorded = store.query("SELECT count() FROM schema_migrations FINAL").result_rows[0][0]
    assert recorded == len(discover())
    tables = {r[0] for r in store.query("SHOW TABLES").result_rows}
    assert {
        "sales_raw",
        "footfall_raw",
        "tourists_raw",
        "rejected_events",
        "sales_agg_1m",
        "footfall_agg_1m",
        "tourists_agg_1m",
        "targets",
        "dim_district",
    } <= tables
    assert store.query("SELECT count() FROM dim_district").result_rows[0][0] == 7
    assert store.query("SELECT count() FROM v_targets WHERE latest_version = 1").result_rows[0][0] >= 8
    national_day = store.query("SELECT holiday_day FROM dim_calendar WHERE day = '2024-10-03'").result_rows
    assert national_day == [(3,)]


def test_a_gap_in_numbering_is_refused(tmp_path):
    (tmp_path / "001_a.sql").write_text("SELECT 1")
    (tmp_path / "003_c.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="contiguous"):
        discover(tmp_path)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO targets (year, scope, metric, value, unit, source) VALUES (2030, 'x', 'y', 1, 'u', 's')",
        "DROP TABLE sales_raw",
        "CREATE TABLE evil (x Int8) ENGINE = Memory",
        "ALTER TABLE sales_raw DELETE WHERE 1",
    ],
)
def test_the_read_only_path_refuses_writes_and_ddl(read_only_store_dsn, statement):
    reader = DirectReader(connect(read_only_store_dsn, readonly=True, settings=Settings()))
    with pytest.raises(Exception, match="readonly"):
        reader.raw(statement)
    assert reader.raw("SELECT count() FROM sales_raw", fmt="CSV") == b"0\n"


@pytest.mark.parametrize("attack", ["x' OR 1=1 --", "daping'; DROP TABLE sales_raw; --", "\\' OR '1'='1", "大坪\0"])
def test_parameters_are_bound_never_pasted(read_only_store_dsn, attack):
    reader = DirectReader(connect(read_only_store_dsn, readonly=True, settings=Settings()))
    sql = "SELECT count() AS n FROM dim_district WHERE district = {d:String}"
    assert reader.raw(sql, {"d": attack}, fmt="CSV") == b"0\n"
    assert reader.raw(sql, {"d": "daping"}, fmt="CSV") == b"1\n"


def test_an_unmigrated_store_is_named_not_written(chdb_dir):
    from yzcore.migrate import require_current

    client = connect(f"chdb://{chdb_dir}")
    client.command("CREATE DATABASE IF NOT EXISTS unmigrated")
    with pytest.raises(MigrationError, match="yzmon db migrate"):
        require_current(connect(f"chdb://{chdb_dir}?database=unmigrated"))


def test_migrated_store_is_current(read_only_store):
    from yzcore.migrate import require_current

    require_current(read_only_store)  # raises if any migration file is pending


def test_reference_tables_are_swapped_whole(store):
    """A re-sync swaps a filled twin in (EXCHANGE TABLES): the rows are replaced and no twin is left."""
    from yzcore.migrate import replace_table, sync_reference

    replace_table(store, "dim_sector", [("retail", "只此一行")], ["sector", "name_zh"])
    assert store.query("SELECT sector, name_zh FROM dim_sector").result_rows == [("retail", "只此一行")]
    sync_reference(store)
    assert store.query("SELECT count() FROM dim_sector").result_rows[0][0] == 4
    twins = store.query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE '%__next'")
    assert twins.result_rows[0][0] == 0


def test_the_minute_aggregates_get_finer_granules_and_keep_every_row(store):
    """Migration 017 creates the minute tables again with 1,024-row granules (what the hourly and daily refreshes
    read by 商圈 and time); run again over tables holding rows, it gives back what FINAL reads (the copy keeps a
    minute's latest version)."""
    tables = ["sales_agg_1m", "footfall_agg_1m", "tourists_agg_1m"]
    engines = dict(
        store.query(
            "SELECT name, engine_full FROM system.tables "
            "WHERE database = currentDatabase() AND name IN {t:Array(String)}",
            parameters={"t": tables},
        ).result_rows
    )
    assert set(engines) == set(tables) and all("index_granularity = 1024" in e for e in engines.values()), engines
    store.command(
        "INSERT INTO sales_agg_1m (minute, district, sector, amount, txn_count, events, computed_at) VALUES "
        "('2024-10-01 12:00:00', 'daping', 'retail', 10.5, 2, 2, '2024-10-01 12:01:00'), "
        "('2024-10-01 12:00:00', 'daping', 'retail', 12.25, 3, 3, '2024-10-01 12:02:00')"
    )
    store.command(
        "INSERT INTO footfall_agg_1m (minute, district, entries, exits, occupancy, events, computed_at) "
        "VALUES ('2024-10-01 12:00:00', 'daping', 5, 1, 4, 1, '2024-10-01 12:01:00')"
    )

    def rows() -> list:
        return [store.query(f"SELECT * FROM {t} FINAL ORDER BY ALL").result_rows for t in tables]

    before = rows()
    (regrain,) = [m for m in discover() if m.version == 17]
    for statement in regrain.statements():
        store.command(statement)
    assert rows() == before and before[0][0][3] == Decimal("12.25")  # the minute's later version
    names = {r[0] for r in store.query("SHOW TABLES").result_rows}
    assert not {n for n in names if n.endswith("__regrain")}
