"""CPython's cyclic garbage collector, sized for a console backend worker.

A worker holds about a million tracked objects once its pages have been built (Reflex components, vars and
styles), and a Copilot run allocates tens of thousands more for a moment: metric points, log lines, tool results.
With CPython's default young generation (a collection every 700 net allocations) a collection catches those
objects alive in the middle of a run and promotes them, and every quarter of the heap promoted this way starts a
full collection. A full collection traverses the whole heap, and no tab's event is served meanwhile: it took
400-650 ms every 2.5-4 s while the Copilot worked.

A young generation of 50,000 objects lets a run's objects die by reference counting before any collection sees
them, so full collections all but stop, and young ones come 70 times less often. Cycles are still collected: at
most 50,000 objects wait for it, a few megabytes.
``benchmarks/copilot_pages.py --baseline`` measures both settings side by side.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION = 50_000
CPYTHON_DEFAULT = (700, 10, 10)


def size_for_the_console() -> None:
    """Give this process the console's young generation (older generations keep CPython's ratios)."""
    _, middle, old = CPYTHON_DEFAULT
    gc.set_threshold(YOUNG_GENERATION, middle, old)
