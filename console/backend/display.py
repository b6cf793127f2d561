"""How things read on screen: times in absolute UTC and age relative to the world's clock; links from data."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

# A path on this console: one slash, then anything but a second slash or a backslash (``//host`` is another site).
_OWN_PATH = re.compile(r"^/(?![/\\])")


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


def safe_href(url: str) -> str:
    """``url`` when it is http(s) or a path on this console, else ``""`` (no link)."""
    text = url.strip()
    if any(ord(char) < 0x20 for char in text):
        return ""
    if _OWN_PATH.match(text):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else ""
