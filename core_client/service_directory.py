"""One identity per service, whatever a record calls it: its id, its name or one of its aliases.

Systems disagree on how they name a service. An OpsOrch Core's incidents, alerts, deployments and metric labels
say ``svc-checkout`` (the catalog's id) while people and the catalog's ``name`` say "Checkout API"; another
provider may use the name everywhere. Every page, the health grid, the dependency view and the Copilot's graph
go through :class:`ServiceDirectory` so that all of these land on the same service.

A service's **key** is its catalog id: stable, unique, and what references most often carry. Its **label** is its
name. A reference the catalog does not know (a service outside it, a typo) stays itself: its key and its label
are the reference as given, so nothing is dropped or merged by guesswork.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from core_client.schemas import Service


def _folded(reference: str) -> str:
    return " ".join(reference.split()).casefold()


class ServiceDirectory:
    """The catalog's services, found by any reference. Exact matches win over case-insensitive ones, and an id
    wins over a name, which wins over an alias, so one string never resolves to two services."""

    def __init__(self, services: Iterable[Service]) -> None:
        self.services: list[Service] = sorted(services, key=lambda s: (_folded(s.name or s.id), s.id))
        self._exact: dict[str, Service] = {}
        self._folded: dict[str, Service] = {}
        # Ids first, then names, then aliases: setdefault keeps the stronger claim on a shared string.
        for rank in range(3):
            for service in self.services:
                references = [service.id] if rank == 0 else [service.name] if rank == 1 else service.aliases
                for reference in references:
                    if reference:
                        self._exact.setdefault(reference, service)
                        self._folded.setdefault(_folded(reference), service)

    def find(self, reference: str | None) -> Service | None:
        """The service ``reference`` names (by id, name or alias, in any letter case), or None."""
        if not reference:
            return None
        return self._exact.get(reference) or self._folded.get(_folded(reference))

    def key(self, reference: str) -> str:
        """The canonical reference: the service's id, or ``reference`` itself when the catalog has no such service."""
        service = self.find(reference)
        return service.id if service is not None else reference

    def label(self, reference: str) -> str:
        """What to show a person: the service's name, or ``reference`` itself when the catalog has no such service."""
        service = self.find(reference)
        return (service.name or service.id) if service is not None else reference

    def same(self, first: str | None, second: str | None) -> bool:
        """Whether two references name the same service."""
        if not first or not second:
            return False
        return self.key(first) == self.key(second)

    def dependencies(self, reference: str) -> list[str]:
        """The keys of the services ``reference`` calls, in the catalog's order, once each."""
        service = self.find(reference)
        if service is None:
            return []
        return list(dict.fromkeys(self.key(dependency) for dependency in service.dependencies))

    def dependents(self, reference: str) -> list[str]:
        """The keys of the services that call ``reference`` directly, by label."""
        target = self.key(reference)
        return [
            service.id
            for service in self.services
            if service.id != target and target in self.dependencies(service.id)
        ]

    def count(self, references: Iterable[str | None]) -> Counter[str]:
        """How often each service is referenced, by key (records without a service are not counted)."""
        return Counter(self.key(reference) for reference in references if reference)

    def keys(self) -> list[str]:
        """Every service's key, by label."""
        return [service.id for service in self.services]
