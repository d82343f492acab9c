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

# Test modules that share a costly per-process resource, so that a parallel run builds it once: the session's
# shared stack (:func:`shared_stack`) and the loaded store of the panel tests (:func:`support.loaded_dsn`).
# tests/test_suite_layout.py checks that every module using one of them is listed.
SHARED_WORKER = {
    "tests/test_cli.py": "shared_stack",
    "tests/test_end_to_end.py": "shared_stack",
    "tests/test_dashboards_all.py": "loaded_store",
    "tests/test_report.py": "loaded_store",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order whole modules for a parallel run (`make test`), keeping the order within each: end-to-end modules
    (``e2e``, which mostly wait on their stacks) alternate with ``slow`` ones (which mostly compute), so that the
    long tests start at once and the two cores are kept busy, then the rest."""

    def kind(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("e2e") else 1 if item.get_closest_marker("slow") else 2

    modules: dict[str, int] = {}
    for item in items:
        modules[item.module.__name__] = min(modules.get(item.module.__name__, 2), kind(item))
    ends, slow = ([m for m, k in modules.items() if k == wanted] for wanted in (0, 1))
    order = [m for pair in itertools.zip_longest(ends, slow) for m in pair if m is not None]
    place = {m: i for i, m in enumerate(order)}
    items.sort(key=lambda item: place.get(item.module.__name__, len(order)))  # stable: a module's own order kept


def unit_of_work(nodeid: str) -> str:
    """The unit a test is scheduled in: its module, or the group of :data:`SHARED_WORKER` its module is in."""
    module = nodeid.split("::", 1)[0]
    return SHARED_WORKER.get(module, module)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """pytest-xdist's scheduler for `make test`: each test module is one unit of work on one worker (so its
    module fixtures are built once), modules of :data:`SHARED_WORKER` share a unit, and units are handed out
    in collection order (see :func:`pytest_collection_modifyitems`). xdist's own ``xdist_group`` mark cannot
    do this with pytest 9.2, whose node ids it no longer rewrites."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    config.option.loadscopereorder = False
    return ModuleScheduling(config, log)


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
