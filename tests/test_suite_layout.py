"""The parallel suite's scheduling (tests/conftest.py): modules sharing a per-process resource share a worker."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import SHARED_WORKER, unit_of_work

TESTS = Path(__file__).resolve().parent
USES = {
    "shared_stack": re.compile(r"def \w+\([^)]*\bshared_stack\b"),
    "loaded_store": re.compile(r"\bloaded_dsn\("),
}


def test_every_module_using_a_shared_resource_is_scheduled_with_the_others():
    found = {
        f"tests/{path.name}": resource
        for path in sorted(TESTS.glob("test_*.py"))
        for resource, use in USES.items()
        if use.search(path.read_text(encoding="utf-8"))
    }
    assert found == SHARED_WORKER


def test_a_module_or_its_shared_group_is_one_unit_of_work():
    assert unit_of_work("tests/test_sink.py::test_a[x::y]") == unit_of_work("tests/test_sink.py::test_b")
    assert unit_of_work("tests/test_cli.py::test_x") == unit_of_work("tests/test_end_to_end.py::test_y")
    assert unit_of_work("tests/test_sink.py::test_a") != unit_of_work("tests/test_load.py::test_a")
