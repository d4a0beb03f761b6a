"""How the suite is split over pytest-xdist workers (``tests/conftest.py``): the tests that share a
module-scoped fixture run on one worker, so the fixture is built once per run."""

from __future__ import annotations

import pytest
from conftest import xdist_group

GROUP = "tests/test_suite_split.py"  # this module: its tests share a module fixture


@pytest.fixture(scope="module")
def shared() -> list[str]:
    return []


def test_a_module_fixture_puts_its_tests_in_one_group(
    request: pytest.FixtureRequest, shared
) -> None:
    assert xdist_group(request.node) == GROUP
    if getattr(request.config.option, "loadgroup", False):  # only an xdist worker has the option
        # xdist names the group in the node id; a pytest whose node ids refuse that (9.2 with
        # xdist 3.8, pytest-dev/pytest-xdist#1386) spreads the group over the workers silently
        assert request.node.nodeid.endswith(f"@{GROUP}"), request.node.nodeid


def test_a_test_without_one_runs_anywhere(request: pytest.FixtureRequest) -> None:
    assert xdist_group(request.node) is None
