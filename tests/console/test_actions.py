"""A person's own actions under the approval policy, and the best-effort notice to approvers."""

from __future__ import annotations

import pytest

from console.backend.actions import act, runs_without_waiting
from console.backend.incident_actions import change_incident
from core_client.client import CoreClient
from core_client.errors import Forbidden
from core_client.identity import Actor, Role
from core_client.mutations import UpdateIncidentArgs
from core_client.policy import Policy, PolicyRule
from core_client.schemas import UpdateIncidentInput
from tests.console.demo_world import built_world, demo_core

__all__ = ["built_world", "demo_core"]

ADMIN = Actor(user="ada", role=Role.ADMIN)
RESPONDER = Actor(user="rick", role=Role.RESPONDER)


@pytest.mark.parametrize(
    ("rule", "role", "expected"),
    [
        (PolicyRule(mode="auto"), Role.RESPONDER, True),
        (PolicyRule(), Role.RESPONDER, False),
        (PolicyRule(), Role.APPROVER, True),
        (PolicyRule(two_person=True), Role.ADMIN, False),
        (PolicyRule(approver_roles=[Role.ADMIN]), Role.APPROVER, False),
        (PolicyRule(mode="denied"), Role.ADMIN, False),
    ],
)
def test_who_runs_a_tool_without_waiting(rule: PolicyRule, role: Role, expected: bool) -> None:
    decision = Policy(rules=[rule]).decide("update_incident", kind="destructive")
    assert runs_without_waiting(decision, role) is expected


async def test_two_person_rules_make_even_an_admin_wait(demo_core: CoreClient) -> None:
    demo_core.gate.approvals.policy = Policy(rules=[PolicyRule(tool="update_incident", two_person=True)])

    outcome = await change_incident(demo_core, ADMIN, "INC-4033", environment="prod", severity="sev1")

    assert (
        not outcome.done and outcome.request_id and outcome.approval_url == f"/approvals/{outcome.request_id}"
    )
    assert (await demo_core.incidents.get("INC-4033")).severity == "sev2"


async def test_a_denied_tool_is_refused_before_anything_is_filed(demo_core: CoreClient) -> None:
    demo_core.gate.approvals.policy = Policy(rules=[PolicyRule(tool="update_incident", mode="denied")])

    with pytest.raises(Forbidden, match="policy denies update_incident in prod"):
        await change_incident(demo_core, ADMIN, "INC-4033", environment="prod", status="resolved")
    assert demo_core.gate.approvals.list().items == []


async def test_a_failing_mutation_reports_its_error_and_is_not_done(demo_core: CoreClient) -> None:
    async def failing(_grant: str) -> None:
        raise Forbidden("the provider said no", source="demo")

    args = UpdateIncidentArgs(incident_id="INC-4033", changes=UpdateIncidentInput(status="resolved"))
    with pytest.raises(Forbidden, match="the provider said no"):
        await act(demo_core, ADMIN, "update_incident", args, environment="prod", run=failing, what="x")
    # The grant went back unspent: the request stays approved, not executed.
    assert [r.status for r in demo_core.gate.approvals.list().items] == ["approved"]


async def test_a_repeated_action_finds_its_request_waiting_and_files_no_second_one(
    demo_core: CoreClient,
) -> None:
    first = await change_incident(demo_core, RESPONDER, "INC-4033", environment="prod", severity="sev1")
    again = await change_incident(demo_core, RESPONDER, "INC-4033", environment="prod", severity="sev1")
    # Only a new request is announced to the approvers (console/state/acting.py).
    assert (first.new_request, again.new_request) == (True, False)
    assert again.request_id == first.request_id
