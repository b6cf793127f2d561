"""A titled card that shows its provider's failure as a banner, a skeleton while loading, else its body."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {
    "ok": "green",
    "healthy": "green",
    "degraded": "amber",
    "warning": "amber",
    "down": "red",
    "critical": "red",
    "unconfigured": "gray",
    "succeeded": "green",
    "success": "green",
    "failed": "red",
    "rolled_back": "orange",
    "in_progress": "blue",
}
SEVERITY_COLORS = {"sev1": "red", "sev2": "orange", "sev3": "amber", "sev4": "blue", "critical": "red"}


def error_banner(message: rx.Var[str]) -> rx.Component:
    """The failure of one provider, shown in place of the panel's content."""
    return rx.callout(
        message, icon="triangle-alert", color_scheme="red", role="alert", size="1", data_testid="panel-error"
    )


def problem(
    message: rx.Var[str], *, test_id: str, icon: str = "triangle-alert", color: str = "red"
) -> rx.Component:
    """``message`` in a callout, in place, while there is one (an empty message shows nothing)."""
    return rx.cond(
        message != "",
        rx.callout(message, icon=icon, color_scheme=color, size="1", width="100%", data_testid=test_id),
    )


def loading_skeleton(lines: int = 4) -> rx.Component:
    return rx.vstack(*(rx.skeleton(height="1.25rem", width="100%") for _ in range(lines)), width="100%")


def panel(
    title: str,
    icon: str,
    body: rx.Component,
    *,
    error: rx.Var[str] | None = None,
    loading: rx.Var[bool] | None = None,
    test_id: str,
    aside: rx.Component | None = None,
) -> rx.Component:
    """A panel whose ``body`` is replaced by an error banner or a loading skeleton as the state says (a panel
    given neither always shows its body)."""
    content = body if loading is None else rx.cond(loading, loading_skeleton(), body)
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=18, color=rx.color("accent", 10)),
                rx.heading(title, size="4"),
                rx.spacer(),
                aside or rx.fragment(),
                align="center",
                width="100%",
            ),
            content if error is None else rx.cond(error != "", error_banner(error), content),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid=test_id,
    )


def status_badge(status: rx.Var[str]) -> rx.Component:
    """``ok`` green, ``degraded`` amber, ``down`` red, anything else gray."""
    return rx.badge(status, color_scheme=rx.match(status, *STATUS_COLORS.items(), "gray"), variant="soft")


def severity_badge(severity: rx.Var[str]) -> rx.Component:
    return rx.badge(
        severity, color_scheme=rx.match(severity, *SEVERITY_COLORS.items(), "gray"), variant="solid"
    )


def empty_state(message: str | rx.Var[str]) -> rx.Component:
    return rx.text(message, color=rx.color("gray", 10), size="2")
