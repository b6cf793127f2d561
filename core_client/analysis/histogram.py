"""Volume histograms: how many lines fell in each equal slice of a window, by severity."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from core_client.schemas import HistogramBucket, LogEntry, LogHistogram


def bucket_seconds_for(start: datetime, end: datetime, buckets: int) -> int:
    """The width of one bucket, in whole seconds (at least one), so ``buckets`` of them cover the window."""
    span = max((end - start).total_seconds(), 1.0)
    return max(int(-(-span // max(buckets, 1))), 1)


def histogram_from_entries(
    entries: Iterable[LogEntry],
    *,
    start: datetime,
    end: datetime,
    buckets: int = 60,
    truncated: bool = False,
) -> LogHistogram:
    """Count ``entries`` into buckets over ``[start, end)``; lines outside the window are ignored."""
    width = bucket_seconds_for(start, end, buckets)
    count = max(int(-(-(end - start).total_seconds() // width)), 1)
    slots = [
        HistogramBucket(start=datetime.fromtimestamp(start.timestamp() + i * width, start.tzinfo))
        for i in range(count)
    ]
    total = 0
    for entry in entries:
        offset = (entry.timestamp - start).total_seconds()
        if offset < 0 or entry.timestamp >= end:
            continue
        slot = slots[min(int(offset // width), count - 1)]
        slot.count += 1
        severity = entry.severity or "unknown"
        slot.by_severity[severity] = slot.by_severity.get(severity, 0) + 1
        total += 1
    return LogHistogram(
        start=start,
        end=end,
        bucket_seconds=width,
        buckets=slots,
        total=total,
        truncated=truncated,
    )
