"""The console's composition root builds one CoreClient per process and does not cache failures."""

from __future__ import annotations

import asyncio

import pytest

from console.runtime import CoreRuntime
from core_client.errors import ConfigurationError


async def test_builds_once_even_when_asked_concurrently(make_core) -> None:
    built = []

    def factory():
        built.append(make_core())
        return built[-1]

    runtime = CoreRuntime(factory)
    first, second = await asyncio.gather(runtime.core(), runtime.core())

    assert first is second and len(built) == 1
    assert await runtime.core() is first


async def test_a_failed_build_is_retried_and_closing_starts_over(make_core) -> None:
    attempts = []

    def factory():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConfigurationError("OPSORCH_ALERT_CONFIG is not valid JSON", source="settings")
        return make_core()

    runtime = CoreRuntime(factory)
    with pytest.raises(ConfigurationError, match="OPSORCH_ALERT_CONFIG"):
        await runtime.core()
    core = await runtime.core()
    assert len(attempts) == 2

    await runtime.aclose()
    assert await runtime.core() is not core
    assert len(attempts) == 3
