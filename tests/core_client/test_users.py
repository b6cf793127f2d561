"""Users, passwords, API tokens and console sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from core_client.clock import FixedClock
from core_client.errors import BadQuery, NotFound
from core_client.identity import Role
from core_client.settings import Settings
from core_client.store import ApiToken, ConsoleSession, Database, User
from core_client.users import UserDirectory

PASSWORD = "correct horse battery"


@pytest.fixture
def users(database: Database, clock: FixedClock, settings: Settings) -> UserDirectory:
    return UserDirectory(database, clock=clock, settings=settings)


def later(
    users: UserDirectory, database: Database, settings: Settings, clock: FixedClock, **delta: float
) -> UserDirectory:
    return UserDirectory(database, clock=FixedClock(clock.now() + timedelta(**delta)), settings=settings)


def test_add_list_get_and_change_role(users: UserDirectory) -> None:
    users.add("alice", Role.RESPONDER, PASSWORD, email="alice@example.com", display_name="Alice A.")
    users.add("bob", "approver")
    assert [u.username for u in users.list()] == ["alice", "bob"]
    alice = users.get("alice")
    assert (alice.display_name, alice.email, alice.role) == ("Alice A.", "alice@example.com", "responder")
    assert users.set_role("alice", "admin").role == "admin"
    assert users.get("alice").actor(via="cli").role == Role.ADMIN
    with pytest.raises(NotFound, match="no user 'carol'"):
        users.get("carol")


@pytest.mark.parametrize(
    ("username", "role", "password", "email", "message"),
    [
        ("alice", "responder", PASSWORD, None, "already exists"),
        ("Alice!", "responder", PASSWORD, None, "must be 2-32 characters"),
        ("carol", "overlord", PASSWORD, None, "unknown role 'overlord'"),
        ("carol", "responder", "short", None, "at least 8 characters"),
        ("carol", "responder", PASSWORD, "not-an-email", "not an email address"),
    ],
)
def test_bad_input_is_refused_clearly(
    users: UserDirectory, username: str, role: str, password: str, email: str | None, message: str
) -> None:
    users.add("alice", Role.RESPONDER, PASSWORD)
    with pytest.raises(BadQuery, match=message):
        users.add(username, role, password, email=email)


def test_passwords_are_stored_hashed_and_checked(users: UserDirectory, database: Database) -> None:
    users.add("alice", Role.RESPONDER, PASSWORD)
    users.add("tokenonly", Role.RESPONDER)
    stored = users.get("alice").password_hash or ""
    assert PASSWORD not in stored and stored.startswith("scrypt$")
    assert users.authenticate("alice", PASSWORD) is not None
    assert users.authenticate("alice", PASSWORD + "x") is None
    assert users.authenticate("nobody", PASSWORD) is None
    assert users.authenticate("tokenonly", "") is None
    users.disable("alice")
    assert users.authenticate("alice", PASSWORD) is None


def test_tokens_verify_and_only_their_hash_is_stored(
    users: UserDirectory, database: Database, settings: Settings, clock: FixedClock
) -> None:
    users.add("alice", Role.RESPONDER)
    token = users.issue_token("alice", "laptop")
    assert token.startswith("opspilot_")
    user = users.verify_token(token)
    assert user is not None and user.username == "alice"
    with database.transaction() as session:
        (row,) = session.scalars(select(ApiToken)).all()
    assert token.split("_", 2)[2] not in row.secret_sha256 and len(row.secret_sha256) == 64
    assert (row.label, row.last_used_at) == ("laptop", clock.now())

    token_id = token.split("_")[1]
    wrong = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    for bad in (wrong, f"opspilot_{token_id}_", "opspilot_nope_secret", "not-a-token", ""):
        assert users.verify_token(bad) is None
    users.revoke_token(token_id)
    assert users.verify_token(token) is None
    with pytest.raises(NotFound):
        users.revoke_token("missing")


def test_expired_token_and_disabled_user_are_refused(
    users: UserDirectory, database: Database, settings: Settings, clock: FixedClock
) -> None:
    users.add("alice", Role.RESPONDER)
    short = users.issue_token("alice", expires_in=timedelta(hours=1))
    assert later(users, database, settings, clock, hours=2).verify_token(short) is None
    lasting = users.issue_token("alice")
    users.disable("alice")
    assert users.verify_token(lasting) is None


class MovingClock:
    """A test's clock that moves only when told."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant


async def test_a_held_token_sees_every_change_made_elsewhere_at_its_next_use(
    database: Database, settings: Settings, clock: FixedClock
) -> None:
    moving = MovingClock(clock.now())
    users = UserDirectory(database, clock=moving, settings=settings)
    users.add("alice", Role.RESPONDER)
    users.add("bob", Role.RESPONDER)
    # Changes come through a database connection of another process's kind: an engine of their own.
    elsewhere_database = Database(database.url)
    elsewhere = UserDirectory(elsewhere_database, clock=clock, settings=settings)
    try:
        alices = users.hold(users.issue_token("alice"))
        for _ in range(2):
            held = await alices.holder()
            assert held is not None and held.role == "responder"
        elsewhere.set_role("alice", Role.APPROVER)
        held = await alices.holder()
        assert held is not None and held.role == "approver"
        revoked = users.issue_token("alice")
        held_revoked = users.hold(revoked)
        assert await held_revoked.holder() is not None
        elsewhere.revoke_token(revoked.split("_")[1])
        assert await held_revoked.holder() is None
        elsewhere.disable("alice")
        assert await alices.holder() is None

        bobs = users.hold(users.issue_token("bob", expires_in=timedelta(minutes=30)))
        assert await bobs.holder() is not None
        moving.instant += timedelta(minutes=31)
        assert await bobs.holder() is None
    finally:
        elsewhere_database.dispose()


def test_console_sessions(
    users: UserDirectory, database: Database, settings: Settings, clock: FixedClock
) -> None:
    alice = users.add("alice", Role.RESPONDER, PASSWORD)
    token = users.start_session(alice)
    found = users.session_user(token)
    assert found is not None and found.username == "alice"
    with database.transaction() as session:
        assert session.get(ConsoleSession, token) is None  # keyed by the token's hash, not the token
    assert users.session_user("forged") is None
    assert later(users, database, settings, clock, hours=13).session_user(token) is None
    users.end_session(token)
    assert users.session_user(token) is None


def test_user_rows_hold_no_plain_secrets(users: UserDirectory, database: Database) -> None:
    users.add("alice", Role.RESPONDER, PASSWORD)
    token = users.issue_token("alice")
    with database.transaction() as session:
        dumped = repr(session.scalars(select(User)).all()) + repr(session.scalars(select(ApiToken)).all())
    assert PASSWORD not in dumped and token.split("_", 2)[2] not in dumped
