"""What a question is about: the services it names (in the catalog's own words) and whether it asks about changes.

Nothing here knows a particular company: a service is named by the words of its name ("checkout" for
``checkout-api``) or of its catalog description ("shop" for a service described as "the public web shop"), and a
few everyday words are read as the catalog words operators mean by them ("logins" as accounts, "card" as payment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from copilot.planners.offline.graph import ServiceGraph, ServiceNode

# Parts of service names that say what a service is, not which one it is.
GENERIC_NAME_PARTS = frozenset({"api", "svc", "service", "server", "app", "main", "worker", "web", "prod"})
# Words of questions that name no service (operators' and English function words).
STOPWORDS = frozenset(
    word
    for line in (
        "a an and are at be been but by can cannot can't do does for from had has have how i in is it its of on",
        "or our so some that the their them there these this to was we were what when where which who why will",
        "with my many much all any whole very customer customers user users people client clients error errors",
        "fail failing failed fails failure failures slow slower slowly broken request requests returning showing",
        "seeing see reach intermittently suddenly again still now today issue issues problem problems service",
        "services system public hot keys changed change before after then",
    )
    for word in line.split()
)
# Everyday words for what a service does, as the catalog tends to say it.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "login": ("account",),
    "log-in": ("account",),
    "signin": ("account",),
    "sign-in": ("account",),
    "signup": ("account",),
    "password": ("account",),
    "pay": ("payment",),
    "paying": ("payment",),
    "card": ("payment",),
    "charge": ("payment",),
    "price": ("product",),
    "item": ("product",),
    "site": ("shop",),
    "website": ("shop",),
    "store": ("shop",),
    "homepage": ("shop",),
    "purchase": ("order",),
    "stock": ("inventory",),
    "email": ("notification",),
    "shipping": ("ship",),
    "delivery": ("ship",),
    "database": ("postgres", "database"),
    "db": ("postgres", "database"),
}
CHANGE_WORDS = re.compile(
    r"\b(chang\w*|deploy\w*|releas\w*|roll(ed)?[ -]?out\w*|roll(ed)?[ -]?back\w*|config\w*|ship(ped)?|flags?"
    r"|(new|latest|previous|last)\s+(\S+\s+)?version|upgrad\w*)\b",
    re.I,
)
NAME_MATCH, SYNONYM_NAME_MATCH, DESCRIPTION_MATCH = 3, 2, 1


def stem(word: str) -> str:
    """A word without case, possessive or plural ending: ``Logins`` and ``login's`` both give ``login``."""
    word = word.lower().removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The stemmed words of ``text`` that could name something (stopwords dropped); a hyphenated word also
    gives its parts, as service names are split (``edge-host`` names the service ``edge-host``)."""
    found = []
    for word in re.findall(r"[a-z][a-z'-]*", text.lower()):
        parts = [p for p in word.split("-") if p] if "-" in word else []
        found += [w for w in (word, *parts) if w not in STOPWORDS]
    return [stem(w) for w in found]


@dataclass(frozen=True)
class Scope:
    """The services a question names, best first, and whether it asks what changed."""

    named: tuple[str, ...] = ()
    asks_about_changes: bool = False


def named_services(question: str, graph: ServiceGraph) -> list[str]:
    """The services ``question`` names, strongest mention first (ties: lower tier, then name).

    A service named by a word of its own name beats one only its description mentions; description matches count
    only when no service is named outright; a word written exactly as a part of some service's name leaves out the
    services it only shares a stem with.
    """
    mentions = _mentions(question, graph)
    by_name = {name: m for name, m in mentions.items() if m[0]}
    # A word written as a service's own name part ("orders" of orders-api) names it, not a service that only
    # shares its stem ("order" of order-events).
    exact = {name: m for name, m in by_name.items() if m[2]}
    chosen = exact or by_name or mentions
    return sorted(chosen, key=lambda name: (-sum(chosen[name]), graph.nodes[name].tier or 99, name))


def read_scope(question: str, graph: ServiceGraph) -> Scope:
    """What ``question`` is about, in terms of ``graph``."""
    return Scope(
        named=tuple(named_services(question, graph)),
        asks_about_changes=CHANGE_WORDS.search(question) is not None,
    )


def name_parts(node: ServiceNode) -> set[str]:
    """The words of every name a service goes by (an id "svc-checkout", a name "Checkout API", an alias),
    lowercased."""
    return {
        part.lower()
        for reference in (node.name, *node.aliases)
        for part in re.split(r"[-_.\s]+", reference)
        if part
    }


def _mentions(question: str, graph: ServiceGraph) -> dict[str, tuple[int, int, int]]:
    """Per service: how strongly the question names it by its name and by its description, and how many of its
    name's parts the question writes exactly as the name does."""
    asked = words(question)
    written = {w for w in re.findall(r"[a-z0-9]+", question.lower()) if w not in STOPWORDS}
    meant = [(w, False) for w in asked] + [(stem(s), True) for w in asked for s in SYNONYMS.get(w, ())]
    found: dict[str, tuple[int, int, int]] = {}
    for node in graph.nodes.values():
        own = name_parts(node) - GENERIC_NAME_PARTS
        stems = {stem(part) for part in own}
        exact = len(written & own)
        described = set(words(node.description))
        by_name = sum(
            SYNONYM_NAME_MATCH if synonym else NAME_MATCH for word, synonym in meant if word in stems
        )
        by_description = sum(DESCRIPTION_MATCH for word, _ in meant if word in described)
        if by_name or by_description:
            found[node.name] = (by_name, by_description, exact if by_name else 0)
    return found
