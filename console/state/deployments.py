"""The Deployments list: deployments started within the scope's time range, and one deployment's page."""

from __future__ import annotations

from console.backend.deployments import (
    DeploymentFilters,
    DeploymentRow,
    DeploymentView,
    deployment_view,
    deployments_page,
)
from console.state.paging import PagedList, RowsPage
from console.state.record import RecordPage
from console.state.scope import ScopeState
from core_client.client import CoreClient


class DeploymentsState(PagedList, ScopeState):
    """The visible page of deployments and the filters the URL holds."""

    rows: list[DeploymentRow] = []
    status: str = ""
    text: str = ""

    @classmethod
    def _filter_type(cls) -> type[DeploymentFilters]:
        return DeploymentFilters

    async def _fetch(self, core: CoreClient, cursor: str | None) -> RowsPage:
        filters = DeploymentFilters(status=self.status, text=self.text)
        return await deployments_page(core, filters, self.query_scope(), self.window(), cursor)


class DeploymentState(RecordPage, ScopeState):
    """One deployment's fields."""

    deployment: DeploymentView = DeploymentView()

    @classmethod
    def _link_kind(cls) -> str:
        return "deployment"

    async def _fetch_record(self, core: CoreClient, key: str) -> DeploymentView:
        return await deployment_view(core, key)

    def _show_record(self, key: str, record: DeploymentView | None) -> None:
        self.deployment = record or DeploymentView(id=key)
