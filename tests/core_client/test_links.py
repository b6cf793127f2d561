"""The console's URL scheme: building and parsing every kind of link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core_client.errors import BadQuery
from core_client.links import (
    Link,
    alert_link,
    approval_link,
    deployment_link,
    format_time,
    incident_link,
    logs_link,
    metrics_link,
    parse_link,
    parse_time,
    run_link,
    service_link,
    ticket_link,
)

START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)

CASES: list[tuple[Link, str]] = [
    (incident_link("INC-42"), "/incidents/INC-42"),
    (alert_link("a/b c"), "/alerts/a%2Fb%20c"),
    (ticket_link("OPS-7"), "/tickets/OPS-7"),
    (service_link("checkout"), "/services/checkout"),
    (deployment_link("dep-1"), "/deployments/dep-1"),
    (run_link("run-9"), "/runs/run-9"),
    (run_link("run-9", step=3), "/runs/run-9#step-3"),
    (approval_link("3f2a"), "/approvals/3f2a"),
    (
        logs_link(
            q="timeout & retry=3", service="checkout", severity="error", start=START, end=END, highlight="L1"
        ),
        "/logs?q=timeout%20%26%20retry%3D3&service=checkout&severity=error"
        "&from=2026-11-21T10:00:00Z&to=2026-11-21T10:30:00Z&highlight=L1",
    ),
    (logs_link(service="checkout"), "/logs?service=checkout"),
    (logs_link(), "/logs"),
    (
        metrics_link(
            metric="http_request_duration_seconds",
            service="cart",
            group_by=["pod", "code"],
            start=START,
            end=END,
            mark=END,
        ),
        "/metrics?metric=http_request_duration_seconds&service=cart&group_by=pod,code"
        "&from=2026-11-21T10:00:00Z&to=2026-11-21T10:30:00Z&mark=2026-11-21T10:30:00Z",
    ),
]


@pytest.mark.parametrize(("link", "path"), CASES, ids=[path for _, path in CASES])
def test_build_and_parse_round_trip(link: Link, path: str) -> None:
    assert link.build() == path
    assert parse_link(path) == link
    assert parse_link(link.absolute("http://localhost:3000/")) == link


def test_times_are_absolute_utc() -> None:
    paris = datetime(2026, 11, 21, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(paris) == "2026-11-21T10:00:00Z"
    assert parse_time("2026-11-21T10:00:00Z") == START
    link = logs_link(start=paris)
    assert link.params == {"from": "2026-11-21T10:00:00Z"}
    with pytest.raises(BadQuery, match="timezone-aware"):
        format_time(datetime(2026, 11, 21, 10, 0))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/nowhere/1", "not an OpsPilot link"),
        ("/incidents", "not an OpsPilot link"),
        ("/incidents/1/extra", "not an OpsPilot link"),
        ("/logs?colour=red", "unknown parameters"),
        ("/logs?from=yesterday", "not an ISO-8601 time"),
        ("/metrics?mark=2026-11-21T10:00:00", "no time zone"),
        ("/runs/r1#step-x", "step must be a number"),
    ],
)
def test_malformed_links_are_bad_queries(url: str, message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        parse_link(url)
