"""The ``alertmanager`` alert provider: AlertQuery through Alertmanager's API v2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote as url_quote

from pydantic import Field

from adapters.alertmanager.mapping import (
    SOURCE,
    Silence,
    matches_text,
    to_alert,
    to_silence,
    wanted_statuses,
)
from adapters.prometheus.connection import ScopeLabels, ServerConnection
from adapters.prometheus.promql import quote
from core_client.clock import Clock
from core_client.errors import NotFound, ProviderUnavailable
from core_client.schemas import Alert, AlertQuery, Page, ProviderHealth, offset_page


class AlertmanagerConfig(ServerConnection):
    """``OPSORCH_ALERT_CONFIG`` for ``alertmanager``."""

    scope_labels: ScopeLabels = Field(default_factory=ScopeLabels)
    severity_label: str = "severity"


class AlertmanagerAlerts:
    """Reads alerts and silences from one Alertmanager."""

    def __init__(self, config: AlertmanagerConfig, *, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._http = config.rest_client(source=SOURCE)

    async def _list(self, path: str, params: Any = None) -> list[Mapping[str, Any]]:
        body = (await self._http.read("GET", path, params=params)).json()
        if not isinstance(body, list):
            raise ProviderUnavailable(f"GET {path} did not return a list: {str(body)[:200]}", source=SOURCE)
        return body

    async def _alerts(self, query: AlertQuery) -> list[Alert]:
        # Scope is exact label equality, which Alertmanager filters itself; everything else is filtered here,
        # because statuses and free text have no server-side equivalent.
        scope = self.config.scope_labels.matchers(query.scope, source=SOURCE)
        params = [("filter", f"{label}={quote(value)}") for label, value in scope.items()]
        documents = await self._list("/api/v2/alerts", params)
        now = self._clock.now()
        alerts = [
            to_alert(
                doc,
                now=now,
                severity_label=self.config.severity_label,
                service_label=self.config.scope_labels.service,
                fallback_url=self._alert_link(doc),
            )
            for doc in documents
        ]
        statuses = wanted_statuses(query.statuses)
        severities = {s.casefold() for s in query.severities}
        selected = [
            alert
            for alert in alerts
            if (statuses is None or alert.status in statuses)
            and (not severities or alert.severity.casefold() in severities)
            and (not query.query or matches_text(alert, query.query))
        ]
        # Newest first, then by fingerprint: a stable order for offset cursors.
        selected.sort(key=lambda a: a.id)
        selected.sort(key=lambda a: a.created_at.timestamp() if a.created_at else 0.0, reverse=True)
        return selected

    async def query(self, query: AlertQuery, *, cursor: str | None = None) -> Page[Alert]:
        """Alerts Alertmanager holds (resolved ones leave it), filtered, newest first, ``limit`` per page."""
        return offset_page(await self._alerts(query), cursor=cursor, limit=query.limit, source=SOURCE)

    async def get(self, alert_id: str) -> Alert:
        """The alert with this fingerprint; ``NotFound`` when Alertmanager no longer holds it."""
        for alert in await self._alerts(AlertQuery()):
            if alert.id == alert_id:
                return alert
        raise NotFound(f"no alert with fingerprint {alert_id!r}", source=SOURCE)

    async def silences(self, *, states: list[str] | None = None) -> list[Silence]:
        """Silences, newest first; ``states`` keeps only those ``active``, ``pending`` or ``expired``."""
        documents = await self._list("/api/v2/silences")
        silences = [to_silence(doc, link_base=self.config.link_base) for doc in documents]
        if states:
            silences = [s for s in silences if s.status in states]
        silences.sort(key=lambda s: s.id)
        silences.sort(key=lambda s: s.starts_at.timestamp() if s.starts_at else 0.0, reverse=True)
        return silences

    def _alert_link(self, document: Mapping[str, Any]) -> str:
        labels = document.get("labels") or {}
        matchers = ",".join(f"{k}={quote(str(v))}" for k, v in sorted(labels.items()))
        return f"{self.config.link_base}/#/alerts?filter={url_quote('{' + matchers + '}')}"

    async def health(self) -> ProviderHealth:
        """Alertmanager's status: its version and its cluster's state."""
        try:
            response = await self._http.read("GET", "/api/v2/status")
        except ProviderUnavailable as exc:
            return ProviderHealth(capability="alert", provider=SOURCE, status="down", message=exc.message)
        body = response.json()
        version = (body.get("versionInfo") or {}).get("version", "unknown version")
        cluster = (body.get("cluster") or {}).get("status", "unknown")
        # "settling" means a fresh cluster member still gossiping: it answers, but may miss silences.
        status = "degraded" if cluster == "settling" else "ok"
        return ProviderHealth(
            capability="alert",
            provider=SOURCE,
            status=status,
            message=f"Alertmanager {version}, cluster {cluster}",
        )

    async def aclose(self) -> None:
        await self._http.aclose()
