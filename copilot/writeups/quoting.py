"""Text that came from a system (a log line, an alert's title, a ticket's words), as a quoted span of a write-up.

Every piece of data a write-up shows passes through :func:`quoted`, the one place where data is marked as quoted
and checked for text that addresses an assistant.
"""

from __future__ import annotations

from copilot.untrusted import is_suspicious
from copilot.writeups.document import Span

QUOTE_MAX = 160


def quoted(value: str, *, limit: int = QUOTE_MAX, href: str | None = None) -> Span:
    """``value`` (cut to ``limit`` characters, on one line) as quoted data."""
    flat = " ".join(value.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "\u2026"
    # Screened whole, before the cut, so an instruction past the limit still marks what is shown of it.
    return Span(text=flat, kind="quote", href=href, suspicious=is_suspicious(value))
