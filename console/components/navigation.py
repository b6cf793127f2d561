"""The sidebar: one link per page, the current one highlighted."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from console.state.approvals import ApprovalsBadgeState
from console.state.copilot import CopilotPanelState

# With the Copilot open the sidebar keeps only its icons, leaving the page its room.
COMPACT = CopilotPanelState.panel_open

# The approvals badge counts again this often while the tab is in view, so a request filed anywhere (another
# person's Copilot, an MCP client) shows without a reload. The timer lives in the browser, so it ends with the tab:
# it presses a hidden button whose click is the count; one timer per tab, however often the sidebar mounts.
BADGE_TICK_ID = "approvals-badge-tick"
BADGE_TICK_MS = 5000
BADGE_TIMER = f"""
if (!window.opspilotBadgeTimer) {{
  window.opspilotBadgeTimer = setInterval(() => {{
    if (document.visibilityState === 'visible') document.getElementById('{BADGE_TICK_ID}')?.click();
  }}, {BADGE_TICK_MS});
}}
"""


@dataclass(frozen=True)
class NavItem:
    label: str
    route: str
    icon: str

    @property
    def test_id(self) -> str:
        return "nav-" + self.label.lower().replace(" ", "-")


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Overview", "/", "layout-dashboard"),
    NavItem("Incidents", "/incidents", "siren"),
    NavItem("Alerts", "/alerts", "bell-ring"),
    NavItem("Logs", "/logs", "scroll-text"),
    NavItem("Metrics", "/metrics", "chart-line"),
    NavItem("Tickets", "/tickets", "ticket"),
    NavItem("Deployments", "/deployments", "rocket"),
    NavItem("Services", "/services", "network"),
    NavItem("Approvals", "/approvals", "shield-check"),
    NavItem("Copilot runs", "/runs", "bot"),
    NavItem("Settings", "/settings", "settings"),
)


def _nav_link(item: NavItem) -> rx.Component:
    active = rx.State.router.url.path == item.route
    return rx.link(
        rx.hstack(
            rx.icon(item.icon, size=18, flex_shrink="0"),
            rx.text(item.label, size="3", display=rx.cond(COMPACT, "none", "inline"), white_space="nowrap"),
            _badge(item),
            align="center",
            spacing="3",
            padding_x=rx.cond(COMPACT, "0.5rem", "0.75rem"),
            padding_y="0.5rem",
            border_radius="var(--radius-3)",
            width="100%",
            background=rx.cond(active, rx.color("accent", 4), "transparent"),
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            _hover={"background": rx.color("accent", 3)},
        ),
        href=item.route,
        underline="none",
        width="100%",
        title=item.label,
        aria_label=item.label,
        data_testid=item.test_id,
    )


def _badge(item: NavItem) -> rx.Component:
    """How many requests wait for a person, beside Approvals."""
    if item.route != "/approvals":
        return rx.fragment()
    return rx.cond(
        ApprovalsBadgeState.pending > 0,
        rx.badge(
            ApprovalsBadgeState.pending,
            color_scheme="amber",
            variant="solid",
            radius="full",
            margin_left="auto",
            data_testid="approvals-badge",
        ),
    )


def sidebar() -> rx.Component:
    """The navigation column shown on every page."""
    return rx.vstack(
        *(_nav_link(item) for item in NAV_ITEMS),
        rx.el.button(
            id=BADGE_TICK_ID,
            on_click=ApprovalsBadgeState.refresh,
            display="none",
            aria_hidden="true",
            tab_index=-1,
        ),
        on_mount=[ApprovalsBadgeState.refresh, rx.call_script(BADGE_TIMER)],
        spacing="1",
        width=rx.cond(COMPACT, "auto", "13rem"),
        min_width=rx.cond(COMPACT, "0", "13rem"),
        flex_shrink="0",
        padding=rx.cond(COMPACT, "1rem 0.5rem", "1rem 0.75rem"),
        border_right=f"1px solid {rx.color('gray', 5)}",
        min_height="calc(100vh - 3.5rem)",
        align_self="stretch",
        background=rx.color("gray", 2),
    )
