"""The admins' section of the Settings page: users and API tokens, revoked or disabled at the next request."""

from __future__ import annotations

from console.backend.session import ConsoleSessions
from console.state.settings import SettingsState
from core_client.client import CoreClient
from tests.console.demo_world import built_world, demo_core, people, signed_in

__all__ = ["built_world", "demo_core", "people"]


async def test_an_admin_sees_tokens_with_last_use_and_revokes_one(demo_core: CoreClient, people) -> None:
    users = ConsoleSessions.of(demo_core).users
    token = users.issue_token("rick", "laptop")
    assert users.verify_token(token) is not None  # used once: it has a last use now
    admin = await signed_in(demo_core, "ada", "/settings")

    await admin.fire(SettingsState.load)
    page = await admin.state(SettingsState)
    assert [(a.username, a.role, a.disabled, a.active_tokens) for a in page.accounts] == [
        ("abby", "approver", False, 0),
        ("ada", "admin", False, 0),
        ("rick", "responder", False, 1),
        ("vera", "viewer", False, 0),
    ]
    (row,) = page.tokens
    assert (row.user, row.label, row.state) == ("rick", "laptop", "active")
    assert row.last_used != "never used" and row.expires.endswith("UTC")

    sent = await admin.fire(SettingsState.revoke, token_id=row.id)
    assert sent.toasts() == [f"success: Token {row.id} revoked."]
    assert users.verify_token(token) is None
    assert [t.state for t in (await admin.state(SettingsState)).tokens] == ["revoked"]


async def test_disabling_a_user_cuts_their_open_tab_off(demo_core: CoreClient, people) -> None:
    admin = await signed_in(demo_core, "ada", "/settings")
    rick = await signed_in(demo_core, "rick", "/settings")
    assert (await rick.fire(SettingsState.load)).redirects() == []

    await admin.fire(SettingsState.disable, username="rick")

    refused = await rick.fire(SettingsState.load)
    assert refused.redirects() == ["/login?next=%2Fsettings"]
    await admin.fire(SettingsState.enable, username="rick")
    assert not ConsoleSessions.of(demo_core).users.get("rick").disabled


async def test_only_an_admin_sees_or_changes_accounts(demo_core: CoreClient, people) -> None:
    users = ConsoleSessions.of(demo_core).users
    token = users.issue_token("rick", "laptop")
    token_id = users.token_listing("rick")[0].id
    for name in ("vera", "rick", "abby"):
        tab = await signed_in(demo_core, name, "/settings")
        await tab.fire(SettingsState.load)
        assert (await tab.state(SettingsState)).accounts == []
        sent = await tab.fire(SettingsState.revoke, token_id=token_id)
        assert "only admins manage users and tokens" in sent.toasts()[0]
        sent = await tab.fire(SettingsState.disable, username="ada")
        assert "only admins manage users and tokens" in sent.toasts()[0]
    assert users.verify_token(token) is not None
    assert not users.get("ada").disabled
