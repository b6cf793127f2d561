"""Charts shared by the console's pages (rx.recharts), in one style: thin axes, a light grid, a tooltip."""

from __future__ import annotations

from typing import Any

import reflex as rx

AXIS_STYLE: dict[str, Any] = {"font_size": "11px", "stroke": rx.color("gray", 9)}


def time_axis(data_key: str = "label") -> rx.Component:
    """The x axis of a chart over time: categories (time labels), thinned to what fits."""
    return rx.recharts.x_axis(data_key=data_key, interval="preserveStartEnd", min_tick_gap=24, **AXIS_STYLE)


def value_axis(domain: rx.Var[list[float | str]] | list[float | str] | None = None) -> rx.Component:
    """The y axis; ``domain`` as recharts takes it (``[0, "auto"]`` for a quantity never below 0)."""
    return rx.recharts.y_axis(width=56, **AXIS_STYLE, **({"domain": domain} if domain is not None else {}))


def grid() -> rx.Component:
    return rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke=rx.color("gray", 5), vertical=False)


def tooltip() -> rx.Component:
    return rx.recharts.graphing_tooltip(
        content_style={
            "background": "var(--color-panel-solid)",
            "border": f"1px solid {rx.color('gray', 6)}",
            "font_size": "12px",
        },
        is_animation_active=False,
    )


def stacked_bars(
    data: rx.Var[list[Any]], bars: list[tuple[str, str, str]], *, height: int = 160, test_id: str = ""
) -> rx.Component:
    """A stacked bar chart over time; ``bars`` are (data key, legend name, color) from the bottom up."""
    return rx.recharts.bar_chart(
        grid(),
        *(
            rx.recharts.bar(data_key=key, name=name, stack_id="stack", fill=color, is_animation_active=False)
            for key, name, color in bars
        ),
        time_axis(),
        value_axis(),
        tooltip(),
        rx.recharts.legend(icon_size=10, wrapper_style={"font_size": "12px"}),
        data=data,
        height=height,
        width="100%",
        bar_category_gap="10%",
        data_testid=test_id,
    )
