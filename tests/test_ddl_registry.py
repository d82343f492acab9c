"""The tables the migrations create are the tables the feed registry (schemas/feeds.py) describes: every
feed's raw table and each of its rollup levels, column by column, names and types, in order."""

import pytest

from schemas.feeds import FEEDS

TABLES = {feed.raw_table: feed.raw_table_columns() for feed in FEEDS.values()} | {
    feed.level_table(level): feed.level_columns(level) for feed in FEEDS.values() for level in feed.levels
}


def _columns(store, table: str) -> list[tuple[str, str]]:
    return [
        (name, type_)
        for name, type_ in store.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "ORDER BY position",
            parameters={"t": table},
        ).result_rows
    ]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_migrated_table_has_the_registry_columns(read_only_store, table):
    assert _columns(read_only_store, table) == list(TABLES[table])


def test_the_migrations_create_no_feed_table_the_registry_does_not_name(read_only_store):
    """A level the registry drops (tourists keep no hourly table) has no table either: the stores hold
    exactly the registry's raw and level tables of each feed."""
    stored = {
        name
        for (name,) in read_only_store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
        ).result_rows
        if name.split("_")[0] in FEEDS
    }
    assert stored == set(TABLES)
