"""The fast lane, ``pytest -m "not slow"``: tests that start subprocesses or a stack are slow.

A pytest plugin (registered by tests/conftest.py) in two parts:

- a test that uses the ``stack_factory`` fixture (itself, or through a fixture of its module) is
  marked slow when collected, so whole-stack test modules need no marker of their own;
- a test that is not marked slow but starts a subprocess or a stack anyway (``running_stack``
  calls :func:`note_slow_work`) fails at teardown, naming what it started: the lane stays fast as
  tests are added, instead of slowly filling up again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Generator
from typing import Any

import pytest

STACK_FIXTURE = "stack_factory"

_current: pytest.Item | None = None
_slow_work: dict[str, list[str]] = {}
_popen_init = subprocess.Popen.__init__


def note_slow_work(what: str) -> None:
    """Records that the running test did something only slow tests may do."""
    item = _current
    if item is not None and item.get_closest_marker("slow") is None:
        _slow_work.setdefault(item.nodeid, []).append(what)


def _watched_popen_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    program = args if isinstance(args, (str, bytes)) else next(iter(args), "?")
    note_slow_work(f"a subprocess ({program!s})")
    _popen_init(self, args, *rest, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _watched_popen_init  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _popen_init  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: before `-m` deselects by marker.
    for item in items:
        if STACK_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    global _current
    _current = item
    try:
        return (yield)
    finally:
        _current = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "teardown" and item.nodeid in _slow_work:
        started = ", ".join(sorted(set(_slow_work.pop(item.nodeid))))
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} is not marked slow but started {started}: "
            "mark it @pytest.mark.slow (see tests/support/fast_lane.py)"
        )
    return report
