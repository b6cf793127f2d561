"""Numbers as a person reads them: a metric value with its unit, and a reading against what is normal.

One place renders every metric value the Copilot, drafts and the console show, from the unit the source declares
(or the metric's name implies, see ``core_client.analysis.signals.unit_of``): ``14.3% errors, normally 0.14%``,
``860 ms p95, normally 114 ms``, ``40 connections in use, normally 11``, ``1.4 GiB``, ``340 req/s``. No raw float
reaches an answer: a value keeps at most three significant digits, small ones two.
"""

from __future__ import annotations

import math

from core_client.schemas import MetricAnomaly

# Units whose values are a share: "ratio" runs 0..1, "percent" 0..100; both are shown as percent.
_SHARES = {"ratio": 100.0, "percent": 1.0, "%": 1.0}
# Sizes, as multiples of a byte; shown in binary prefixes, as memory and disk sizes are read.
_BYTES = {"bytes": 1.0, "b": 1.0, "kib": 1024.0, "kb": 1024.0, "mib": 1024.0**2, "mb": 1024.0**2}
_BYTES |= {"gib": 1024.0**3, "gb": 1024.0**3, "tib": 1024.0**4, "tb": 1024.0**4}
_BYTE_PREFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
# Durations, as multiples of a second.
_SECONDS = {"seconds": 1.0, "second": 1.0, "s": 1.0, "ms": 1e-3, "milliseconds": 1e-3, "us": 1e-6}
_SECONDS |= {"microseconds": 1e-6, "minutes": 60.0, "min": 60.0, "hours": 3600.0, "h": 3600.0}
# Units that are counts of nothing in particular: the number alone says it.
_PLAIN = {"", "count", "1", "none", "number"}
# Large values in words past a million, so no number runs past seven digits.
_LARGE = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
# Short forms of rate units that read better in a sentence.
_SHORT_RATES = {"requests/s": "req/s", "requests per second": "req/s", "rps": "req/s"}
# Units written before the number's symbol without a space.
_SYMBOLS = {"celsius": "°C", "degrees": "°"}


def number(value: float) -> str:
    """``value`` with at most three significant digits (two below one), thousands separated: ``14.3``,
    ``860``, ``0.14``, ``12,400``, ``3.2 million``, ``2.6e37``."""
    if math.isnan(value):
        return "no value"
    if math.isinf(value):
        return "infinite" if value > 0 else "minus infinite"
    size = abs(value)
    if size >= 1e15:
        # A runaway value (a misread counter, say) stays short: its magnitude is what a reader needs.
        return f"{value:.2g}".replace("e+", "e")
    for scale, word in _LARGE:
        if size >= scale:
            return f"{number(value / scale)} {word}"
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return _trimmed(f"{value:.1f}")
    if size >= 1:
        return _trimmed(f"{value:.2f}")
    if size == 0:
        return "0"
    # Two significant digits of a small value: 0.1373 -> 0.14, 0.00312 -> 0.0031.
    digits = 1 - math.floor(math.log10(size))
    return _trimmed(f"{value:.{digits}f}")


def _trimmed(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantity(value: float, unit: str = "") -> str:
    """``value`` in ``unit`` as a person reads it: ``14.3%``, ``860 ms``, ``1.2 s``, ``1.4 GiB``, ``340 req/s``,
    ``40 connections``. An unknown unit is kept as written after the number."""
    key = unit.strip()
    lowered = key.lower()
    if math.isnan(value) or math.isinf(value):
        return number(value)
    if lowered in _SHARES:
        return f"{number(value * _SHARES[lowered])}%"
    if lowered in _BYTES:
        return _bytes(value * _BYTES[lowered])
    if lowered in _SECONDS:
        return _duration(value * _SECONDS[lowered])
    if "/" in lowered:
        amount, _, per = lowered.partition("/")
        if amount in _BYTES:
            return f"{_bytes(value * _BYTES[amount])}/{per}"
        return f"{number(value)} {_SHORT_RATES.get(lowered, key)}"
    if lowered in _SHORT_RATES:
        return f"{number(value)} {_SHORT_RATES[lowered]}"
    if lowered in _SYMBOLS:
        return f"{number(value)}{_SYMBOLS[lowered]}"
    if lowered in _PLAIN:
        return number(value)
    return f"{number(value)} {key}"


def _counted(unit: str) -> bool:
    """Whether ``unit`` is a counted noun (connections, messages, cores), not a measure with a symbol."""
    lowered = unit.strip().lower()
    known = (*_SHARES, *_BYTES, *_SECONDS, *_PLAIN, *_SYMBOLS, *_SHORT_RATES)
    return lowered.isalpha() and lowered not in known


def _bytes(size: float) -> str:
    scaled, index = abs(size), 0
    while scaled >= 1024 and index < len(_BYTE_PREFIXES) - 1:
        scaled /= 1024
        index += 1
    sign = "-" if size < 0 else ""
    return f"{sign}{number(scaled)} {_BYTE_PREFIXES[index]}"


def _duration(seconds: float) -> str:
    size = abs(seconds)
    if size == 0:
        return "0 s"
    if size < 1e-3:
        return f"{number(seconds * 1e6)} µs"
    if size < 1:
        return f"{number(seconds * 1e3)} ms"
    if size < 120:
        return f"{number(seconds)} s"
    if size < 7200:
        return f"{number(seconds / 60)} min"
    if size < 172800:
        return f"{number(seconds / 3600)} h"
    return f"{number(seconds / 86400)} days"


def quantile_name(label: str | None) -> str:
    """A quantile label as people say it: ``0.95`` and ``p95`` both give ``p95``; empty for no label."""
    if not label:
        return ""
    text = label.strip().lower()
    if text.startswith("p"):
        return text
    try:
        share = float(text)
    except ValueError:
        return text
    return f"p{share * 100:g}" if 0 < share <= 1 else text


def measured(
    value: float, *, unit: str = "", name: str = "", signal: str = "", facet: str = "", quantile: str = ""
) -> str:
    """A value of a series, said with what it measures: ``14.3% errors``, ``860 ms p95``, ``40 connections in
    use``; a series of another signal keeps its name in front: ``cpu_usage 92%``. ``signal`` and ``facet`` are the
    vocabulary of ``core_client.analysis.signals``."""
    amount = quantity(value, unit)
    if facet == "errors" and unit.lower() in _SHARES:
        return f"{amount} errors"
    if facet == "duration":
        return f"{amount} {quantile_name(quantile) or 'latency'}"
    if signal == "pool" and facet == "utilization":
        return f"{amount} in use"
    if facet == "rate" and signal == "traffic":
        return amount if "/" in unit else f"{amount} requests"
    return f"{name} {amount}" if name else amount


def against_normal(
    value: float,
    normal: float,
    *,
    unit: str = "",
    name: str = "",
    signal: str = "",
    facet: str = "",
    quantile: str = "",
) -> str:
    """A value beside what is normal for it: ``14.3% errors, normally 0.14%``."""
    now = measured(value, unit=unit, name=name, signal=signal, facet=facet, quantile=quantile)
    usual = quantity(normal, unit)
    # A counted noun is said once: "40 connections in use, normally 11".
    if _counted(unit):
        usual = number(normal)
    return f"{now}, normally {usual}"


def anomaly_reading(anomaly: MetricAnomaly) -> str:
    """An anomaly's peak against its baseline at the peak: ``14.3% errors, normally 0.14%``."""
    return against_normal(
        anomaly.peak_value,
        anomaly.expected_at_peak,
        unit=anomaly.unit,
        name=anomaly.name,
        signal=anomaly.signal,
        facet=anomaly.facet,
        quantile=anomaly.labels.get("quantile", ""),
    )
