"""The Metrics page's state: the view (mirrored in the URL), the metric picker, and one chart.

The scope bar (``ScopeState``) owns service, team, environment and the time range; this state owns the metric,
the group-by labels and the mark. The chart arrives downsampled (a few hundred points per series, a handful of
series), so the state stays small. Every change writes the URL; opening a URL restores the view.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.metrics import (
    NOTHING_DEPARTED,
    AnomalyMark,
    ChartSeries,
    MetricChart,
    MetricOption,
    MetricView,
    OnsetLine,
    mark_window,
    metric_chart,
    metric_options,
)
from console.backend.timewindow import input_value, parse_input
from console.state.address import AddressedQuery, history_event
from console.state.scope import ScopeState
from core_client.client import CoreClient
from core_client.errors import BadQuery, OpsPilotError

PAGE = "/metrics"
# Shown first when a URL names no metric and the provider has it.
DEFAULT_METRIC = "error_rate"


class MetricsState(AddressedQuery, ScopeState):
    """What the Metrics page shows. The fields mirror the URL; ``_view`` is the view last charted."""

    metric: str = ""
    group_by: list[str] = []
    mark: str = ""

    options: list[MetricOption] = []
    labels: list[str] = []
    description: str = ""
    unit: str = ""
    options_error: str = ""

    points: list[dict[str, Any]] = []
    series: list[ChartSeries] = []
    band_of: str = ""
    band_note: str = ""
    anomalies: list[AnomalyMark] = []
    quiet: str = NOTHING_DEPARTED
    onsets: list[OnsetLine] = []
    # The value axis: from 0 for a quantity that is never negative (recharts' "auto" otherwise).
    y_domain: list[float | str] = ["auto", "auto"]
    mark_label: str = ""
    series_note: str = ""
    chart_loading: bool = True
    chart_error: str = ""

    _view: MetricView = MetricView()
    _generation: int = 0

    @rx.event
    def set_mark(self, value: str) -> None:
        self.mark = value

    # --- what starts a chart ----------------------------------------------------------------------------------

    @rx.event
    def load(self) -> EventSpec | None:
        """The page's on_load (after the scope bar read the URL): chart the view the URL describes."""
        view = self._query_from_url(MetricView)
        return self._begin(view) if view is not None else None

    @rx.event
    def pick_metric(self, name: str) -> list[EventSpec]:
        # Another metric has other labels: the grouping of the old one does not carry over.
        return self._refine(metric=name, group_by=())

    @rx.event
    def toggle_group(self, label: str) -> list[EventSpec]:
        """Group the series by ``label`` (or stop grouping by it)."""
        current = list(self._view.group_by)
        grouped = [name for name in current if name != label] if label in current else [*current, label]
        return self._refine(group_by=tuple(grouped))

    @rx.event
    def place_mark(self, form: dict[str, Any]) -> list[EventSpec] | None:
        """The mark's input (UTC): a vertical line at that time."""
        try:
            mark = parse_input(str(form.get("mark", "")))
        except BadQuery as exc:
            self.query_error = str(exc)
            return None
        self.query_error = ""
        return self._refine(mark=mark)

    @rx.event
    def clear_mark(self) -> list[EventSpec]:
        return self._refine(mark=None)

    def _refine(self, **changes: Any) -> list[EventSpec]:
        view = self._view.model_copy(update=changes)
        return [self._push_url(view.page_params()), self._begin(view)]

    def _begin(self, view: MetricView) -> EventSpec:
        self._generation += 1
        self._view = view
        self._show_view(view)
        # A chart on screen stays until the new one replaces it; the first one shows a skeleton instead.
        self.chart_loading, self.chart_error = not self.points, ""
        return MetricsState.fetch

    def _show_view(self, view: MetricView) -> None:
        self.metric, self.group_by, self.mark = view.metric, list(view.group_by), input_value(view.mark)

    # --- loading ----------------------------------------------------------------------------------------------

    @rx.event(background=True)
    async def fetch(self) -> AsyncIterator[EventSpec]:
        """Describe the metrics (for the picker), then chart the view."""
        async with self:
            generation, view = self._generation, self._view
        try:
            core = await runtime.core()
        except OpsPilotError as exc:
            async with self:
                if self._generation == generation:
                    self.chart_loading, self.chart_error = False, str(exc)
            return
        moved = mark_window(view, now=core.clock.now())
        if moved is not None:
            # The mark is outside the scope's window (a link without times): open the window around it instead.
            async with self:
                url = None if self._left(PAGE) else self._url_at(moved)
            if url is not None:
                yield rx.redirect(url, replace=True)
            return
        options, options_error = await _described(core, view.service)
        option = next((o for o in options if o.name == view.metric), None)
        if not view.metric and options:
            option = next((o for o in options if o.name == DEFAULT_METRIC), options[0])
            view = view.model_copy(update={"metric": option.name})
        async with self:
            if self._generation != generation:
                return
            chosen = self._url_with(view.page_params())
            self._view = view
            self._show_view(view)
            self._show_options(options, option, options_error)
        # A URL that named no metric now names the one shown, in place.
        yield history_event(chosen, push=False)
        try:
            chart, error = (await metric_chart(core, view, option) if view.metric else None), ""
        except OpsPilotError as exc:
            chart, error = None, str(exc)
        async with self:
            if self._generation == generation:
                self._show_chart(chart, error)

    def _show_options(self, options: list[MetricOption], option: MetricOption | None, error: str) -> None:
        self.options, self.options_error = options, error
        self.labels = option.labels if option else []
        self.description = option.description if option else ""
        self.unit = option.unit if option else ""

    def _show_chart(self, chart: MetricChart | None, error: str) -> None:
        self.chart_loading, self.chart_error = False, error
        self.points = chart.points if chart else []
        self.series = chart.series if chart else []
        self.band_of = chart.band_of if chart else ""
        self.band_note = chart.band_note if chart else ""
        self.anomalies = chart.anomalies if chart else []
        self.quiet = chart.quiet if chart else NOTHING_DEPARTED
        self.onsets = chart.onsets if chart else []
        self.y_domain = [chart.floor if chart and chart.floor is not None else "auto", "auto"]
        self.mark_label = chart.mark if chart else ""
        self.series_note = (
            f"{chart.shown} of {chart.total} series shown (anomalous ones first): group by a label or pick a "
            "service to see the others"
            if chart and chart.shown < chart.total
            else ""
        )


async def _described(core: CoreClient, service: str) -> tuple[list[MetricOption], str]:
    try:
        return await metric_options(core, service), ""
    except OpsPilotError as exc:
        return [], str(exc)
