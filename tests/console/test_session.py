"""Sign-in, sessions and the first admin: the backend over a real database, and the page states without a browser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.backend.session import WRONG_CREDENTIALS, ConsoleSessions, may_act, may_approve
from console.state.incidents import IncidentsState
from console.state.scope import ScopeState
from console.state.session import SessionState, login_url, safe_next
from core_client.client import CoreClient
from core_client.clock import FixedClock
from core_client.errors import BadQuery, Forbidden
from core_client.identity import Role
from tests.console.browserless import Client
from tests.console.demo_world import PASSWORD, built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]


async def test_the_first_admin_can_be_made_only_while_no_user_exists(demo_core: CoreClient) -> None:
    sessions = ConsoleSessions.of(demo_core)
    assert await sessions.needs_setup()

    token, admin = await sessions.create_first_admin("root", PASSWORD, display_name="Root Admin")

    assert (admin.username, admin.display_name, admin.role) == ("root", "Root Admin", Role.ADMIN)
    assert await sessions.resume(token) == admin
    assert not await sessions.needs_setup()
    with pytest.raises(Forbidden, match="already has users"):
        await sessions.create_first_admin("second", PASSWORD)
    assert [user.username for user in sessions.users.list()] == ["root"]


async def test_sign_in_starts_a_session_that_sign_out_and_time_end(demo_core: CoreClient, people) -> None:
    sessions = ConsoleSessions.of(demo_core)
    token, user = await sessions.sign_in("rick", PASSWORD)
    assert user.role == Role.RESPONDER and user.actor().user == "rick"
    assert await sessions.resume(token) == user

    # Past the settings' session_ttl_hours (12 by default) the same token is refused.
    later = ConsoleSessions.of(demo_core, clock=FixedClock(sessions.users._clock.now() + timedelta(hours=13)))
    assert await later.resume(token) is None

    await sessions.sign_out(token)
    assert await sessions.resume(token) is None
    assert await sessions.resume("") is None


@pytest.mark.parametrize(("username", "password"), [("rick", "wrong password"), ("nobody", PASSWORD)])
async def test_a_failed_sign_in_does_not_say_which_part_was_wrong(
    demo_core: CoreClient, people, username: str, password: str
) -> None:
    with pytest.raises(Forbidden) as refused:
        await ConsoleSessions.of(demo_core).sign_in(username, password)
    assert refused.value.message == WRONG_CREDENTIALS


async def test_empty_credentials_are_a_bad_query(demo_core: CoreClient) -> None:
    with pytest.raises(BadQuery, match="enter a username and a password"):
        await ConsoleSessions.of(demo_core).sign_in(" ", "")


def test_roles_that_act_and_approve() -> None:
    assert [role.value for role in Role if may_act(role)] == ["responder", "approver", "admin"]
    assert [role.value for role in Role if may_approve(role)] == ["approver", "admin"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/incidents?status=active", "/incidents?status=active"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/login?next=/x", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_paths_of_this_console(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_the_login_link_comes_back_to_the_page_and_its_query() -> None:
    assert login_url("/incidents", {"status": "active"}) == "/login?next=%2Fincidents%3Fstatus%3Dactive"


async def test_a_page_without_a_session_sends_to_sign_in_and_loads_nothing(
    demo_core: CoreClient, people
) -> None:
    client = Client()
    client.goto("/incidents?severity=sev1")

    sent = await client.fire(ScopeState.open_page)

    assert sent.redirects() == ["/login?next=%2Fincidents%3Fseverity%3Dsev1"]
    assert sent.backend == []
    assert (await client.state(IncidentsState)).rows == []


async def test_a_page_with_a_session_knows_the_user_then_runs_its_own_load(
    demo_core: CoreClient, people
) -> None:
    client = await signed_in(demo_core, "vera", "/incidents")

    sent = await client.fire(ScopeState.open_page)

    assert sent.redirects() == []
    assert sent.handlers() == ["incidents_state.load"]
    session = await client.state(SessionState)
    assert (session.user, session.role, session.can_act, session.can_approve) == (
        "vera",
        "viewer",
        False,
        False,
    )


async def test_sign_in_form_then_sign_out(demo_core: CoreClient, people) -> None:
    client = Client()
    client.goto("/login?next=%2Ftickets", route="/login")

    refused = await client.fire(SessionState.sign_in, form={"username": "abby", "password": "nope"})
    assert refused.redirects() == []
    assert (await client.state(SessionState)).auth_error == WRONG_CREDENTIALS

    sent = await client.fire(SessionState.sign_in, form={"username": "abby", "password": PASSWORD})
    assert sent.redirects() == ["/tickets"]
    session = await client.state(SessionState)
    assert (session.user, session.can_act, session.can_approve, session.auth_error) == (
        "abby",
        True,
        True,
        "",
    )
    token = session.session_token
    assert await ConsoleSessions.of(demo_core).resume(token) is not None

    out = await client.fire(SessionState.sign_out)
    assert out.redirects() == ["/login"]
    assert (await client.state(SessionState)).session_token == ""
    assert await ConsoleSessions.of(demo_core).resume(token) is None


async def test_first_run_page_only_while_no_user_exists(demo_core: CoreClient) -> None:
    client = Client()
    client.goto("/login", route="/login")
    assert (await client.fire(SessionState.open_login)).redirects() == ["/setup"]

    client.goto("/setup", route="/setup")
    assert (await client.fire(SessionState.open_setup)).redirects() == []
    mismatch = await client.fire(
        SessionState.create_first_admin, form={"username": "root", "password": PASSWORD, "confirm": "other"}
    )
    assert (
        mismatch.redirects() == []
        and (await client.state(SessionState)).auth_error == "the two passwords differ"
    )
    made = await client.fire(
        SessionState.create_first_admin, form={"username": "root", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert made.redirects() == ["/"]
    assert (await client.state(SessionState)).role == "admin"

    assert (await client.fire(SessionState.open_setup)).redirects() == ["/login"]
