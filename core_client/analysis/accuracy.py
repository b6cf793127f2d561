"""Grouping accuracy (GA), the yardstick of log parsers (Zhu et al., ICSE-SEIP 2019)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence


def grouping_accuracy(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """The share of lines whose predicted group holds exactly the lines that share their true event.

    ``predicted[i]`` and ``truth[i]`` are the group and the true event id of line ``i``.
    """
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} lines")
    if not truth:
        return 1.0
    predicted_groups: dict[Hashable, set[int]] = defaultdict(set)
    true_groups: dict[Hashable, set[int]] = defaultdict(set)
    for line, (group, event) in enumerate(zip(predicted, truth, strict=True)):
        predicted_groups[group].add(line)
        true_groups[event].add(line)
    right = 0
    for lines in predicted_groups.values():
        event = truth[next(iter(lines))]
        if true_groups[event] == lines:
            right += len(lines)
    return right / len(truth)
