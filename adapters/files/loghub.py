"""The Loghub samples: each system's line format, and its labelled lines for measuring pattern mining.

Formats are Loghub's own (https://github.com/logpai/loghub); ``format`` in the files provider's configuration
may name one of them (``"loghub:OpenSSH"``) instead of spelling it out.
"""

from __future__ import annotations

import csv
from pathlib import Path

from adapters.files.format import LineFormat
from core_client.analysis.evaluation import LabelledSample

LOGHUB_FORMATS: dict[str, str] = {
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "BGL": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    "HPC": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "Mac": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
}

# Grouping accuracy of Drain on the 2k samples, as published (Zhu et al., ICSE-SEIP 2019).
PUBLISHED_DRAIN_GA: dict[str, float] = {
    "HDFS": 0.998,
    "Hadoop": 0.948,
    "BGL": 0.963,
    "HPC": 0.887,
    "Linux": 0.690,
    "Apache": 1.000,
    "OpenSSH": 0.788,
    "Mac": 0.787,
}


def load_sample(folder: Path, system: str) -> LabelledSample:
    """Read ``<folder>/<system>/<system>_2k.log``; the structured CSV gives only the true events and templates.

    A line the format does not parse keeps its whole text as content.
    """
    fmt = LineFormat.compile(LOGHUB_FORMATS[system])
    base = folder / system / f"{system}_2k"
    lines = Path(f"{base}.log").read_text(encoding="utf-8", errors="replace").splitlines()
    with Path(f"{base}.log_structured.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    events = [row["EventId"] for row in rows]
    templates = [row["EventTemplate"] for row in rows]
    contents = []
    for line in lines:
        fields = fmt.parse(line)
        contents.append(fields["Content"] if fields else line)
    return LabelledSample(system=system, lines=lines, contents=contents, events=events, templates=templates)
