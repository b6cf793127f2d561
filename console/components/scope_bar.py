"""The scope bar under the header: service, team, environment and time range, shared by every page via the URL."""

from __future__ import annotations

import reflex as rx

from console.backend.scope import ANY, DEFAULT_RANGE, PRESETS, ScopeOption
from console.components.panel import problem
from console.state.scope import ScopeState as S

CUSTOM = "custom"


def _label(text: str) -> rx.Component:
    return rx.text(text, size="1", weight="medium", color=rx.color("gray", 10))


def _picker(
    label: str, value: rx.Var[str], options: rx.Var[list[str]], on_change: rx.EventHandler, test_id: str
) -> rx.Component:
    return rx.hstack(
        _label(label),
        rx.select.root(
            rx.select.trigger(placeholder="any", min_width="8rem", data_testid=test_id),
            rx.select.content(
                rx.select.item("any", value=ANY),
                rx.foreach(options, lambda option: rx.select.item(option, value=option)),
            ),
            value=rx.cond(value == "", ANY, value),
            on_change=on_change,
            size="1",
        ),
        align="center",
        spacing="2",
    )


def _labelled_picker(
    label: str,
    value: rx.Var[str],
    options: rx.Var[list[ScopeOption]],
    on_change: rx.EventHandler,
    test_id: str,
) -> rx.Component:
    """A picker whose options show a label for a value (a team's name for its id, a service's for its id)."""

    def item(option: rx.Var[ScopeOption]) -> rx.Component:
        return rx.select.item(option.label, value=option.value)

    return rx.hstack(
        _label(label),
        rx.select.root(
            rx.select.trigger(placeholder="any", min_width="8rem", data_testid=test_id),
            rx.select.content(rx.select.item("any", value=ANY), rx.foreach(options, item)),
            value=rx.cond(value == "", ANY, value),
            on_change=on_change,
            size="1",
        ),
        align="center",
        spacing="2",
    )


def _custom_range() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("calendar-range", size=14),
                rx.cond(S.time_range == "", S.window_label, "Custom"),
                variant=rx.cond(S.time_range == "", "solid", "ghost"),
                size="1",
                data_testid="scope-custom",
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.text("Absolute time range (UTC)", size="2", weight="medium"),
                _label("From"),
                rx.input(type="datetime-local", value=S.custom_from, on_change=S.set_custom_from, size="2"),
                _label("To"),
                rx.input(type="datetime-local", value=S.custom_to, on_change=S.set_custom_to, size="2"),
                rx.popover.close(rx.button("Apply", on_click=S.apply_custom_range, size="2", width="100%")),
                spacing="2",
            ),
        ),
    )


def _time_range() -> rx.Component:
    return rx.hstack(
        _label("Time"),
        rx.segmented_control.root(
            *(rx.segmented_control.item(name, value=name) for name in PRESETS),
            # Nothing is marked until a range is chosen: clicking the default's button must still choose it.
            value=rx.cond(S.time_range == "", CUSTOM, rx.cond(S.range_chosen, S.time_range, "")),
            on_change=S.pick_range,
            size="1",
            data_testid="scope-range",
        ),
        rx.cond(
            ~S.range_chosen, rx.text(f"default: last {DEFAULT_RANGE}", size="1", color=rx.color("gray", 10))
        ),
        _custom_range(),
        rx.tooltip(
            rx.icon("info", size=14, color=rx.color("gray", 9)),
            content=S.window_start + " → " + S.window_end,
        ),
        align="center",
        spacing="2",
    )


def scope_bar() -> rx.Component:
    """The pickers, on every console page."""
    return rx.hstack(
        rx.icon("crosshair", size=16, color=rx.color("accent", 10)),
        _labelled_picker("Service", S.scope_service, S.service_options, S.pick_service, "scope-service"),
        _labelled_picker("Team", S.scope_team, S.team_options, S.pick_team, "scope-team"),
        _picker("Environment", S.scope_environment, S.environment_options, S.pick_environment, "scope-env"),
        rx.separator(orientation="vertical", size="1"),
        _time_range(),
        rx.button(rx.icon("x", size=14), "Clear", on_click=S.clear_scope, variant="ghost", size="1"),
        rx.cond(
            S.scope_error != "",
            rx.tooltip(
                rx.icon("triangle-alert", size=16, color=rx.color("amber", 10)), content=S.scope_error
            ),
        ),
        problem(S.range_problem, test_id="range-problem", icon="calendar-x", color="amber"),
        align="center",
        spacing="4",
        wrap="wrap",
        padding_x="1.25rem",
        padding_y="0.5rem",
        width="100%",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        data_testid="scope-bar",
    )
