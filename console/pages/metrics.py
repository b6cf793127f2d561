"""``/metrics?metric=&service=&group_by=&from=&to=&mark=``: a metric's series, baseline band and anomalies."""

from __future__ import annotations

import reflex as rx

from console.components.layout import console_page
from console.state.metrics import MetricsState
from console.views.metrics import metrics


@console_page("/metrics", "Metrics", on_load=MetricsState.load)
def metrics_page() -> rx.Component:
    return metrics()
