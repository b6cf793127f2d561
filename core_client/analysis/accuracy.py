"""How well lines were grouped into templates: the yardsticks of log-parsing benchmarks.

- GA, grouping accuracy (Zhu et al., ICSE-SEIP 2019): the share of lines whose group holds exactly the lines of
  their true event.
- FGA, its F1 over groups (Jiang et al., Loghub-2.0, ISSTA 2024): precision = correct groups / groups found,
  recall = correct groups / true events.
- PA, parsing accuracy: the share of lines whose template is their true template.
- FTA, template accuracy (Khan et al., ICSE 2022): F1 over templates that are correctly grouped *and* written
  exactly as the true one.

Templates are compared after :func:`canonical_template`, the normalisation Khan et al. proposed and Loghub-2.0
applied to its labels, so ``blk_<*>`` and ``<*>`` or ``<*>:<*>`` and ``<*>`` count as the same template. It is
applied to both sides.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

_VARIABLE = "<*>"
# Delimiters that end a path-like token, and the finer ones that end any other token (both kept when splitting).
_PATH_DELIMITERS = re.compile(r"([\s,!;:=|\"'\[\](){}])")
_TOKEN_DELIMITERS = re.compile(r"([\s,!;:=|\"'\[\](){}.\-+@#$%&])")
_PATH = re.compile(r"(?:/[^/]+)+")
_DIGITS = re.compile(r"\d+")
_WORD_WITH_VARIABLE = re.compile(r"[^\s/]*<\*>[^\s/]*")


def canonical_template(template: str) -> str:
    """``template`` normalised so that equivalent spellings of the same template compare equal.

    Whitespace runs become one space; a path, a number, and a token glued to a variable (``blk_<*>``) become
    ``<*>``; variables joined by ``.``, ``:`` or nothing (``<*>.<*>``, ``<*>:<*>``, ``<*><*>``) become one.
    """
    text = " ".join(template.split())
    text = "".join(_VARIABLE if _PATH.fullmatch(part) else part for part in _PATH_DELIMITERS.split(text))
    parts = []
    for part in _TOKEN_DELIMITERS.split(text):
        if _DIGITS.fullmatch(part) or (part != "<*>/<*>" and _WORD_WITH_VARIABLE.fullmatch(part)):
            part = _VARIABLE
        parts.append(part)
    text = "".join(parts)
    for joined in ("<*>.<*>", "<*><*>", "#<*>#", "<*>:<*>"):
        while joined in text:
            text = text.replace(joined, _VARIABLE)
    return text


def grouping_accuracy(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """The share of lines whose predicted group holds exactly the lines that share their true event.

    ``predicted[i]`` and ``truth[i]`` are the group and the true event id of line ``i``.
    """
    return _grouping(predicted, truth)[0]


@dataclass(frozen=True)
class ParsingScore:
    """The four accuracies of one labelled sample (each 0..1), and how many templates were found and true."""

    ga: float
    fga: float
    pa: float
    fta: float
    found: int
    true: int


def parsing_score(templates: Sequence[str], truth: Sequence[str]) -> ParsingScore:
    """GA, FGA, PA and FTA of ``templates[i]``, the template line ``i`` was given, against its true template.

    Lines are grouped by their template (as a reader sees them), so two groups written alike count as one.
    """
    if len(templates) != len(truth):
        raise ValueError(f"{len(templates)} templates for {len(truth)} lines")
    ga, correct_groups = _grouping(templates, truth)
    found = len(set(templates))
    true = len(set(truth))
    canonical = {t: canonical_template(t) for t in {*templates, *truth}}
    pa = sum(canonical[p] == canonical[t] for p, t in zip(templates, truth, strict=True)) / (len(truth) or 1)
    right_templates = sum(canonical[str(group)] == canonical[str(event)] for group, event in correct_groups)
    return ParsingScore(
        ga=ga,
        fga=_f1(len(correct_groups), found, true),
        pa=pa,
        fta=_f1(right_templates, found, true),
        found=found,
        true=true,
    )


def _f1(correct: int, found: int, true: int) -> float:
    precision = correct / found if found else 0.0
    recall = correct / true if true else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _grouping(
    predicted: Sequence[Hashable], truth: Sequence[Hashable]
) -> tuple[float, list[tuple[Hashable, Hashable]]]:
    """GA, and the (group, event) pairs where a predicted group is exactly a true event."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} lines")
    if not truth:
        return 1.0, []
    predicted_groups: dict[Hashable, set[int]] = defaultdict(set)
    true_groups: dict[Hashable, set[int]] = defaultdict(set)
    for line, (group, event) in enumerate(zip(predicted, truth, strict=True)):
        predicted_groups[group].add(line)
        true_groups[event].add(line)
    right = 0
    correct: list[tuple[Hashable, Hashable]] = []
    for group, lines in predicted_groups.items():
        event = truth[next(iter(lines))]
        if true_groups[event] == lines:
            right += len(lines)
            correct.append((group, event))
    return right / len(truth), correct
