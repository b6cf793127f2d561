"""Loki's lines as LogEntries: nanosecond times, and ids that lead back to the line.

A line's id is ``lk.<anchor>.<digest>``: the anchor (base64url JSON of its context labels and its nanosecond time)
is enough to query the lines around it, and the digest (of all its stream labels, time and text) tells it apart
from the other lines of the same nanosecond. The same line always gets the same id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.loki.config import LokiConfig
from adapters.loki.logql import normalize_severity
from core_client.schemas import LogEntry

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SEVERITY_WORD = re.compile(
    r"\b(critical|fatal|error|err|warning|warn|notice|info|debug|trace)\b", re.IGNORECASE
)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly (no float on the way)."""
    return (moment - EPOCH) // _MICROSECOND * 1000


def from_ns(ns: int) -> datetime:
    """The UTC datetime of a nanosecond time (to the microsecond, as far as datetime goes)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True)
class LineRef:
    """What a line id says: the labels its context shares, its time, and its digest."""

    labels: dict[str, str]
    ns: int
    digest: str


def parse_line_id(log_id: str) -> LineRef | None:
    """The reference inside an id made by :class:`LokiLine`, or None for anything else."""
    prefix, _, rest = log_id.partition(".")
    anchor, _, digest = rest.partition(".")
    if prefix != "lk" or not anchor or len(digest) != 20:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(anchor + "=" * (-len(anchor) % 4)))
        labels = {str(k): str(v) for k, v in decoded["l"].items()}
        return LineRef(labels, int(decoded["t"]), digest)
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class LokiLine:
    """One line as Loki returned it: its stream's labels, its time in nanoseconds, its text."""

    labels: Mapping[str, str]
    ns: int
    text: str

    @property
    def digest(self) -> str:
        key = json.dumps([sorted(self.labels.items()), str(self.ns), self.text], separators=(",", ":"))
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    def line_id(self, context_labels: list[str]) -> str:
        anchor = {"l": {k: self.labels[k] for k in context_labels if k in self.labels}, "t": str(self.ns)}
        return f"lk.{_b64(json.dumps(anchor, separators=(',', ':')).encode())}.{self.digest}"

    def entry(self, config: LokiConfig) -> LogEntry:
        """The LogEntry: stream labels as labels, the exact time in ``metadata.timestampNs``."""
        service_label = config.scope_labels.service
        if config.severity_label:
            severity = normalize_severity(self.labels.get(config.severity_label, ""))
        else:
            severity = _severity_in_text(self.text)
        return LogEntry(
            id=self.line_id(config.scope_context_labels()),
            timestamp=from_ns(self.ns),
            message=self.text,
            severity=severity,
            service=self.labels.get(service_label, "") if service_label else "",
            labels=dict(self.labels),
            metadata={"timestampNs": str(self.ns)},
        )


def _severity_in_text(text: str) -> str:
    # Without a severity label, the first level word of the line (the words the severity line filter matches).
    found = _SEVERITY_WORD.search(text)
    return normalize_severity(found.group(1)) if found else ""
