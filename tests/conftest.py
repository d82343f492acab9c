"""Shared fixtures. chDB opens one data directory per process, so every in-process test shares one
directory and isolates itself in a database of its own."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import SHARED_DAY, DetachedStack, Replayed, down_leaves_no_process, replay_landed

from yzcore.migrate import migrate
from yzcore.store import connect

os.environ.setdefault("TZ", "UTC")  # results must not depend on the process zone
_counter = itertools.count()

# The session fixtures costly enough that their readers share one worker in a parallel run.
SHARED_SESSION_FIXTURES = ("shared_stack",)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order and group the tests for a parallel run (`make test`: pytest-xdist with ``--dist loadgroup``).

    Tests that share a costly fixture go to one worker, so it is built once there: the readers of
    :data:`SHARED_SESSION_FIXTURES`, and the tests of a module with a module-scoped fixture. Whole modules are
    ordered by their longest kind, end-to-end (``e2e``) first, then ``slow``, so that the long tests start at
    once rather than leaving one worker busy at the end; the order within a module is kept. Without xdist the
    groups are inert and only the order changes."""
    for item in items:
        defs = item._fixtureinfo.name2fixturedefs
        shared = [f for f in SHARED_SESSION_FIXTURES if f in item.fixturenames]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
        elif any(d[-1].scope == "module" for d in defs.values()):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))

    def rank(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("e2e") else 1 if item.get_closest_marker("slow") else 2

    module_rank: dict[str, int] = {}
    for item in items:
        module_rank[item.module.__name__] = min(module_rank.get(item.module.__name__, 2), rank(item))
    items.sort(key=lambda item: module_rank[item.module.__name__])  # stable: a module's own order is kept


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def store_dsn(chdb_dir: Path) -> str:
    """A DSN of a fresh, migrated database in the shared chDB directory."""
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = connect(f"chdb://{chdb_dir}")
    admin.command(f"CREATE DATABASE IF NOT EXISTS {name}")
    dsn = f"chdb://{chdb_dir}?database={name}"
    migrate(connect(dsn))
    return dsn


@pytest.fixture
def store(store_dsn: str):
    return connect(store_dsn)


@pytest.fixture(scope="session")
def read_only_store_dsn(chdb_dir: Path) -> str:
    """The DSN of one freshly migrated database shared by the tests that only read it (the schema, the
    reference data, the read-only path's refusals)."""
    name = f"ro{os.getpid()}"
    connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE IF NOT EXISTS {name}")
    dsn = f"chdb://{chdb_dir}?database={name}"
    migrate(connect(dsn))
    return dsn


@pytest.fixture(scope="session")
def read_only_store(read_only_store_dsn: str):
    return connect(read_only_store_dsn)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """A function returning a currently free loopback port."""
    return _free_port


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory, free_port) -> Iterator[Replayed]:
    """One embedded stack for the session, started as an operator starts it (`yzmon up --detach`) with
    :data:`support.SHARED_DAY` replayed and landed once, for the tests that read it. A test that adds to it adds
    nothing another counts (another day's events, another year's targets). At the end `yzmon down` must leave
    no process behind."""
    stack = DetachedStack.up(
        tmp_path_factory.mktemp("shared-stack"),
        free_port(),
        free_port(),
        free_port(),
        topic_partitions=3,
        batch_max=2000,
    )
    try:
        yield replay_landed(stack, SHARED_DAY)
    finally:
        down_leaves_no_process(stack)
