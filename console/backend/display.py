"""How times read on screen: absolute UTC and age relative to the world's clock."""

from __future__ import annotations

from datetime import datetime


def utc_label(moment: datetime | None) -> str:
    """``2026-11-01 14:03 UTC``, or an empty string."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def ago(moment: datetime | None, now: datetime) -> str:
    """How long before ``now`` ``moment`` was, coarsely (``45s ago``, ``12m ago``, ``3h ago``, ``2d ago``)."""
    if moment is None:
        return ""
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
