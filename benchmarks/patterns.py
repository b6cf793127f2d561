"""Log pattern mining, measured so that it cannot flatter itself.

- ``--folds``: leave-one-system-out over the Loghub-2k samples. The tuning grid (printed first) is scored on every
  system; each system's figures come from the configuration chosen on the *other* systems. Reported per fold: GA,
  FGA, PA, FTA, beside Drain's published GA (Zhu et al. 2019) and plain drain3 (its defaults) in the same run.
- ``--metamorphic``: every true variable rewritten as a host name, ``host:port``, IPv6, URL, path or UUID; the
  GA change per system and shape, with the default configuration.
- ``--throughput``: lines per second on one core, the mixed benchmark (every sample's lines, cycled to 200k lines)
  and its first pass alone (every line new), beside plain drain3 (``Drain`` and ``TemplateMiner``) in the same run.

With no flag, all three. Run: ``.venv/bin/python benchmarks/patterns.py [--folds] [--metamorphic] [--throughput]
[--loghub DIR]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import fmean

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drain3 import TemplateMiner
from drain3.drain import Drain
from drain3.template_miner_config import TemplateMinerConfig

from adapters.files.loghub import PUBLISHED_DRAIN_GA, load_sample
from core_client.analysis.accuracy import ParsingScore, parsing_score
from core_client.analysis.evaluation import (
    SHAPES,
    TUNING_GRID,
    LabelledSample,
    leave_one_out,
    rewrite_variables,
    score,
    score_grid,
)
from core_client.analysis.mining import MinerConfig, PatternMiner

DEFAULT_LOGHUB = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"
MIXED_LINES = 200_000


def _config(config: MinerConfig) -> str:
    return f"sim={config.similarity:.2f} siblings={config.siblings} offline={config.offline_similarity:.1f}"


def plain_drain3(sample: LabelledSample) -> ParsingScore:
    """drain3's Drain with its defaults over the same contents: each line gets its cluster's final template."""
    drain = Drain()
    clusters = [drain.add_log_message(content)[0] for content in sample.contents]
    return parsing_score([cluster.get_template() for cluster in clusters], sample.templates)


def folds(samples: Sequence[LabelledSample]) -> None:
    print(f"tuning grid ({len(TUNING_GRID)} configurations, depth {TUNING_GRID[0].depth}):")
    for similarity in sorted({c.similarity for c in TUNING_GRID}):
        print(f"  similarity {similarity:.2f}: siblings x offline = ", end="")
        print(
            ", ".join(
                f"{c.siblings}x{c.offline_similarity:.1f}" for c in TUNING_GRID if c.similarity == similarity
            )
        )
    started = time.perf_counter()
    scores = score_grid(samples)
    print(f"scored in {time.perf_counter() - started:.1f} s\n")
    baseline = {sample.system: plain_drain3(sample) for sample in samples}
    header = f"{'held out':<9}{'chosen on the other 7':<35}{'GA':>6}{'FGA':>6}{'PA':>6}{'FTA':>6}"
    print(header + f"  |{'Drain GA':>9}  | drain3:{'GA':>6}{'FGA':>6}{'PA':>6}{'FTA':>6}")
    rows = leave_one_out(scores)
    for fold in rows:
        s, b = fold.score, baseline[fold.held_out]
        print(
            f"{fold.held_out:<9}{_config(fold.chosen):<35}{s.ga:>6.3f}{s.fga:>6.3f}{s.pa:>6.3f}{s.fta:>6.3f}"
            f"  |{PUBLISHED_DRAIN_GA[fold.held_out]:>9.3f}  |        {b.ga:>6.3f}{b.fga:>6.3f}{b.pa:>6.3f}{b.fta:>6.3f}"
        )

    def mean(metric: Callable[[ParsingScore], float], of: Sequence[ParsingScore]) -> float:
        return fmean(metric(x) for x in of)

    held = [fold.score for fold in rows]
    base = list(baseline.values())
    print(
        f"{'average':<9}{'(held out)':<35}{mean(lambda x: x.ga, held):>6.3f}{mean(lambda x: x.fga, held):>6.3f}"
        f"{mean(lambda x: x.pa, held):>6.3f}{mean(lambda x: x.fta, held):>6.3f}"
        f"  |{fmean(PUBLISHED_DRAIN_GA.values()):>9.3f}  |        {mean(lambda x: x.ga, base):>6.3f}"
        f"{mean(lambda x: x.fga, base):>6.3f}{mean(lambda x: x.pa, base):>6.3f}{mean(lambda x: x.fta, base):>6.3f}"
    )
    default = MinerConfig()
    in_sample = fmean(scores[default][s.system].ga for s in samples) if default in scores else None
    if in_sample is not None:
        print(
            f"\ndefault configuration ({_config(default)}, chosen on all 8): in-sample average GA {in_sample:.3f}"
        )


def metamorphic(samples: Sequence[LabelledSample]) -> None:
    print(
        f"GA change when every true variable is rewritten (default configuration: {_config(MinerConfig())})"
    )
    print(f"{'system':<9}{'GA':>6}{'lines':>7}" + "".join(f"{shape:>11}" for shape in SHAPES))
    worst = 0.0
    for sample in samples:
        base = score(MinerConfig(), sample).ga
        changes = []
        for shape in SHAPES:
            variant, rewritten = rewrite_variables(sample, shape)
            changes.append(score(MinerConfig(), variant).ga - base)
        worst = min(worst, *changes)
        print(f"{sample.system:<9}{base:>6.3f}{rewritten:>7}" + "".join(f"{c:>+11.3f}" for c in changes))
    print(
        f"largest drop: {max(-worst, 0.0):.3f} (lines: how many lines' true template matched their text and were rewritten)"
    )


def _rate(name: str, stream: Sequence[str], mine: Callable[[Sequence[str]], object]) -> float:
    started = time.perf_counter()
    mine(stream)
    rate = len(stream) / (time.perf_counter() - started)
    print(f"  {name:<34}{rate:>12,.0f} lines/s")
    return rate


def _ours(stream: Sequence[str]) -> None:
    miner = PatternMiner()
    for line in stream:
        miner.add(line)
    miner.patterns()


def _drain(stream: Sequence[str]) -> None:
    drain = Drain()
    for line in stream:
        drain.add_log_message(line)


def _template_miner(stream: Sequence[str]) -> None:
    miner = TemplateMiner(config=TemplateMinerConfig())
    for line in stream:
        miner.add_log_message(line)


def throughput(samples: Sequence[LabelledSample]) -> None:
    contents = [content for sample in samples for content in sample.contents]
    mixed = (contents * (MIXED_LINES // len(contents) + 1))[:MIXED_LINES]
    for title, stream in (
        (f"mixed benchmark: {len(mixed):,} lines (the 8 samples' {len(contents):,} lines, cycled)", mixed),
        (f"first pass only: {len(contents):,} lines, each new", contents),
    ):
        print(title)
        ours = _rate("OpsPilot PatternMiner (+ patterns())", stream, _ours)
        drain = _rate("drain3 Drain (defaults)", stream, _drain)
        _rate("drain3 TemplateMiner (defaults)", stream, _template_miner)
        print(f"  OpsPilot / drain3 Drain: {ours / drain:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", action="store_true", help="leave-one-system-out GA, FGA, PA, FTA")
    parser.add_argument(
        "--metamorphic", action="store_true", help="GA with variables rewritten in other shapes"
    )
    parser.add_argument("--throughput", action="store_true", help="lines per second beside drain3")
    parser.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB, help="folder of the Loghub-2k samples")
    args = parser.parse_args()
    everything = not (args.folds or args.metamorphic or args.throughput)
    samples = [load_sample(args.loghub, system) for system in PUBLISHED_DRAIN_GA]
    for wanted, part in ((args.folds, folds), (args.metamorphic, metamorphic), (args.throughput, throughput)):
        if wanted or everything:
            part(samples)
            print()


if __name__ == "__main__":
    main()
