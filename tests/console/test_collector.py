"""A console backend worker sizes CPython's collector so a Copilot run's short-lived objects die young."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from console.collector import CPYTHON_DEFAULT, size_for_the_console


@pytest.fixture
def collector() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def young_collections_during_a_burst() -> int:
    """Young collections while 40,000 tracked objects are alive at once, as a run's metric points are."""
    gc.collect()
    before = gc.get_stats()[0]["collections"]
    points = [{"value": [index]} for index in range(20_000)]
    during = gc.get_stats()[0]["collections"] - before
    del points
    return during


def test_a_runs_worth_of_objects_is_never_caught_alive_by_a_collection(collector: None) -> None:
    gc.set_threshold(*CPYTHON_DEFAULT)
    assert young_collections_during_a_burst() > 10, "CPython's default catches the burst alive, over and over"
    size_for_the_console()
    assert young_collections_during_a_burst() == 0
    assert gc.get_threshold()[1:] == CPYTHON_DEFAULT[1:], "older generations keep CPython's ratios"


def test_every_backend_worker_sizes_its_collector_as_it_starts() -> None:
    from console.console import app

    assert size_for_the_console in app.get_lifespan_tasks()
