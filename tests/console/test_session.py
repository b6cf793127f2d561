"""Sign-in, sessions and the first admin: the backend over a real database, and the page states without a browser."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from console.backend.session import WRONG_CREDENTIALS, ConsoleSessions, may_act, may_approve
from console.backend.sign_in import SETUP_PATH, SIGN_IN_PATH, SIGN_OUT_PATH, failure_message, sign_in_routes
from console.state.incidents import IncidentsState
from console.state.scope import ScopeState
from console.state.session import COOKIE_NAME, SessionState, login_url, safe_next
from core_client.client import CoreClient
from core_client.clock import FixedClock
from core_client.errors import BadQuery, Forbidden
from core_client.identity import Role
from tests.console.browserless import Client
from tests.console.demo_world import PASSWORD, built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]
# The origin the console is served from, as the test clients see it (the backend's own, here).
ORIGIN = "http://testserver"


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


def _backend() -> httpx.AsyncClient:
    """The backend's sign-in routes, as a browser on the console's own origin posts to them."""
    app = Starlette(routes=sign_in_routes())
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50000)),
        base_url=ORIGIN,
        headers={"origin": ORIGIN},
    )


def _cookie_attributes(response: httpx.Response) -> set[str]:
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE_NAME}=")
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]} | {
        part.strip().lower() for part in header.split(";")[1:] if part.strip().lower().startswith("samesite")
    }


async def test_the_sign_in_route_sets_an_httponly_strict_cookie_then_sign_out_ends_it(
    demo_core: CoreClient, people
) -> None:
    async with _backend() as browser:
        refused = await browser.post(
            SIGN_IN_PATH, data={"username": "abby", "password": "nope", "next": "/tickets"}
        )
        assert refused.status_code == 303 and "set-cookie" not in refused.headers
        assert refused.headers["location"] == f"{ORIGIN}/login?next=%2Ftickets&failed=credentials"
        assert failure_message("credentials") == "Wrong username or password."

        signed = await browser.post(
            SIGN_IN_PATH, data={"username": "abby", "password": PASSWORD, "next": "/tickets"}
        )
        assert signed.status_code == 303 and signed.headers["location"] == f"{ORIGIN}/tickets"
        attributes = _cookie_attributes(signed)
        assert {"httponly", "samesite=strict", "path", "max-age"} <= attributes and "secure" not in attributes
        token = signed.cookies[COOKIE_NAME]
        assert (await ConsoleSessions.of(demo_core).resume(token)) == people["abby"]

        # A page's events read the same cookie from the websocket's handshake.
        tab = Client()
        tab.goto("/incidents")
        tab.cookies[COOKIE_NAME] = token
        assert (await tab.fire(ScopeState.open_page)).handlers() == ["incidents_state.load"]

        out = await browser.get(SIGN_OUT_PATH, headers={"referer": f"{ORIGIN}/incidents"})
        assert out.status_code == 303 and out.headers["location"] == f"{ORIGIN}/login"
        assert (
            'opspilot_session=""' in out.headers["set-cookie"]
            and "max-age=0" in out.headers["set-cookie"].lower()
        )
        assert await ConsoleSessions.of(demo_core).resume(token) is None
        # The tab that was open is refused at its next event.
        assert (await tab.fire(ScopeState.open_page)).redirects() == ["/login?next=%2Fincidents"]


async def test_the_cookie_is_secure_under_https(demo_core: CoreClient, people) -> None:
    app = Starlette(routes=sign_in_routes())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://console.test",
        headers={"origin": "https://console.test"},
    ) as browser:
        signed = await browser.post(SIGN_IN_PATH, data={"username": "abby", "password": PASSWORD})
    assert signed.headers["location"] == "https://console.test/"
    assert "secure" in _cookie_attributes(signed)


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
async def test_a_form_posted_from_another_site_signs_nobody_in(demo_core: CoreClient, people, origin) -> None:
    async with _backend() as browser:
        headers = {"origin": origin} if origin else {}
        if origin is None:
            browser.headers.pop("origin")
        answer = await browser.post(
            SIGN_IN_PATH, data={"username": "abby", "password": PASSWORD}, headers=headers
        )
    assert answer.status_code == 403 and "set-cookie" not in answer.headers


async def test_first_run_form_only_while_no_user_exists(demo_core: CoreClient) -> None:
    client = Client()
    client.goto("/login", route="/login")
    assert (await client.fire(SessionState.open_login)).redirects() == ["/setup"]
    client.goto("/setup", route="/setup")
    assert (await client.fire(SessionState.open_setup)).redirects() == []

    async with _backend() as browser:
        mismatch = await browser.post(
            SETUP_PATH, data={"username": "root", "password": PASSWORD, "confirm": "other"}
        )
        assert (
            mismatch.headers["location"] == f"{ORIGIN}/setup?failed=mismatch"
            and "set-cookie" not in mismatch.headers
        )
        made = await browser.post(
            SETUP_PATH, data={"username": "root", "password": PASSWORD, "confirm": PASSWORD}
        )
        assert made.headers["location"] == f"{ORIGIN}/" and "httponly" in _cookie_attributes(made)
        again = await browser.post(
            SETUP_PATH, data={"username": "eve", "password": PASSWORD, "confirm": PASSWORD}
        )
        assert again.headers["location"] == f"{ORIGIN}/login" and "set-cookie" not in again.headers
    assert [user.username for user in ConsoleSessions.of(demo_core).users.list()] == ["root"]
    assert (await client.fire(SessionState.open_setup)).redirects() == ["/login"]
