"""A Copilot worker process for the crash tests, killed (SIGKILL) and restarted by them.

``python tests/crash/worker.py investigate QUESTION``: asks as alice and works the run until it ends.
``python tests/crash/worker.py propose QUESTION``: asks, then offers the answer's first proposed action, whose
follow-up run waits in NEEDS_APPROVAL while this process holds it (renewing its lease) until killed.
``python tests/crash/worker.py serve``: what the console's backend runs at start-up (``CoreRuntime.serving``): the
Copilot and its sweep, nothing else, until killed.

Settings come from the environment as in production (DATABASE_URL, OPSPILOT_DATA_DIR, OPSPILOT_COPILOT__*).
``HANG_METRICS=URL`` serves metrics with the Prometheus adapter at URL (a server that never answers), keeping the
demo world's clock. Every run id is printed on stdout as ``run <id>`` the moment it exists.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from console.runtime import CoreRuntime
from copilot.runtime import Copilot
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.settings import load_settings

ALICE = Actor(user="alice", role=Role.RESPONDER, via="cli")


def build_core() -> CoreClient:
    hang = os.environ.get("HANG_METRICS")
    if hang:
        os.environ["OPSORCH_METRIC_PROVIDER"] = "prometheus"
        os.environ["OPSORCH_METRIC_CONFIG"] = json.dumps({"url": hang})
        os.environ["OPSORCH_METRIC_TIMEOUT"] = "600"
    settings = load_settings()
    loaded = CoreClient.from_settings(settings)
    world_clock = loaded.provider_for(Capability.INCIDENT).instance.clock
    return CoreClient(
        {provider.capability: provider for provider in loaded.providers()},
        gate=loaded.gate,
        clock=world_clock,
        settings=settings,
    )


def say(line: str) -> None:
    print(line, flush=True)


async def investigate(question: str) -> None:
    copilot = Copilot.from_settings(load_settings(), core=build_core())
    run_id = await copilot.ask(question, user=ALICE)
    say(f"run {run_id}")
    view = await copilot.settle(run_id)
    say(f"settled {view.state.value}")
    await asyncio.Event().wait()


async def propose(question: str) -> None:
    copilot = Copilot.from_settings(load_settings(), core=build_core())
    run_id = await copilot.ask(question, user=ALICE)
    say(f"run {run_id}")
    await copilot.settle(run_id)
    follow_up = await copilot.propose(run_id, 0, by=ALICE)
    say(f"run {follow_up.id}")
    waiting = await copilot.settle(follow_up.id)
    say(f"settled {waiting.state.value}")
    await asyncio.Event().wait()


async def serve() -> None:
    runtime = CoreRuntime(build_core)
    async with runtime.serving():
        say("serving")
        await asyncio.Event().wait()


def main() -> None:
    mode, *rest = sys.argv[1:]
    work = {"investigate": investigate, "propose": propose, "serve": serve}[mode]
    asyncio.run(work(*rest))


if __name__ == "__main__":
    main()
