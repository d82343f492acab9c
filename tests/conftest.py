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
