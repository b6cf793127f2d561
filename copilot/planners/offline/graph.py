"""The service graph as the catalog tool returns it: who calls whom, each service's host, kind and description.

Nodes are keyed by each service's canonical reference (its catalog id, see
:class:`core_client.service_directory.ServiceDirectory`), and dependencies are resolved to those keys, so a
catalog that lists dependencies by id and one that lists them by name give the same graph. :meth:`ServiceGraph.key`
turns any reference a record carries (id, name or alias) into that key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core_client.schemas import Service
from core_client.service_directory import ServiceDirectory


@dataclass(frozen=True)
class ServiceNode:
    """One service of the catalog, with what the investigation needs of it."""

    name: str
    dependencies: tuple[str, ...] = ()
    kind: str = ""
    tier: int | None = None
    description: str = ""
    hosts: tuple[str, ...] = ()
    # What people call it ("Checkout API") and every other reference to it (id, aliases), for matching questions.
    label: str = ""
    aliases: tuple[str, ...] = ()
    # The team that owns it, as the catalog says (its owner, or a ``team`` tag or metadata entry).
    team: str = ""

    @property
    def external(self) -> bool:
        """A third party: we see its effect on callers, not its insides."""
        return self.kind in ("external", "saas", "third-party", "third_party")


@dataclass
class ServiceGraph:
    """Services by key; ``dependencies`` are the keys of the services a service calls."""

    nodes: dict[str, ServiceNode] = field(default_factory=dict)
    directory: ServiceDirectory = field(default_factory=lambda: ServiceDirectory([]))

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> ServiceGraph:
        """The graph of the ``query_services``/``get_service`` rows that parse as services."""
        services: list[Service] = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            try:
                services.append(Service.model_validate(row))
            except ValueError:
                continue
        directory = ServiceDirectory(services)
        graph = cls(directory=directory)
        for service in directory.services:
            metadata = service.metadata
            listed = service.dependencies or [str(d) for d in metadata.get("dependencies", [])]
            hosts = [str(metadata[key]) for key in ("host", "hostname") if metadata.get(key)]
            tier = service.tier_rank if service.tier_rank is not None else _int(service.tags.get("tier"))
            graph.nodes[service.id] = ServiceNode(
                name=service.id,
                dependencies=tuple(dict.fromkeys(directory.key(d) for d in listed)),
                kind=str(service.tags.get("kind") or metadata.get("kind") or ""),
                tier=tier,
                description=str(metadata.get("description") or ""),
                hosts=tuple(hosts),
                label=service.name or service.id,
                aliases=tuple(service.references),
                team=str(service.owner_team or service.tags.get("team") or metadata.get("team") or ""),
            )
        return graph

    def key(self, reference: str) -> str:
        """The node key for any reference to a service (id, name or alias); unknown references stay as given."""
        return self.directory.key(reference)

    def label(self, key: str) -> str:
        """What people call the service: its catalog name ("Checkout API" for ``svc-checkout``), else ``key``."""
        return self.directory.label(key)

    def dependencies_of(self, name: str) -> tuple[str, ...]:
        node = self.nodes.get(name)
        return node.dependencies if node else ()

    def downstream(self, name: str) -> set[str]:
        """Every service ``name`` calls, directly or through others (itself excluded)."""
        seen: set[str] = set()
        frontier = list(self.dependencies_of(name))
        while frontier:
            current = frontier.pop()
            if current in seen or current == name:
                continue
            seen.add(current)
            frontier.extend(self.dependencies_of(current))
        return seen

    def reaches(self, caller: str, service: str) -> bool:
        """Whether ``caller`` is ``service`` or depends on it, directly or not."""
        return caller == service or service in self.downstream(caller)

    def path(self, caller: str, service: str) -> list[str]:
        """The shortest chain of calls from ``caller`` to ``service`` (both included), or [] when none."""
        routes: dict[str, list[str]] = {caller: [caller]}
        frontier = [caller]
        while frontier:
            following: list[str] = []
            for current in frontier:
                for dependency in self.dependencies_of(current):
                    if dependency not in routes:
                        routes[dependency] = [*routes[current], dependency]
                        following.append(dependency)
            frontier = following
        return routes.get(service, [])

    def mentioned_in(self, text: str) -> set[str]:
        """Services a log line or template names, by host or by name."""
        lowered = text.lower()
        return {
            node.name
            for node in self.nodes.values()
            if any(ref.lower() in lowered for ref in (node.name, *node.aliases, *node.hosts))
        }


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
