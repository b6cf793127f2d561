"""Builds a small demo world once per test module and installs copies of it into each test's data folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from adapters.demo.build import WorldSpec, build_world
from adapters.demo.scenario import load_library
from adapters.demo.world import prepare_world, world_path
from core_client.settings import load_settings

SMALL = 0.01
SPEC = WorldSpec(1, "orders-pool-exhaustion", SMALL)


def build_small(folder: Path, spec: WorldSpec = SPEC) -> Path:
    path = folder / f"{spec.key}.db"
    build_world(spec, load_library(), path)
    return path


def install(built: Path, spec: WorldSpec = SPEC) -> Path:
    """Copy ``built`` into the current settings' world cache and make it active (a cache hit)."""
    settings = load_settings()
    target = world_path(settings, spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built, target)
    prepared = prepare_world(settings, spec)
    assert not prepared.built
    return target
