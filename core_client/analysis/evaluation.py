"""Measuring the pattern miner so that it cannot flatter itself.

- :func:`leave_one_out`: every configuration of :data:`TUNING_GRID` is scored on every labelled system; for each
  system, the configuration is chosen on the *other* systems only, and the system's figure is that configuration's
  score on it. The average of those held-out figures is what the miner is expected to do on a system nobody tuned
  it for.
- :func:`rewrite_variables`: the same lines with every true variable written in another shape (a host name, an
  address, a URL...), so a score that holds only for the shapes a sample happens to use shows.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import fmean
from typing import Final, Literal

from core_client.analysis.accuracy import ParsingScore, parsing_score
from core_client.analysis.mining import MinerConfig, PatternMiner
from core_client.analysis.variables import as_wildcards


@dataclass(frozen=True)
class LabelledSample:
    """A system's raw lines, the message (content) of each, and each line's true event and template."""

    system: str
    lines: list[str]
    contents: list[str]
    events: list[str]
    templates: list[str]


TUNING_GRID: Final[tuple[MinerConfig, ...]] = tuple(
    MinerConfig(similarity=similarity, siblings=siblings, offline_similarity=offline)
    for similarity in (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    for siblings in (0, 3, 4, 5)
    for offline in (0.5, 0.6, 0.7)
)
"""Every configuration the folds may choose: the online similarity, and the sibling rule (off, or how many
distinct values make a variable and how alike siblings must be)."""


def score(config: MinerConfig, sample: LabelledSample) -> ParsingScore:
    """GA, FGA, PA and FTA of the miner with ``config`` on ``sample`` (variables compared as ``<*>``)."""
    miner = PatternMiner(config)
    for content in sample.contents:
        miner.add(content)
    mined = miner.patterns()
    templates = [as_wildcards(mined.templates[pattern]) for pattern in mined.of_line]
    return parsing_score(templates, sample.templates)


@dataclass(frozen=True)
class Fold:
    """One held-out system: the configuration chosen on the others, and its score on this one."""

    held_out: str
    chosen: MinerConfig
    score: ParsingScore
    chosen_on_others_ga: float


def leave_one_out(scores: Mapping[MinerConfig, Mapping[str, ParsingScore]]) -> list[Fold]:
    """For each system, the configuration with the best average GA on the *other* systems, scored on this one.

    ``scores[config][system]`` must hold every system for every configuration. Ties go to the configuration
    listed first.
    """
    configs = list(scores)
    if not configs:
        raise ValueError("no configurations scored")
    systems = list(scores[configs[0]])
    if len(systems) < 2:
        raise ValueError("leave-one-out needs at least two systems")
    folds = []
    for held_out in systems:
        others = [s for s in systems if s != held_out]

        def on_others(config: MinerConfig, others: list[str] = others) -> float:
            return fmean(scores[config][s].ga for s in others)

        chosen = max(configs, key=on_others)  # max keeps the first of equals
        folds.append(Fold(held_out, chosen, scores[chosen][held_out], on_others(chosen)))
    return folds


def score_grid(
    samples: Sequence[LabelledSample], grid: Iterable[MinerConfig] = TUNING_GRID
) -> dict[MinerConfig, dict[str, ParsingScore]]:
    """Every configuration of ``grid`` scored on every sample."""
    return {config: {sample.system: score(config, sample) for sample in samples} for config in grid}


# --- metamorphic variants ----------------------------------------------------------------------------------------

Shape = Literal["host", "host:port", "ipv6", "url", "path", "uuid"]
SHAPES: Final[tuple[Shape, ...]] = ("host", "host:port", "ipv6", "url", "path", "uuid")
_TLDS: Final = ("com", "net", "org", "io", "internal", "local", "co.uk", "de", "cloud", "svc.cluster.local")
_EXTENSIONS: Final = ("log", "conf", "json", "yaml", "db", "sock", "pid")


def variable_values(template: str, content: str) -> list[str] | None:
    """The values ``template``'s ``<*>`` take in ``content``, or None when the template does not match it."""
    parts = [re.escape(" ".join(part.split())).replace(r"\ ", r"\s+") for part in template.split("<*>")]
    match = re.fullmatch("(.*?)".join(parts), content.strip(), flags=re.DOTALL)
    return list(match.groups()) if match else None


def rewrite_variables(sample: LabelledSample, shape: Shape, seed: int = 0) -> tuple[LabelledSample, int]:
    """``sample`` with each true variable rewritten as a value of ``shape``, and how many lines were rewritten.

    The same original value always becomes the same new value, so how often values repeat is kept. Lines whose
    true template does not match their content (a labelling slip) are kept as they are.
    """
    rng = random.Random(f"{seed}:{sample.system}:{shape}")
    written: dict[str, str] = {}
    make = _MAKERS[shape]
    contents = []
    rewritten = 0
    for template, content in zip(sample.templates, sample.contents, strict=True):
        values = variable_values(template, content)
        if not values:
            contents.append(content)
            continue
        pieces = template.split("<*>")
        out = [pieces[0]]
        for value, piece in zip(values, pieces[1:], strict=True):
            if value.strip():
                value = written.setdefault(value, make(rng))
            out.append(value + piece)
        contents.append("".join(out))
        rewritten += 1
    return replace(sample, contents=contents), rewritten


def _word(rng: random.Random, low: int = 3, high: int = 9) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(low, high)))


def _host(rng: random.Random) -> str:
    labels = [
        _word(rng) + (f"-{_word(rng, 2, 5)}" if rng.random() < 0.3 else "") for _ in range(rng.randint(1, 3))
    ]
    return ".".join([*labels, rng.choice(_TLDS)])


def _ipv6(rng: random.Random) -> str:
    groups = [f"{rng.getrandbits(16):x}" for _ in range(8)]
    if rng.random() < 0.5:
        start = rng.randint(1, 5)
        return ":".join(groups[:start]) + "::" + ":".join(groups[start + rng.randint(1, 2) :])
    return ":".join(groups)


def _url(rng: random.Random) -> str:
    path = "/".join(_word(rng) for _ in range(rng.randint(1, 3)))
    query = f"?{_word(rng)}={_word(rng)}" if rng.random() < 0.5 else ""
    return f"{rng.choice(('http', 'https'))}://{_host(rng)}/{path}{query}"


def _path(rng: random.Random) -> str:
    folders = "/".join(_word(rng) for _ in range(rng.randint(1, 4)))
    return f"/{folders}/{_word(rng)}.{rng.choice(_EXTENSIONS)}"


_MAKERS: Final[dict[Shape, Callable[[random.Random], str]]] = {
    "host": _host,
    "host:port": lambda rng: f"{_host(rng)}:{rng.randint(1, 65535)}",
    "ipv6": _ipv6,
    "url": _url,
    "path": _path,
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
}
