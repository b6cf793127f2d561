"""``/deployments``: deployments in the scope's time range; ``/deployments/{id}``: one deployment."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.deployments import DeploymentsState, DeploymentState
from console.views.deployments import deployment, deployments


@console_page("/deployments", "Deployments", on_load=DeploymentsState.load)
def deployments_page() -> rx.Component:
    return deployments()


@console_page("/deployments/[deployment_ref]", "Deployment", on_load=DeploymentState.load)
def deployment_page() -> rx.Component:
    return deployment()
