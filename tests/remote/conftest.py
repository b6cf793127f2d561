"""Fixtures serving the faithful fake OpsOrch Core of :mod:`tests.remote.fake_core` on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.remote.fake_core import RunningCore, free_port, serving


@pytest.fixture(scope="module")
def running_core() -> Iterator[RunningCore]:
    """The fake OpsOrch Core on 127.0.0.1, serving from a background thread for the whole module."""
    with serving() as core:
        yield core


@pytest.fixture
def fake_core(running_core: RunningCore) -> Iterator[RunningCore]:
    """The running fake, with fresh data and no faults for this test."""
    running_core.state.reset()
    yield running_core
    running_core.state.reset()


@pytest.fixture
def unreachable_url() -> str:
    """An address on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"
