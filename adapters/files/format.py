"""Loghub-style line formats: ``<Date> <Time> <Level> <Component>: <Content>`` turned into a line parser.

As in Loghub, the text between fields is a regular expression (so ``\\[<Pid>\\]`` and optional parts such as
``(\\[<PID>\\])?`` work) and runs of spaces match any whitespace. Every field but the last matches lazily;
``<Content>`` takes the rest of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core_client.errors import ConfigurationError

_FIELD = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
CONTENT_FIELD = "Content"


@dataclass(frozen=True)
class LineFormat:
    """A compiled line format; :meth:`parse` gives the named fields of a line, or None when it does not match."""

    pattern: str
    fields: tuple[str, ...]
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str, *, source: str = "files") -> LineFormat:
        """Compile ``pattern``; a format without ``<Content>``, with a field twice or invalid regex is refused."""
        pieces = _FIELD.split(pattern)
        fields = tuple(pieces[1::2])
        if CONTENT_FIELD not in fields:
            raise ConfigurationError(f"line format {pattern!r} has no <{CONTENT_FIELD}> field", source=source)
        if len(set(fields)) != len(fields):
            raise ConfigurationError(f"line format {pattern!r} names a field twice", source=source)
        regex = ""
        for index, piece in enumerate(pieces):
            if index % 2 == 0:
                regex += re.sub(" +", r"\\s+", piece)
            elif piece == CONTENT_FIELD:
                regex += f"(?P<{piece}>.*)"
            else:
                regex += f"(?P<{piece}>.*?)"
        try:
            compiled = re.compile("^" + regex + "$")
        except re.error as exc:
            raise ConfigurationError(f"line format {pattern!r} is not valid: {exc}", source=source) from None
        return cls(pattern=pattern, fields=fields, regex=compiled)

    def parse(self, line: str) -> dict[str, str] | None:
        """The fields of ``line`` (absent optional fields as ""), or None when the line does not match."""
        match = self.regex.match(line.rstrip("\r\n"))
        if match is None:
            return None
        return {name: (value or "").strip() for name, value in match.groupdict().items()}
