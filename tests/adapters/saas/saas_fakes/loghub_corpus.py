"""Real log lines for the log fakes: Loghub's Apache and OpenSSH 2k samples, as labelled, timed records.

Both systems are moved to start at :data:`BASE`, keeping their relative times. Apache keeps whole seconds, so many
of its lines share a nanosecond (paging must neither skip nor repeat them); OpenSSH lines of the same second are
1 ns apart, so they share a microsecond and only their nanoseconds order them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BASE = datetime(2025, 6, 11, 14, 0, tzinfo=UTC)
BASE_NS = int(BASE.timestamp()) * 1_000_000_000


@dataclass(frozen=True)
class CorpusLine:
    ns: int
    text: str
    service: str
    environment: str
    level: str
    host: str
    sequence: int

    @property
    def iso(self) -> str:
        """The time as Elasticsearch writes a ``date_nanos`` value: ``2025-06-11T14:20:00.123456789Z``."""
        seconds, fraction = divmod(self.ns, 1_000_000_000)
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def _rows(folder: Path, system: str) -> tuple[list[str], list[dict[str, str]]]:
    base = folder / system / f"{system}_2k"
    lines = Path(f"{base}.log").read_text(encoding="utf-8", errors="replace").splitlines()
    with Path(f"{base}.log_structured.csv").open(encoding="utf-8", newline="") as handle:
        return lines, list(csv.DictReader(handle))


def _epoch(text: str, layout: str) -> int:
    return int(datetime.strptime(text, layout).replace(tzinfo=UTC).timestamp())


def _apache(folder: Path) -> list[tuple[int, str, str, str, str, str]]:
    lines, rows = _rows(folder, "Apache")
    seconds = [_epoch(r["Time"], "%a %b %d %H:%M:%S %Y") for r in rows]
    return [
        ((s - seconds[0]) * 1_000_000_000, line, "httpd", "prod", row["Level"], "web-1")
        for s, line, row in zip(seconds, lines, rows, strict=True)
    ]


def _ssh_level(content: str) -> str:
    if content.startswith("error:"):
        return "error"
    if "BREAK-IN" in content or content.startswith("Failed password"):
        return "warning"
    return "info"


def _openssh(folder: Path) -> list[tuple[int, str, str, str, str, str]]:
    lines, rows = _rows(folder, "OpenSSH")
    seconds = [_epoch(f"2005 {r['Date']} {r['Day']} {r['Time']}", "%Y %b %d %H:%M:%S") for r in rows]
    records = []
    within = 0
    for i, (line, row) in enumerate(zip(lines, rows, strict=True)):
        within = within + 1 if i and seconds[i] == seconds[i - 1] else 0
        offset = (seconds[i] - seconds[0]) * 1_000_000_000 + within
        environment = "prod" if int(row["Pid"]) % 2 == 0 else "staging"
        records.append((offset, line, "sshd", environment, _ssh_level(row["Content"]), row["Component"]))
    return records


def load_corpus(loghub_dir: Path) -> list[CorpusLine]:
    """About 4,000 real lines of two services, in file order (Apache first)."""
    records = _apache(loghub_dir) + _openssh(loghub_dir)
    return [
        CorpusLine(BASE_NS + offset, text, service, environment, level, host, sequence)
        for sequence, (offset, text, service, environment, level, host) in enumerate(records)
    ]
