"""The variable parts of a log line, found by their shape in any log and named where the shape says what they are.

A line becomes the tokens the pattern miner compares: whitespace-separated, each variable replaced by a named
placeholder (``<ip>``, ``<host>``, ``<duration>``...) or by ``<*>`` when all that is known is that it varies (a run
holding a digit that no mask names). Within a token, values that may hold delimiters are found first (URLs, e-mail
addresses, timestamps, MAC and IPv6 addresses, ``host:port``, Windows paths); then each run between delimiters
(``:=,()[]{}<>"';|``) that holds a digit, a dot or a slash is classified on its own, so ``LOGIN(uid=0)`` keeps its
words and loses its number. A date written with words (``Fri Jun 17 07:07:00 2005``) spans tokens and is found in
the whole line. A token made only of placeholders and punctuation is a *variable token*.

Host names are recognised without a digit: a dotted name ending in a top-level domain (``db.internal``,
``proxy.example.co.uk``); a dotted name that ends otherwise (``chrome.exe``, ``org.apache.Foo``, ``main.py``)
stays a word.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from typing import Final

WILDCARD: Final = "<*>"
"""A variable whose kind is unknown (and what two different kinds merge into)."""

KINDS: Final = (
    "time", "url", "email", "uuid", "mac", "ip", "host", "port", "path", "hex", "duration", "size", "num",
)  # fmt: skip
"""The kinds a mask names; each placeholder is ``<kind>``."""

PLACEHOLDER: Final = re.compile(r"<(?:\*|" + "|".join(KINDS) + r")>")
"""Any placeholder, named or not."""

_DELIMITERS = r"\s:=,()\[\]{}<>\"';|"

# Top-level domains a digitless host name may end in: the generic ones in wide use and the private suffixes teams
# use for internal names, then the country codes. A country code that is also a common file extension (``.py``,
# ``.sh``, ``.md``...) counts only after at least two labels (``a.b.sh``): ``main.py`` is a file.
# fmt: off
_GENERIC_TLDS: Final = frozenset({
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi", "aero", "coop",
    "museum", "io", "ai", "app", "dev", "cloud", "co", "me", "tv", "xyz", "site", "online", "tech", "store",
    "shop", "blog", "news", "live", "media", "page", "space", "website", "digital", "network", "systems",
    "services", "solutions", "company", "global", "world", "top", "club", "link", "click", "host", "email", "data",
    "local", "localdomain", "localhost", "internal", "intranet", "lan", "corp", "home", "arpa", "test", "example",
    "invalid", "svc", "cluster",
})
_COUNTRY_TLDS: Final = frozenset({
    "ac", "ad", "ae", "af", "ag", "al", "ao", "aq", "ar", "as", "at", "au", "aw", "ax", "az", "ba", "bb", "bd",
    "be", "bf", "bg", "bh", "bi", "bj", "bm", "bn", "bo", "br", "bs", "bt", "bw", "by", "bz", "ca", "cd", "cf",
    "cg", "ch", "ci", "ck", "cl", "cm", "cn", "cr", "cu", "cv", "cw", "cx", "cy", "cz", "de", "dj", "dk", "dm",
    "do", "dz", "ec", "ee", "eg", "er", "es", "et", "eu", "fi", "fj", "fk", "fm", "fo", "fr", "ga", "gd", "ge",
    "gf", "gg", "gh", "gi", "gl", "gm", "gn", "gp", "gq", "gr", "gs", "gt", "gu", "gw", "gy", "hk", "hm", "hn",
    "hr", "ht", "hu", "id", "ie", "il", "im", "iq", "ir", "is", "it", "je", "jm", "jo", "jp", "ke", "kg", "kh",
    "ki", "km", "kn", "kp", "kr", "kw", "ky", "kz", "la", "lb", "lc", "li", "lk", "lr", "ls", "lt", "lu", "lv",
    "ly", "ma", "mc", "mg", "mh", "mm", "mn", "mo", "mp", "mq", "mr", "ms", "mt", "mu", "mv", "mw", "mx", "my",
    "mz", "na", "nc", "ne", "nf", "ng", "ni", "nl", "no", "np", "nr", "nu", "nz", "om", "pa", "pe", "pf", "pg",
    "ph", "pk", "pm", "pn", "pr", "pt", "pw", "qa", "re", "ro", "ru", "rw", "sa", "sb", "sd", "se", "sg", "si",
    "sk", "sl", "sm", "sn", "sr", "ss", "st", "sv", "sx", "sy", "sz", "tc", "td", "tg", "th", "tj", "tk", "tl",
    "tm", "tn", "to", "tr", "tt", "tw", "tz", "ua", "ug", "uk", "us", "uy", "uz", "va", "ve", "vg", "vi", "vn",
    "vu", "wf", "ws", "ye", "yt", "za", "zm", "zw",
})
# fmt: on
_EXTENSION_TLDS: Final = frozenset(
    {"am", "cc", "in", "md", "mk", "ml", "pl", "ps", "py", "rs", "sc", "sh", "so", "tf", "vc"}
)
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")


def is_host_name(text: str) -> bool:
    """Whether ``text`` is a dotted DNS name ending in a top-level domain (``db.internal``, ``a.b.co.uk``)."""
    labels = text.rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return False
    tld = labels[-1].lower()
    return tld in _GENERIC_TLDS or tld in _COUNTRY_TLDS or (len(labels) >= 3 and tld in _EXTENSION_TLDS)


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})?"
_HOST = r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_WORD_DATE = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?(?:{_MONTH}\s+\d{{1,2}}|\d{{1,2}}\s+{_MONTH}),?\s+(?:\d{{4}}\s+)?{_CLOCK}"
    rf"(?:\s+\d{{4}})?(?:\s?(?:Z|UTC|GMT|[+-]\d{{2}}:?\d{{2}}))?\b"
)
# A token that may start such a date (checked on tokens first: most lines have none).
_DATE_WORDS: Final = frozenset(
    {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
    | {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
)


def _host_port(match: re.Match[str]) -> str:
    return "<host>:<port>" if is_host_name(match.group(1)) else match.group()


_LONGEST_RUN: Final = 200


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _ipv6(match: re.Match[str]) -> str:
    """A run of hex digits and colons with each IPv6 address in it as ``<ip>``, even glued to a word or to another.

    The run is cut at colons so that addresses cover as much of it as possible (``addr:fe80::1``, addresses joined
    by colons, a word ending in hex digits before one). Clocks and MAC addresses are masked before this runs. An
    address inside a word (``Service::start`` holds ``e::``) needs three groups and a digit to count.
    """
    run, offset, whole = match.group(), match.start(), match.string
    run, percent, zone = run.partition("%")
    if len(run) > _LONGEST_RUN:
        return match.group()
    ends = [k for k, char in enumerate(run) if char == ":"] + [len(run)]

    @functools.cache
    def cover(i: int) -> tuple[int, int, str]:
        """(characters left unmasked, addresses, masked text) for ``run[i:]``, ``i`` a group's start."""
        if i >= len(run):
            return 0, 0, ""
        following = run.find(":", i)
        following = len(run) if following < 0 else following
        # Leave this group as it is...
        left, count, text = cover(following + 1)
        best = (left + following - i, count, run[i : following + 1] + text)
        # ...or start an address here (or a few hex digits in, after a word's tail, at the run's start).
        for start in range(i, min(i + 5, following + 1) if i == 0 else i + 1):
            for end in ends:
                if end - start < 2 or end - start > 45:
                    continue
                address = run[start:end]
                if _is_ipv6(address) and _stands_alone(address, offset + start, offset + end, whole):
                    left, count, text = cover(end + 1)
                    option = (left + start - i, count + 1, run[i:start] + "<ip>" + run[end : end + 1] + text)
                    best = min(best, option, key=lambda o: (o[0], o[1]))
        return best

    masked = cover(0)[2]
    # A zone (fe80::1%eth0) belongs to the address before it.
    return masked if masked.endswith("<ip>") else masked + percent + zone


def _stands_alone(address: str, start: int, end: int, whole: str) -> bool:
    bounded = (start == 0 or not whole[start - 1].isalnum()) and (
        end == len(whole) or not whole[end].isalnum()
    )
    return bounded or (
        len([group for group in address.split(":") if group]) >= 3 and _DIGIT.search(address) is not None
    )


# Values that may hold delimiters, each with a literal all its matches contain (tested before the regex runs).
_SPANS: Final[tuple[tuple[str, re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (
        "://",
        re.compile(r"(?<![A-Za-z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]*[^\s\"'<>.,;:)\]}]"),
        "<url>",
    ),
    ("@", re.compile(rf"(?<![\w.+-])[\w.+-]+@{_HOST}\b"), "<email>"),
    (":", re.compile(rf"\b\d{{4}}-\d{{2}}-\d{{2}}[T_]{_CLOCK}{_ZONE}(?![\w-])"), "<time>"),
    (":", re.compile(rf"(?<![\w:.]){_CLOCK}{_ZONE}(?![\w:])"), "<time>"),
    (":", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}(?![\w:])"), "<mac>"),
    (":", re.compile(r"[0-9A-Fa-f:]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:%[\w.]+)?"), _ipv6),
    (":", re.compile(rf"(?<![\w.]){_IPV4}:\d{{1,5}}(?![\w.])"), "<ip>:<port>"),
    (":", re.compile(rf"(?<![\w.-])({_HOST}):\d{{1,5}}(?![\w.])"), _host_port),
    (":\\", re.compile(r"\b[A-Za-z]:\\[^\s\"'<>|]*"), "<path>"),
)

# A run between delimiters worth a look: it holds a digit, a dot or a slash.
_CANDIDATE = re.compile(rf"[^{_DELIMITERS}]*[\d./][^{_DELIMITERS}]*")
_RUN_KINDS: Final = tuple(
    (kind, re.compile(pattern, flags))
    for kind, pattern, flags in (
        ("<num>", r"[-+]?\d+(?:\.\d+)?", 0),
        ("<hex>", r"0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,}", 0),
        ("<ip>", _IPV4, 0),
        ("<uuid>", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", 0),
        ("<time>", r"\d{4}-\d{2}-\d{2}|\d{4}/\d{2}/\d{2}", 0),
        ("<path>", r"(?:~|\.{1,2})?/+[^/\s]+(?:/[^/\s]*)*|[^/\s]+(?:/[^/\s]+){2,}/?", 0),
        ("<duration>", r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs|d))+", re.IGNORECASE),
        ("<size>", r"\d+(?:\.\d+)?(?:[KMGTP]i?B|[KMGTP]|B|bytes?)", re.IGNORECASE),
    )
)
_DIGIT = re.compile(r"\d")


def _classify_run(match: re.Match[str]) -> str:
    """The placeholder for one run between delimiters, or the run itself when it is a literal."""
    run = match.group()
    value = run.rstrip(".")  # a sentence's full stop is not part of the value
    if not value:
        return run
    stop = run[len(value) :]
    kind = _kind(value)
    if kind is not None:
        return kind + stop
    if not _DIGIT.search(value):
        return run
    if "." in value:
        # Words joined by dots to numbers keep their words: core.2391 -> core.<num>, instruction......0.
        labels = value.split(".")
        if all(label.isalpha() or label.isdigit() or not label for label in labels):
            return ".".join("<num>" if label.isdigit() else label for label in labels) + stop
    core = value.rstrip("/")
    return WILDCARD + value[len(core) :] + stop


def _kind(value: str) -> str | None:
    for kind, shape in _RUN_KINDS:
        if shape.fullmatch(value):
            return kind
    if "." in value and is_host_name(value):
        return "<host>"
    return None


def _mask_token(token: str) -> str:
    if token.isalpha():
        return token
    if token.isdigit():
        return "<num>"
    masked = token
    if ":" in masked or "@" in masked:
        for cue, span, replacement in _SPANS:
            if cue in masked:
                masked = span.sub(replacement, masked)
    return _CANDIDATE.sub(_classify_run, masked)


# Every mask looks at how many digits stand where, never at which digits: a token masks like its *shape*, itself
# with each digit written 0, so shapes are what the masker remembers ("[19939]:" and "[20417]:" share one).
_SHAPE: Final = str.maketrans("123456789", "000000000")


class LineMasker:
    """Masks lines, remembering the masked form of up to ``memory`` distinct token shapes."""

    def __init__(self, memory: int = 100_000) -> None:
        self._known: dict[str, str] = {}
        self._memory = memory

    def mask(self, message: str) -> list[str]:
        """The tokens of ``message``, each variable a placeholder."""
        known = self._known
        masked = []
        dated = False
        for token in message.split():
            found = known.get(token)
            if found is None:
                shape = token.translate(_SHAPE)
                found = known.get(shape)
                if found is None:
                    found = _mask_token(shape)
                    if token[:3] in _DATE_WORDS:
                        dated = True
                    elif len(known) < self._memory:
                        known[shape] = found
            masked.append(found)
        if dated and (undated := _WORD_DATE.sub("<time>", message)) != message:
            return self.mask(undated)
        return masked


def mask_message(message: str) -> list[str]:
    """The tokens the pattern miner sees for ``message``: whitespace-separated, each variable a placeholder."""
    return LineMasker(memory=0).mask(message)


_ONLY_VARIABLES = re.compile(rf"(?:[^\w\s]*?(?:{PLACEHOLDER.pattern}))+[^\w\s]*")


def is_variable(token: str) -> bool:
    """Whether ``token`` is nothing but placeholders and punctuation (``<ip>:<port>``, ``[<num>]``)."""
    return "<" in token and _ONLY_VARIABLES.fullmatch(token) is not None


def without_placeholders(template: str) -> str:
    """``template`` with every placeholder blanked: the words a search for its lines can use."""
    return PLACEHOLDER.sub(" ", template)


def as_wildcards(template: str) -> str:
    """``template`` with every named placeholder written ``<*>`` (the notation of log-parsing benchmarks)."""
    return PLACEHOLDER.sub(WILDCARD, template)
