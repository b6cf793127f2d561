"""Search hits as LogEntries: nanosecond times, dotted field paths, and ids that lead back to the document.

A line's id is ``es.<base64url of [index, _id]>``: the document's own identity, stable and enough to fetch it again
for its context.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.elasticsearch.config import SOURCE, LogFields
from adapters.elasticsearch.search import normalize_severity
from core_client.errors import ProviderUnavailable
from core_client.schemas import LogEntry

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)


def parse_ns(value: Any) -> int:
    """Nanoseconds since the epoch of a ``date``/``date_nanos`` value: ISO 8601 text with up to nine fraction
    digits (read exactly, no float), or epoch milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) * 1_000_000
    text = str(value).strip()
    if text.isdigit():
        return int(text) * 1_000_000
    match = _ISO.match(text)
    if match is None:
        raise ProviderUnavailable(f"unreadable timestamp {text[:40]!r} in a hit", source=SOURCE)
    day, clock, fraction, zone = match.groups()
    seconds_text = clock if clock.count(":") == 2 else clock + ":00"
    offset = (zone or "Z").upper().replace(":", "")
    moment = datetime.strptime(
        f"{day}T{seconds_text}{'+0000' if offset == 'Z' else offset}", "%Y-%m-%dT%H:%M:%S%z"
    )
    whole_seconds = (moment - EPOCH) // timedelta(seconds=1)
    return whole_seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def from_ns(ns: int) -> datetime:
    """The UTC datetime of a nanosecond time (to the microsecond, as far as datetime goes)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted ``path``, whether the document nests objects or keeps dotted keys (or mixes them)."""
    if not isinstance(document, Mapping):
        return None
    if path in document:
        return document[path]
    parts = path.split(".")
    for cut in range(1, len(parts)):
        head = ".".join(parts[:cut])
        if head in document:
            found = lookup(document[head], ".".join(parts[cut:]))
            if found is not None:
                return found
    return None


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every leaf of a document under its dotted path (lists are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def line_id(index: str, doc_id: str) -> str:
    raw = json.dumps([index, doc_id], separators=(",", ":")).encode()
    return "es." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_line_id(log_id: str) -> tuple[str, str] | None:
    """The index and document id inside an id made by :func:`line_id`, or None."""
    prefix, _, encoded = log_id.partition(".")
    if prefix != "es" or not encoded:
        return None
    try:
        index, doc_id = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError, TypeError):
        return None
    return (index, doc_id) if isinstance(index, str) and isinstance(doc_id, str) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def hit_ns(hit: Mapping[str, Any], fields: LogFields) -> int:
    """The hit's time in nanoseconds: its first sort value (the timestamp as ``date_nanos``), else its source."""
    sort = hit.get("sort")
    if isinstance(sort, list) and sort and isinstance(sort[0], int):
        return sort[0]
    return parse_ns(lookup(hit.get("_source") or {}, fields.timestamp))


def hit_entry(hit: Mapping[str, Any], fields: LogFields) -> LogEntry:
    """The LogEntry of one hit: ECS ``labels.*`` (plus environment and team) as labels, the rest as fields."""
    source = hit.get("_source") or {}
    ns = hit_ns(hit, fields)
    labels = {
        key.removeprefix("labels."): _text(value)
        for key, value in flatten(source).items()
        if key.startswith("labels.")
    }
    for name in ("environment", "team"):
        path = getattr(fields, name)
        value = lookup(source, path) if path else None
        if value is not None:
            labels[name] = _text(value)
    skipped = {fields.timestamp, fields.message}
    return LogEntry(
        id=line_id(str(hit.get("_index", "")), str(hit.get("_id", ""))),
        timestamp=from_ns(ns),
        message=_text(lookup(source, fields.message)),
        severity=normalize_severity(_text(lookup(source, fields.severity))) if fields.severity else "",
        service=_text(lookup(source, fields.service)) if fields.service else "",
        labels=labels,
        fields={key: value for key, value in flatten(source).items() if key not in skipped},
        metadata={"index": hit.get("_index", ""), "docId": hit.get("_id", ""), "timestampNs": str(ns)},
    )
