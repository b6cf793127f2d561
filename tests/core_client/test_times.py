"""Go's zero time reads as "no time"; every time OpsPilot writes is RFC 3339 (four-digit year, ``Z``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core_client.schemas import Deployment, Incident, MetricPoint, TimelineEntry


@pytest.mark.parametrize(
    "zero", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000000Z", "0001-01-01T00:00:00+00:00"]
)
def test_a_zero_time_in_an_optional_field_is_absent(zero: str) -> None:
    deployment = Deployment.model_validate(
        {"id": "d", "startedAt": "2026-03-02T11:00:00Z", "finishedAt": zero}
    )
    assert deployment.finished_at is None and deployment.started_at is not None
    assert deployment.to_json()["finishedAt"] is None
    assert Incident.model_validate({"id": "i", "updatedAt": zero}).updated_at is None
    assert Deployment(id="d", finished_at=datetime(1, 1, 1, tzinfo=UTC)).finished_at is None


def test_a_required_time_is_never_dropped_and_is_written_with_four_digits() -> None:
    point = MetricPoint.model_validate({"timestamp": "0001-01-01T00:00:00Z", "value": 1})
    assert point.to_json()["timestamp"] == "0001-01-01T00:00:00Z"
    entry = TimelineEntry(id="t", incident_id="i", at=datetime(999, 5, 6, 7, 8, 9, 120000, tzinfo=UTC))
    assert entry.to_json()["at"] == "0999-05-06T07:08:09.12Z"


def test_times_are_written_in_utc_with_a_z() -> None:
    incident = Incident.model_validate({"id": "i", "createdAt": "2026-03-02T13:00:00.820160791+01:00"})
    assert incident.to_json()["createdAt"] == "2026-03-02T12:00:00.82016Z"
