"""Companion series: what a source sends beside a series to say what it expected, not a metric of its own.

OpsOrch's metric mock answers every query with ``<name>`` and ``<name>.baseline`` (the same labels plus
``variant=baseline``). Listed as a metric, the companion doubles every chart and makes the real series look
different only by a missing label. Here each companion becomes the ``expected`` values of the series it
accompanies (the band the Metrics page draws), and a companion without its series is kept as a series.
"""

from __future__ import annotations

from core_client.schemas import MetricSeries

COMPANION_SUFFIXES = (".baseline",)
# The label a source adds to tell a companion from its series; it does not tell two series apart.
VARIANT_LABEL = "variant"


def companion_of(name: str) -> str | None:
    """The series name ``name`` accompanies (``http_requests_total`` for ``http_requests_total.baseline``)."""
    for suffix in COMPANION_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _identity(series: MetricSeries, name: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    labels = tuple(sorted((k, v) for k, v in series.labels.items() if k != VARIANT_LABEL))
    return name, series.service, labels


def with_companions(series: list[MetricSeries]) -> list[MetricSeries]:
    """``series`` without companions, each companion's points set as its series' ``expected`` values."""
    companions: dict[tuple[str, str, tuple[tuple[str, str], ...]], MetricSeries] = {}
    for item in series:
        accompanied = companion_of(item.name)
        if accompanied is not None:
            companions[_identity(item, accompanied)] = item
    kept: list[MetricSeries] = []
    used: set[int] = set()
    for item in series:
        if companion_of(item.name) is not None:
            continue
        companion = companions.get(_identity(item, item.name))
        if companion is not None:
            used.add(id(companion))
            item = item.model_copy(update={"expected": list(companion.points)})
        kept.append(item)
    # A companion whose series did not come back is still data: keep it under its own name.
    kept += [item for item in series if companion_of(item.name) is not None and id(item) not in used]
    return kept
