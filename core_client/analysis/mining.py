"""Grouping log lines into templates: Drain (drain3's prefix tree) over masked lines, then a consolidation pass.

Online, a line joins the most similar template of its length that shares its first token, if similar enough.
Similarity counts only positions where the template or the line holds a literal: two variables say nothing about
whether two lines are the same event, so masked variables can never outvote a differing literal. A token compares
by its literal part (``rhost=<ip>`` and ``rhost=`` agree: a value may be empty). A first token that looks like a
value (a placeholder, a dotted, slashed or ``key=value`` name) does not route, so an event is not split on it.

Once every line is in, consolidation fixes what one pass cannot see:

- siblings: templates identical but for one literal position, with at least ``siblings`` distinct values there,
  are one event with a variable there (a user name, a program name; two or three values are states, kept apart);
- subsumption: a template that is an instance of a more general one (typically an event's first line, mined
  before anything showed which of its words vary) joins the general one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from drain3.drain import Drain, LogCluster

from core_client.analysis.variables import PLACEHOLDER, WILDCARD, LineMasker, is_variable

# What makes a token unfit to route on: a placeholder, or a dot, slash, backslash, @ or = inside it.
_VALUE_LIKE = re.compile(PLACEHOLDER.pattern + r"|[./\\@=](?!$)")
# Kinds that merge into a wider one when one event shows both in the same place.
_WIDER_KIND = {
    frozenset(("<ip>", "<host>")): "<host>",
    frozenset(("<num>", "<hex>")): "<hex>",
}
# The most digits a ``<*>`` every line spells alike may hold to be shown as spelt.
_DIGITS_IN_A_NAME = 3
# Distinct line shapes remembered per miner (a repeated shape skips the search).
_SHAPE_MEMORY = 100_000


@dataclass(frozen=True)
class MinerConfig:
    """The miner's parameters. The defaults are chosen on the Loghub folds (``benchmarks/patterns.py --folds``).

    - ``similarity``: the share of literal positions a line must agree on to join a template online;
    - ``depth``: Drain's tree depth (``depth - 2`` leading tokens route a line);
    - ``siblings``: how many distinct values one position needs, among otherwise identical templates, to be a
      variable (0: never merge siblings);
    - ``offline_similarity``: the share of literal positions two templates must share to be merged after mining,
      as siblings or as an instance of a general template (so ``cupsd started`` and ``sshd started`` stay apart);
    - ``max_children``: the most children of one tree node (then tokens route to the wildcard child).
    """

    similarity: float = 0.95
    depth: int = 4
    siblings: int = 4
    offline_similarity: float = 0.7
    max_children: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.similarity <= 1 or not 0 <= self.offline_similarity <= 1:
            raise ValueError("similarity and offline_similarity are shares between 0 and 1")
        if self.depth < 3 or self.siblings < 0 or self.max_children < 2:
            raise ValueError("depth must be at least 3, siblings at least 0, max_children at least 2")


# A token as the miner compares it: its literal part, whether it is nothing but variables, how it routes.
_Described = tuple[str, bool, str]


class _Event(LogCluster):
    """A template (drain3's cluster) with each token described once, and what its lines' ``<*>`` tokens said.

    ``words`` are the first line's words; ``varied`` the positions of a ``<*>`` token where a later line said
    something else. A ``<*>`` (a run with a digit no mask names) that every line spells the same way, with at most
    three digits, is shown as spelt: ``ssh2``, ``jk2_init()``, ``wl0`` read better than ``<*>``.
    """

    __slots__ = ("_unknown", "described", "varied", "words")

    def __init__(self, tokens: Sequence[str], described: tuple[_Described, ...], event_id: int) -> None:
        super().__init__(list(tokens), event_id)
        self.described = described
        self.words: tuple[str, ...] | None = None
        self.varied: set[int] = set()
        self._unknown: tuple[tuple[str, ...], tuple[int, ...]] = ((), ())

    def unknown_positions(self) -> tuple[int, ...]:
        """Where the template holds ``<*>``."""
        template = self.log_template_tokens
        if self._unknown[0] is not template:
            self._unknown = (template, tuple(i for i, token in enumerate(template) if WILDCARD in token))
        return self._unknown[1]

    def observe(self, words: tuple[str, ...] | None) -> None:
        """Note one more line's words (None when they do not line up with its tokens)."""
        if self.words is None:
            self.words = words
            if words is None:
                self.varied.update(range(len(self.log_template_tokens)))
            return
        if words is None:
            self.varied.update(range(len(words or self.log_template_tokens)))
            return
        first, varied = self.words, self.varied
        for position in self.unknown_positions():
            if position not in varied and words[position] != first[position]:
                varied.add(position)


class _EventDrain(Drain):
    """drain3's Drain with the similarity, routing and template merge described in the module docstring."""

    def __init__(self, config: MinerConfig) -> None:
        super().__init__(
            sim_th=config.similarity,
            depth=config.depth,
            max_children=config.max_children,
            param_str=WILDCARD,
            parametrize_numeric_tokens=False,
        )
        self._known: dict[str, _Described] = {}
        self._shapes: dict[tuple[str, ...], _Event] = {}

    def describe(self, tokens: Sequence[str]) -> tuple[_Described, ...]:
        known = self._known
        described = []
        for token in tokens:
            found = known.get(token)
            if found is None:
                variable = "<" in token and is_variable(token)
                literal = _literal_part(token, variable) if "<" in token else token
                route = WILDCARD if variable or _VALUE_LIKE.search(token) else token
                found = known[token] = (literal, variable, route)
            described.append(found)
        return tuple(described)

    def add(self, tokens: list[str], words: tuple[str, ...] | None) -> _Event:
        """The event ``tokens`` (a masked line whose words are ``words``) joins, created when none is similar."""
        event = self._match(tokens)
        event.observe(words)
        return event

    def _match(self, tokens: list[str]) -> _Event:
        shape = tuple(tokens)
        event = self._shapes.get(shape)
        if event is not None:
            event.size += 1
            return event
        described = self.describe(tokens)
        best: _Event | None = None
        best_similarity = -1.0
        best_variables = -1
        for event_id in self._candidates(described):
            candidate = self.id_to_cluster[event_id]
            similarity, variables = self.similarity(candidate.described, described)
            if similarity > best_similarity or (similarity == best_similarity and variables > best_variables):
                best, best_similarity, best_variables = candidate, similarity, variables
        if best is None or best_similarity < self.sim_th:
            self.clusters_counter += 1
            best = _Event(tokens, described, self.clusters_counter)
            self.id_to_cluster[best.cluster_id] = best
            routes = [route for _, _, route in described]
            self.add_seq_to_prefix_tree(self.root_node, LogCluster(routes, best.cluster_id))
        else:
            self.absorb(best, tokens, described)
            best.size += 1
        if len(self._shapes) < _SHAPE_MEMORY:
            self._shapes[shape] = best
        return best

    def absorb(self, event: _Event, tokens: Sequence[str], described: Sequence[_Described]) -> None:
        """Generalise ``event``'s template to cover ``tokens``: a differing literal becomes a variable."""
        template = event.log_template_tokens
        merged = []
        changed = False
        for token, (literal, _, _), other, (other_literal, _, _) in zip(
            template, event.described, tokens, described, strict=True
        ):
            if token == other:
                merged.append(token)
                continue
            merged.append(_wider(token, other) if literal == other_literal else WILDCARD)
            changed = changed or merged[-1] != token
        if changed:
            event.log_template_tokens = tuple(merged)
            event.described = self.describe(merged)

    def similarity(self, template: Sequence[_Described], line: Sequence[_Described]) -> tuple[float, int]:
        """The share of literal positions where ``line`` agrees with ``template``, and the template's variables.

        A position where both hold a variable does not count; a template variable facing a literal counts as a
        disagreement (Drain's rule). With no agreement at all the similarity is 0 whatever the variables say.
        """
        counted = agreed = variables = 0
        for (literal, variable, _), (other_literal, other_variable, _) in zip(template, line, strict=True):
            if variable:
                variables += 1
                if other_variable:
                    continue
            counted += 1
            if literal == other_literal:
                agreed += 1
        if not counted:
            return 1.0, variables
        return agreed / counted, variables

    def _candidates(self, described: Sequence[_Described]) -> list[int]:
        """Events reachable by the line's routing tokens, trying the exact token and the wildcard at each level."""
        node = self.root_node.key_to_child_node.get(str(len(described)))
        if node is None:
            return []
        frontier = [node]
        # Drain's rule: the first min(max_node_depth, length) - 1 tokens route.
        for _, _, route in described[: min(self.max_node_depth, len(described)) - 1]:
            following = []
            for parent in frontier:
                children = parent.key_to_child_node
                if route != WILDCARD and (child := children.get(route)) is not None:
                    following.append(child)
                if (child := children.get(WILDCARD)) is not None:
                    following.append(child)
            frontier = following
        return [event_id for leaf in frontier for event_id in leaf.cluster_ids]


def _spelling(event: _Event, position: int) -> str | None:
    """How every line of ``event`` spells the token at ``position``, or None when they differ or nobody knows."""
    token = event.log_template_tokens[position]
    if "<" not in token:
        return token
    if event.words is None or position in event.varied or WILDCARD not in token or token.count("<") > 1:
        return None
    word = event.words[position]
    # A name with a digit or three (ssh2, wl0, sha256) is shown; a longer number is an id that stayed put.
    return word if sum(char.isdigit() for char in word) <= _DIGITS_IN_A_NAME else None


def _literal_part(token: str, variable: bool) -> str:
    """What of ``token`` a line must repeat to agree with it: its words, or around a variable token its brackets.

    ``rhost=<ip>`` agrees with ``rhost=``, and ``(<host>:<port>)`` with ``()``: a value may be empty.
    """
    if not variable:
        return PLACEHOLDER.sub("", token)
    inner = PLACEHOLDER.split(token)
    return inner[0] + inner[-1]


def _wider(token: str, other: str) -> str:
    """One token for two with the same literal part: each placeholder the kind both share, or a wider one."""
    mine, theirs = PLACEHOLDER.findall(token), PLACEHOLDER.findall(other)
    if len(mine) != len(theirs):
        return token if len(mine) > len(theirs) else other
    parts = PLACEHOLDER.split(token)
    out = [parts[0]]
    for kind, other_kind, rest in zip(mine, theirs, parts[1:], strict=True):
        joined = kind if kind == other_kind else _WIDER_KIND.get(frozenset((kind, other_kind)), WILDCARD)
        out.append(joined + rest)
    return "".join(out)


@dataclass(frozen=True)
class MinedPatterns:
    """Templates found, and for each line added (in order) the index of its template."""

    templates: list[str]
    of_line: list[int]


class PatternMiner:
    """Drain over masked lines: add messages, then read the patterns.

    One configuration serves every log source; see the module docstring for what it does and
    ``benchmarks/patterns.py`` for how well it holds on systems it was not tuned on.
    """

    def __init__(self, config: MinerConfig | None = None) -> None:
        self._config = config or MinerConfig()
        self._drain = _EventDrain(self._config)
        self._masker = LineMasker()
        self._events: list[int] = []

    def add(self, message: str) -> None:
        """Add one line's message."""
        tokens = self._masker.mask(message)
        words = tuple(message.split())
        event = self._drain.add(tokens, words if len(words) == len(tokens) else None)
        self._events.append(event.cluster_id)

    def patterns(self) -> MinedPatterns:
        """The templates of every line added so far, after consolidation (the miner keeps mining after it)."""
        templates = _Consolidation(self._drain, self._config).templates()
        # Events consolidated into one template, or ending with the same template, are one pattern.
        index: dict[str, int] = {}
        of_event = {
            event_id: index.setdefault(template, len(index)) for event_id, template in templates.items()
        }
        return MinedPatterns(templates=list(index), of_line=[of_event[e] for e in self._events])


class _Consolidation:
    """Siblings merged, then instances subsumed, as a union of the miner's events (which stay untouched)."""

    def __init__(self, drain: _EventDrain, config: MinerConfig) -> None:
        self._drain = drain
        self._parent: dict[int, int] = {}
        self._merged: dict[int, _Event] = {}
        self._events: dict[int, _Event] = drain.id_to_cluster
        for event_id, event in drain.id_to_cluster.items():
            copy = _Event(event.log_template_tokens, event.described, event_id)
            copy.size = event.size
            self._merged[event_id] = copy
            self._parent[event_id] = event_id
        if config.siblings:
            self._merge_siblings(config.siblings, config.offline_similarity)
        self._subsume(config.offline_similarity)

    def templates(self) -> dict[int, str]:
        """Each event's template after consolidation, ``<*>`` tokens every line spelt alike shown as spelt."""
        members: dict[int, list[_Event]] = {}
        for event_id, event in self._events.items():
            members.setdefault(self._root(event_id), []).append(event)
        shown = {root: self._shown(self._merged[root], events) for root, events in members.items()}
        return {event_id: shown[self._root(event_id)] for event_id in self._events}

    @staticmethod
    def _shown(merged: _Event, members: list[_Event]) -> str:
        tokens = list(merged.log_template_tokens)
        if sum(member.size for member in members) > 1:
            for position in merged.unknown_positions():
                spelt = {_spelling(member, position) for member in members}
                if len(spelt) == 1 and (word := spelt.pop()) is not None:
                    tokens[position] = word
        return " ".join(tokens)

    def _root(self, event_id: int) -> int:
        parent = self._parent
        while parent[event_id] != event_id:
            parent[event_id] = parent[parent[event_id]]
            event_id = parent[event_id]
        return event_id

    def _roots(self) -> list[_Event]:
        return [event for event_id, event in self._merged.items() if self._root(event_id) == event_id]

    def _union(self, into: int, other: int) -> int:
        into, other = self._root(into), self._root(other)
        if into == other:
            return into
        if self._merged[other].size > self._merged[into].size:
            into, other = other, into
        self._parent[other] = into
        kept, gone = self._merged[into], self._merged[other]
        self._drain.absorb(kept, gone.log_template_tokens, gone.described)
        kept.size += gone.size
        return into

    def _merge_siblings(self, siblings: int, similarity: float) -> None:
        changed = True
        while changed:
            changed = False
            families: dict[tuple[int, tuple[str, ...], tuple[str, ...]], list[int]] = {}
            for event in self._roots():
                literals = [literal for literal, variable, _ in event.described if not variable]
                if not literals or (len(literals) - 1) / len(literals) < similarity:
                    continue
                keys = [literal for literal, _, _ in event.described]
                for position, (_, variable, _) in enumerate(event.described):
                    if not variable:
                        family = (position, tuple(keys[:position]), tuple(keys[position + 1 :]))
                        families.setdefault(family, []).append(event.cluster_id)
            for members in families.values():
                alive = {self._root(member) for member in members}
                if len(alive) >= siblings:
                    first, *rest = sorted(alive)
                    for other in rest:
                        first = self._union(first, other)
                    changed = True

    def _subsume(self, similarity: float) -> None:
        by_length: dict[int, list[_Event]] = {}
        for event in self._roots():
            by_length.setdefault(len(event.described), []).append(event)
        for events in by_length.values():
            general = [e for e in events if any(variable for _, variable, _ in e.described)]
            for instance in sorted(events, key=lambda e: (e.size, e.cluster_id)):
                literals = sum(not variable for _, variable, _ in instance.described)
                best: _Event | None = None
                best_shared = 0
                for candidate in general:
                    if candidate is instance or self._root(candidate.cluster_id) != candidate.cluster_id:
                        continue
                    shared = _shared_literals(candidate, instance)
                    if shared is None or shared < similarity * literals:
                        continue
                    if best is None or (shared, candidate.size) > (best_shared, best.size):
                        best, best_shared = candidate, shared
                if best is not None:
                    self._parent[instance.cluster_id] = best.cluster_id
                    best.size += instance.size


def _shared_literals(general: _Event, instance: _Event) -> int | None:
    """How many literals ``general`` shares with ``instance``, or None unless ``instance`` is an instance of it.

    It is when each literal of ``general`` is ``instance``'s too, and each literal ``instance`` holds where
    ``general`` has a variable faces ``<*>``, a variable seen taking different words (a named one, ``<num>`` say,
    never held a word).
    """
    shared = 0
    for token, (literal, variable, _), (other_literal, other_variable, _) in zip(
        general.log_template_tokens, general.described, instance.described, strict=True
    ):
        if variable:
            if not other_variable and token != WILDCARD:
                return None
            continue
        if other_variable or literal != other_literal:
            return None
        shared += 1
    return shared
