"""What an operator asked, read deterministically: the kind of question, the window, an incident or change named.

The question is read from its words, the page it was asked on and the conversation before it. A follow-up ("and
before that?", "what about payments?", "why?") is read against the previous turn, which is itself read the same
way, so a chain of follow-ups resolves back to the question that started it. Services are not resolved here: the
kinds read them from :attr:`Question.wording` against the dependency graph (``copilot.planners.offline.scope``).

The rules are about how operators ask, never about a particular company: a question that fits none of them is
``unknown``, and its answer says so instead of answering another question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from copilot.answer import QuestionKind
from copilot.planners.offline.graph import ServiceGraph
from copilot.planners.offline.readings import read_findings
from copilot.planners.offline.scope import CHANGE_WORDS, STOPWORDS, name_parts, named_services
from copilot.planning import PlanContext

# Where the offline investigator keeps its memory in a run: the round it is in, and the question as it read it.
MEMORY_KEY = "offline"

# An incident id as trackers write them: letters, a dash, two or more digits ("INC-6013", not "sev-1"). Deployments
# and changes have ids of the same shape; one written right after a change word is the change's, not an incident's.
_ID = r"[A-Za-z]{2,10}-\d{2,8}"
INCIDENT_ID = re.compile(rf"\b(?<![\w.-])({_ID})\b")
# A change named: an id, a version or a commit after a change word ("deploy dep-17", "release 2.4.0"), or a version
# on its own ("v2.3.1").
CHANGE_REF = re.compile(
    rf"\b(?:deploy\w*|releas\w*|version|change|rollout|build|commit|sha)\s+(?:of\s+\S+\s+)?#?({_ID}|v?\d+(?:\.\d+)+\S*|[0-9a-f]{{7,40}})\b"
    r"|\b(v\d+(?:\.\d+)*[\w.-]*)\b",
    re.I,
)
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}
_UNITS = {"m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600, "hour": 3600, "d": 86400, "day": 86400}
LAST_SPAN = re.compile(
    r"\b(?:last|past|previous)\s+(\d+|an?|one|two|three|four|five|six|ten)?\s*"
    r"(m|mins?|minutes?|h|hrs?|hours?|d|days?)\b",
    re.I,
)
CLOCK = r"(\d{1,2}):(\d{2})"
SINCE_CLOCK = re.compile(rf"\b(?:since|after|from)\s+{CLOCK}", re.I)
UNTIL_CLOCK = re.compile(rf"\b(?:before|until|till|to)\s+{CLOCK}", re.I)
TODAY = re.compile(r"\btoday\b", re.I)
DEFAULT_SPAN = timedelta(hours=1)

# What each kind of question says, as operators say it. Checked in order: the first that matches decides.
_OWNERSHIP = re.compile(
    r"\bwho\b.*\b(own|owns|owned|owner|responsible|maintain\w*|on[- ]?call|page|call|contact|escalat\w*)\b"
    r"|\bon[- ]?call\b|\bowner(ship)?\b|\bwhich team\b|\bwhose\b|\brunbook\b|\bescalat\w*\b|\bpoint of contact\b"
    r"|\bpager\b|\bwho\s+(looks after|runs|handles|supports|is responsible)\b",
    re.I,
)
_HISTORY = re.compile(
    r"\b(happen\w*|seen|had|occurred)\b.{0,30}\b(before|previously|earlier)\b|\bbefore\b.{0,12}\bhappened\b"
    r"|\b(similar|past|previous|earlier|prior)\s+(incidents?|outages?|issues?|problems?|failures?)\b"
    r"|\b(recurr\w*|repeat\w*|history|last time|ever)\b|\blike (this|that)\b.{0,20}\bbefore\b"
    r"|\bwhen did\b.{0,40}\blast\b",
    re.I,
)
_LOGS = re.compile(
    r"\blog(s|ged|ging|lines?)?\b|\b(what|which|show|list|top)\b.{0,20}\b(errors?|exceptions?|messages?|warnings?)\b"
    r"(?!.*\bwhy\b)|\b(errors?|exceptions?|warnings?)\s+(of|from)\b"
    r"|\b(pull|grep|fetch|get|give me|most common|frequent|recent|latest)\b.{0,20}\b(errors|exceptions|warnings)\b",
    re.I,
)
_WHY = re.compile(
    r"\bwhy\b|\bhow come\b|\broot[- ]?cause\b|\bwhat('?s| is| was)\s+(wrong|causing|the cause|broken|the problem)\b"
    r"|\bwhat caused\b|\bwhat happened (to|with)\b|\bcause of\b|\bexplain\b|\bdiagnos\w*\b|\binvestigate\b"
    r"|\bwhat('?s| is)\s+(behind|making|driving|up with)\b|\bbehind (it|this|that|the)\b|\bto blame\b"
    r"|\b(dig|look) into\b|\bunderstand\b|\breason\b",
    re.I,
)
_SITUATION = re.compile(
    r"\bwhat('?s| is| are)\s+(going on|happening|up|on fire|broken)\b|\bgoing on\b|\bsituation\b|\boverview\b"
    r"|\bsitrep\b|\bsummary\b|\bsummari[sz]e\b|\bstatus\s+(report|update)\b|\bhow are things\b"
    # "How's prod?", "how are we doing?": how the whole of it is, an environment or "we" rather than a service.
    r"|\bhow('?s|\s+is|\s+are|\s+does)\s+(our\s+|the\s+)?(prod|production|staging|live|everything|things|we"
    r"|systems?|platform|site|infra\w*)\b"
    r"|\b(is|are)\s+(everything|anything|all|things)\b|\b(anything|something)\s+(wrong|broken|on fire|off|going)\b"
    r"|\bwhere are we\b|\bcatch me up\b|\bbig picture\b|\b(burning|on fire)\b|\b(should (i|we)|(i|we) should) know\b"
    r"|\bwhat('?s| is)\s+(currently\s+)?broken\b"
    r"|^\W*(status|health|state|overall)\W*$|\bany\s+(open\s+|active\s+|firing\s+|current\s+)?(incidents?|alerts?|problems?|issues?|outages?|fires?)\b|\bwhat needs\b|\bcurrent state\b",
    re.I,
)
_HEALTH = re.compile(
    r"\b(healthy|health|unhealthy|down|up|ok|okay|fine|degraded|working|alive|available|reachable|operational"
    r"|broken|status|state|doing|running|responding|serving)\b",
    re.I,
)
_SYMPTOM = re.compile(
    r"\b(fail\w*|errors?|erroring|slow\w*|sluggish|latency|timeouts?|timing out|5\d\ds?|broken|outage|crash\w*|wrong"
    r"|unavailable|refus\w*|down)\b",
    re.I,
)
# A follow-up: short, and leaning on what was said before.
_FOLLOW_WHY = re.compile(
    r"^\s*(and\s+)?(why|how come|what caused (it|that|this)|why (is|was) (it|that|this)\b.*)\W*$", re.I
)
_FOLLOW_EARLIER = re.compile(
    r"^\s*(and\s+|what\s+about\s+|how\s+about\s+)?(before that|earlier|even earlier|the hour before|prior to that)\W*$",
    re.I,
)
_FOLLOW_OTHER = re.compile(
    r"^\s*(and|what about|how about|same for|same question for|and for|what of|and what about)\b\s*(?P<rest>.*?)\W*$",
    re.I,
)
_WORDS = re.compile(r"[a-z]{2,}", re.I)
# The kinds whose answer is about particular services (the others are about everything, or nothing).
ABOUT_SERVICES = frozenset(QuestionKind) - {QuestionKind.SITUATION, QuestionKind.UNKNOWN}


@dataclass(frozen=True)
class Question:
    """A question as read: its kind, the words to read services from, the window, an incident or change named."""

    kind: QuestionKind
    wording: str
    since: datetime | None = None
    until: datetime | None = None
    incident_id: str | None = None
    change_ref: str | None = None
    follow_up: bool = False

    def window(self, now: datetime, span: timedelta = DEFAULT_SPAN) -> tuple[datetime, datetime]:
        """The window the question asks about: its own, or the ``span`` before its end (now by default)."""
        until = self.until or now
        return self.since or until - span, until

    def to_memory(self) -> dict[str, Any]:
        """As the run's memory keeps it (JSON)."""
        return {
            "kind": self.kind.value,
            "wording": self.wording,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "incident_id": self.incident_id,
            "change_ref": self.change_ref,
            "follow_up": self.follow_up,
        }

    @classmethod
    def from_memory(cls, data: dict[str, Any]) -> Question:
        """Read back what :meth:`to_memory` wrote."""
        return cls(
            kind=QuestionKind(data["kind"]),
            wording=str(data["wording"]),
            since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
            until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
            incident_id=data.get("incident_id"),
            change_ref=data.get("change_ref"),
            follow_up=bool(data.get("follow_up")),
        )


def incident_named(text: str) -> str | None:
    """An incident id written in ``text`` ("INC-6013"), not a change's id ("deploy dep-17")."""
    changes = {m.group(1).lower() for m in CHANGE_REF.finditer(text) if m.group(1)}
    return next((m.group(1) for m in INCIDENT_ID.finditer(text) if m.group(1).lower() not in changes), None)


def question_of(context: PlanContext) -> Question:
    """The run's question as the investigator read it once, after the context round (kept in the run's memory,
    so every later step, and a resumed run, sees the same reading)."""
    memory = context.memory.setdefault(MEMORY_KEY, {})
    if not isinstance(memory.get("question"), dict):
        memory["question"] = read_question(context, read_findings(context).graph).to_memory()
    return Question.from_memory(memory["question"])


def read_question(context: PlanContext, graph: ServiceGraph | None = None) -> Question:
    """The question of ``context`` as read from its text, page and conversation (``graph``, when the catalog has
    been read, tells a question that only names a service apart from one that says nothing readable)."""
    return _read(context.question, [turn.question for turn in context.conversation], context.now, graph)


def _read(text: str, earlier: list[str], now: datetime, graph: ServiceGraph | None) -> Question:
    previous = _read(earlier[-1], earlier[:-1], now, graph) if earlier else None
    if previous is not None:
        followed = _follow_up(text, previous, now)
        if followed is not None:
            return followed
    since, until = _window(text, now)
    kind = _kind(text, graph)
    wording = text.strip()
    if (
        previous is not None
        and graph is not None
        and kind in ABOUT_SERVICES
        and not named_services(text, graph)
    ):
        # "who owns it?": the service is the one talked about before.
        wording = f"{wording} ({previous.wording})"
    return Question(
        kind=kind,
        wording=wording,
        since=since,
        until=until,
        incident_id=incident_named(text),
        change_ref=_change_ref(text),
    )


def _kind(text: str, graph: ServiceGraph | None) -> QuestionKind:
    if _OWNERSHIP.search(text):
        return QuestionKind.OWNERSHIP
    if _HISTORY.search(text) and not _WHY.search(text):
        return QuestionKind.HISTORY
    if CHANGE_WORDS.search(text) or _change_ref(text):
        return QuestionKind.CHANGE_VERDICT
    if _LOGS.search(text) and not _WHY.search(text):
        return QuestionKind.LOG_SUMMARY
    if _WHY.search(text):
        return QuestionKind.WHY_FAILING
    names = named_services(text, graph) if graph is not None else []
    if _SITUATION.search(text):
        # "What's going on with payments?" asks how one service is doing.
        return QuestionKind.HEALTH if names else QuestionKind.SITUATION
    if re.match(r"^\s*(is|are|was|has|does|do|can|how('?s| is| are))\b", text, re.I) and (
        _HEALTH.search(text) or _SYMPTOM.search(text)
    ):
        return QuestionKind.HEALTH
    if _HEALTH.search(text) and names:
        return QuestionKind.HEALTH
    if _SYMPTOM.search(text):
        return QuestionKind.WHY_FAILING
    if names and graph is not None and _names_outright(text, names, graph):
        # Nothing but a service: how it is doing.
        return QuestionKind.HEALTH
    if incident_named(text):
        # Nothing but an incident: what is behind it.
        return QuestionKind.WHY_FAILING
    return QuestionKind.UNKNOWN


def _follow_up(text: str, previous: Question, now: datetime) -> Question | None:
    """``text`` read against the previous turn, or None when it stands on its own."""
    if _FOLLOW_WHY.match(text):
        return replace(
            previous,
            kind=QuestionKind.WHY_FAILING,
            wording=f"{text.strip()} ({previous.wording})",
            follow_up=True,
        )
    if _FOLLOW_EARLIER.match(text):
        start, end = previous.window(now)
        return replace(previous, since=start - (end - start), until=start, follow_up=True)
    other = _FOLLOW_OTHER.match(text)
    rest = other.group("rest") if other is not None else ""
    if rest and _is_bare(rest):
        since, until = _window(rest, now)
        return replace(
            previous,
            wording=rest.strip(),
            since=since or previous.since,
            until=until or previous.until,
            incident_id=incident_named(rest) or previous.incident_id,
            change_ref=_change_ref(rest) or previous.change_ref,
            follow_up=True,
        )
    return None


def _names_outright(text: str, names: list[str], graph: ServiceGraph) -> bool:
    """Whether ``text`` writes one of the services ``names`` whole ("order-events"), or says nothing but parts of
    their names ("payments?"): a word that only happens to be part of a name ("order me a pizza") asks nothing."""
    nodes = [graph.nodes[name] for name in names]
    lowered = text.lower()
    if any(reference.lower() in lowered for node in nodes for reference in (node.name, *node.aliases)):
        return True
    parts = {part for node in nodes for part in name_parts(node)}
    return {word.lower() for word in _WORDS.findall(text)} <= parts | STOPWORDS


def _is_bare(text: str) -> bool:
    """Whether ``text`` only names something (a service, "payments"), asking nothing of its own."""
    return not any(
        pattern.search(text)
        for pattern in (_OWNERSHIP, _HISTORY, _LOGS, _WHY, _SITUATION, CHANGE_WORDS, _SYMPTOM)
    ) and bool(_WORDS.search(text))


def _change_ref(text: str) -> str | None:
    match = CHANGE_REF.search(text)
    return (match.group(1) or match.group(2)) if match else None


def _window(text: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The window ``text`` names: "last 2 hours", "since 14:00", "before 14:30", "today"."""
    since: datetime | None = None
    until: datetime | None = None
    span = LAST_SPAN.search(text)
    if span is not None:
        count = _NUMBER_WORDS.get((span.group(1) or "1").lower()) or int(span.group(1) or 1)
        unit = span.group(2).lower().rstrip("s")
        seconds = _UNITS.get(unit) or _UNITS.get(unit[:3]) or _UNITS[unit[0]]
        since = now - timedelta(seconds=count * seconds)
    start = SINCE_CLOCK.search(text)
    if start is not None:
        since = _clock(now, start)
    end = UNTIL_CLOCK.search(text)
    if end is not None:
        until = _clock(now, end)
    if since is None and TODAY.search(text):
        since = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return since, until


def _clock(now: datetime, match: re.Match[str]) -> datetime:
    """The latest moment at or before ``now`` that the clock time reads (UTC): "14:00" said at 13:00 is yesterday."""
    at = now.replace(hour=int(match.group(1)) % 24, minute=int(match.group(2)) % 60, second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=1)
