"""Deployments (code and configuration changes) of the demo world."""

from __future__ import annotations

from adapters.demo.base import WorldProvider
from adapters.demo.incidents import _get
from adapters.demo.records import Where, page_rows
from core_client.schemas import Deployment, DeploymentQuery, Page


class DemoDeployments(WorldProvider):
    capability = "deployment"

    async def query(self, query: DeploymentQuery, *, cursor: str | None = None) -> Page[Deployment]:
        where = Where()
        where.text(["version", "service", "doc"], query.query)
        where.any_of("status", query.statuses)
        where.any_of("version", query.versions)
        if query.start:
            where.add("started_ms >= ?", int(query.start.timestamp() * 1000))
        if query.end:
            where.add("started_ms <= ?", int(query.end.timestamp() * 1000))
        where.scope(query.scope)
        docs, nxt = await self.world.run(
            lambda c: page_rows(
                c, "deployment", where, order="started_ms DESC, id DESC", limit=query.limit, cursor=cursor
            )
        )
        return Page[Deployment](items=[Deployment.model_validate(d) for d in docs], next_cursor=nxt)

    async def get(self, deployment_id: str) -> Deployment:
        return Deployment.model_validate(
            await self.world.run(lambda c: _get(c, "deployment", deployment_id, "deployment"))
        )
