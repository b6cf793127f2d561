"""Log pattern mining: grouping accuracy on the Loghub samples beside Drain's published figures, and throughput.

Run: .venv/bin/python benchmarks/patterns.py [LOGHUB_DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from adapters.files.loghub import PUBLISHED_DRAIN_GA, load_sample
from core_client.analysis.accuracy import grouping_accuracy
from core_client.analysis.patterns import PatternMiner

DEFAULT_LOGHUB = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"
THROUGHPUT_LINES = 200_000


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_LOGHUB
    samples = [load_sample(folder, system) for system in PUBLISHED_DRAIN_GA]
    print(f"{'system':<10}{'GA':>8}{'published':>11}{'delta':>8}")
    total = 0.0
    for sample in samples:
        miner = PatternMiner()
        score = grouping_accuracy([miner.add(c) for c in sample.contents], sample.events)
        published = PUBLISHED_DRAIN_GA[sample.system]
        total += score
        print(f"{sample.system:<10}{score:>8.3f}{published:>11.3f}{score - published:>+8.3f}")
    published_avg = sum(PUBLISHED_DRAIN_GA.values()) / len(PUBLISHED_DRAIN_GA)
    print(
        f"{'average':<10}{total / len(samples):>8.3f}{published_avg:>11.3f}{total / len(samples) - published_avg:>+8.3f}"
    )

    contents = [c for sample in samples for c in sample.contents]
    stream = (contents * (THROUGHPUT_LINES // len(contents) + 1))[:THROUGHPUT_LINES]
    miner = PatternMiner()
    started = time.perf_counter()
    for content in stream:
        miner.add(content)
    elapsed = time.perf_counter() - started
    print(
        f"\nmining throughput: {len(stream):,} lines in {elapsed:.2f} s = {len(stream) / elapsed:,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
