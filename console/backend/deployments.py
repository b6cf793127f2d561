"""The Deployments list (within the scope's time range) and one deployment's page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from console.backend.display import ago, utc_label
from console.backend.records import FieldRow, ListFilters, field_rows, named, service_names
from core_client.client import CoreClient
from core_client.links import deployment_link, service_link
from core_client.schemas import Deployment, DeploymentQuery, QueryScope

PAGE_SIZE = 25
DEPLOYMENT_STATUSES = ["succeeded", "in_progress", "failed", "rolled_back"]


class DeploymentFilters(ListFilters):
    status: str = ""
    text: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> DeploymentFilters:
        """The filters in a URL's query parameters."""
        return cls(status=params.get("status", ""), text=params.get("q", "").strip())

    def to_params(self) -> dict[str, str | None]:
        return {"status": self.status or None, "q": self.text or None}


class DeploymentRow(BaseModel):
    id: str
    service: str
    version: str
    environment: str
    status: str
    change: str
    summary: str
    actor: str
    started: str
    age: str
    duration: str
    link: str


class DeploymentPage(BaseModel):
    rows: list[DeploymentRow]
    next_cursor: str | None = None
    truncated: bool = False


def _span(seconds: int) -> str:
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _duration(deploy: Deployment, now: datetime) -> str:
    """How long it took; for one not finished (no finish time, or a zero one), how long it has run so far."""
    if deploy.started_at is None:
        return ""
    if deploy.finished_at is None:
        return f"{_span(max(0, int((now - deploy.started_at).total_seconds())))} so far (not finished)"
    return _span(max(0, int((deploy.finished_at - deploy.started_at).total_seconds())))


def _actor(deploy: Deployment) -> str:
    return str(deploy.actor.get("name") or deploy.actor.get("id") or deploy.actor.get("email") or "")


def deployment_row(deploy: Deployment, now: datetime) -> DeploymentRow:
    return DeploymentRow(
        id=deploy.id,
        service=deploy.service,
        version=deploy.version,
        environment=deploy.environment,
        status=deploy.status,
        change=str(deploy.fields.get("change", "")),
        summary=str(deploy.fields.get("summary", "")),
        actor=_actor(deploy),
        started=utc_label(deploy.started_at),
        age=ago(deploy.started_at, now),
        duration=_duration(deploy, now),
        link=deployment_link(deploy.id).build(),
    )


async def deployments_page(
    core: CoreClient,
    filters: DeploymentFilters,
    scope: QueryScope,
    window: tuple[datetime, datetime],
    cursor: str | None,
) -> DeploymentPage:
    """One page of deployments started within ``window``, newest first."""
    start, end = window
    query = DeploymentQuery(
        query=filters.text or None,
        statuses=[filters.status] if filters.status else [],
        scope=scope,
        start=start,
        end=end,
        limit=PAGE_SIZE,
    )
    page = await core.deployments.query(query, cursor=cursor)
    now = core.clock.now()
    rows = named([deployment_row(d, now) for d in page.items], await service_names(core))
    return DeploymentPage(rows=rows, next_cursor=page.next_cursor, truncated=page.truncated)


class DeploymentView(BaseModel):
    id: str = ""
    service: str = ""
    service_link: str = ""
    version: str = ""
    environment: str = ""
    status: str = ""
    actor: str = ""
    started: str = ""
    finished: str = ""
    duration: str = ""
    url: str = ""
    fields: list[FieldRow] = []


async def deployment_view(core: CoreClient, deployment_id: str) -> DeploymentView:
    """One deployment's fields for its page; ``NotFound`` when there is none."""
    deploy = await core.deployments.get(deployment_id)
    view = DeploymentView(
        id=deploy.id,
        service=deploy.service,
        service_link=service_link(deploy.service).build() if deploy.service else "",
        version=deploy.version,
        environment=deploy.environment,
        status=deploy.status,
        actor=_actor(deploy),
        started=utc_label(deploy.started_at),
        finished=utc_label(deploy.finished_at) or "not finished",
        duration=_duration(deploy, core.clock.now()),
        url=deploy.url,
        fields=field_rows({**deploy.fields, **deploy.metadata}),
    )
    return named([view], await service_names(core))[0]
