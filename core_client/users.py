"""Local users with roles, their passwords, API tokens and console sessions; every secret stored hashed.

Passwords are hashed with scrypt and a per-user salt. An API token reads ``opspilot_<id>_<secret>``: the id finds
the row, and only the sha256 of the secret is kept, compared in constant time. Console session tokens are kept
the same way (their sha256 is the row's key).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import delete, func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from core_client.audit import AuditTrail
from core_client.clock import Clock
from core_client.errors import BadQuery, Forbidden, NotFound
from core_client.identity import Actor, Channel, Role
from core_client.settings import Settings
from core_client.store import ApiToken, AuditAction, ConsoleSession, Database, User

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "opspilot"
LAST_USE_PRECISION = timedelta(minutes=1)
# scrypt cost: about 16 MiB and a few tens of milliseconds per check, the usual interactive-login setting.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) of ``password`` with a fresh random salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored``, compared in constant time."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        digest = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) // 2,
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(digest.hex(), expected)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _stored_id(user: User) -> int:
    if user.id is None:
        raise NotFound(f"user {user.username!r} is not stored", source="users")
    return user.id


# Checked against when the user does not exist, so a wrong username costs as long as a wrong password.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))

TokenState = Literal["active", "expired", "revoked"]


class TokenListing(BaseModel):
    """One API token as an admin (or its owner) sees it: never its secret."""

    id: str
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: TokenState


class UserDirectory:
    """The users of this OpsPilot, their credentials and console sessions; account changes are audited."""

    def __init__(self, database: Database, *, clock: Clock, settings: Settings) -> None:
        self._database = database
        self._clock = clock
        self.audit = AuditTrail(database, clock=clock)
        self._session_ttl = timedelta(hours=settings.session_ttl_hours)
        self._token_ttl = timedelta(days=settings.token_ttl_days)

    def add(
        self,
        username: str,
        role: Role | str,
        password: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
        *,
        by: Actor | None = None,
    ) -> User:
        """Create a user; ``password=None`` makes a token-only user. ``BadQuery`` on a duplicate or weak input.

        ``by`` is the admin adding them (audited); ``None`` only for callers that checked who may add users."""
        if not USERNAME.match(username):
            raise BadQuery(
                f"username {username!r} must be 2-32 characters: lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter",
                source="users",
            )
        try:
            checked_role = Role(role)
        except ValueError:
            raise BadQuery(
                f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}", source="users"
            ) from None
        if password is not None and len(password) < MIN_PASSWORD_LENGTH:
            raise BadQuery(f"password must have at least {MIN_PASSWORD_LENGTH} characters", source="users")
        if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise BadQuery(f"not an email address: {email!r}", source="users")
        user = User(
            username=username,
            display_name=display_name or username,
            email=email,
            role=checked_role.value,
            password_hash=hash_password(password) if password is not None else None,
            created_at=self._clock.now(),
        )
        with self._database.transaction() as session:
            if session.scalar(select(User).where(col(User.username) == username)) is not None:
                raise BadQuery(f"user {username!r} already exists", source="users")
            session.add(user)
            self._audit(session, "user_added", by or user.actor(), username, {"role": user.role})
        return user

    def bootstrap_admin(
        self,
        username: str,
        password: str | None,
        *,
        via: Channel,
        display_name: str | None = None,
        email: str | None = None,
    ) -> User:
        """The first user, an admin, created only while no user exists (``Forbidden`` afterwards): the one act
        that needs no signed-in person, so a fresh OpsPilot can be set up from the console or the CLI."""
        if self.count() > 0:
            raise Forbidden("OpsPilot already has users: sign in, or ask an admin to add you", source="users")
        founder = Actor(user=username, role=Role.ADMIN, via=via)
        return self.add(username, Role.ADMIN, password, email=email, display_name=display_name, by=founder)

    def count(self) -> int:
        """How many users exist (disabled ones included)."""
        with self._database.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(User)) or 0)

    def list(self) -> builtins.list[User]:
        """Every user, by username."""
        with self._database.transaction() as session:
            return list(session.scalars(select(User).order_by(col(User.username))))

    def get(self, username: str) -> User:
        """The user called ``username``; ``NotFound`` when there is none."""
        with self._database.transaction() as session:
            user = session.scalar(select(User).where(col(User.username) == username))
        if user is None:
            raise NotFound(f"no user {username!r}", source="users")
        return user

    def set_role(self, username: str, role: Role | str, *, by: Actor | None = None) -> User:
        """Give ``username`` another role (never the last enabled admin's away)."""
        try:
            checked_role = Role(role)
        except ValueError:
            raise BadQuery(
                f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}", source="users"
            ) from None
        return self._change(username, by, role=checked_role.value)

    def disable(self, username: str, *, by: Actor | None = None) -> User:
        """Stop ``username`` from signing in or using tokens, at their next request: their console sessions end
        and their tokens stop working (their audit history stays). The last enabled admin cannot be disabled."""
        return self._change(username, by, disabled=True)

    def enable(self, username: str, *, by: Actor | None = None) -> User:
        """Let a disabled user sign in again (their unrevoked, unexpired tokens work again too)."""
        return self._change(username, by, disabled=False)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user, when ``password`` is theirs and they are enabled; the same cost whether or not they exist."""
        with self._database.transaction() as session:
            user = session.scalar(select(User).where(col(User.username) == username))
        stored = user.password_hash if user is not None and user.password_hash else _DECOY_HASH
        matches = password_matches(password, stored)
        if user is None or user.password_hash is None or user.disabled or not matches:
            return None
        return user

    def issue_token(
        self,
        username: str,
        name: str = "",
        *,
        expires_in: timedelta | None = None,
        not_after: datetime | None = None,
        by: Actor | None = None,
    ) -> str:
        """A new API token for ``username``: returned once, stored only as a hash. It expires after
        ``expires_in``, by default the settings' ``token_ttl_days`` (90 days), and never after ``not_after``
        (so a token cannot outlive the one that asked for it)."""
        if expires_in is not None and expires_in <= timedelta(0):
            raise BadQuery("a token's lifetime must be positive", source="users")
        user = self.get(username)
        if user.disabled:
            raise Forbidden(f"user {username!r} is disabled", source="users")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires_at = now + (expires_in or self._token_ttl)
        if not_after is not None:
            expires_at = min(expires_at, not_after)
        with self._database.transaction() as session:
            session.add(
                ApiToken(
                    id=token_id,
                    user_id=_stored_id(user),
                    label=name,
                    secret_sha256=_sha256(secret),
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            self._audit(
                session,
                "token_issued",
                by or user.actor(),
                username,
                {"token": token_id, "label": name, "expires_at": expires_at.isoformat()},
            )
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def verify_token(self, token: str) -> User | None:
        """The enabled user an unrevoked, unexpired token belongs to; ``None`` for anything else."""
        held = self.token_holder(token)
        return held[0] if held is not None else None

    def token_holder(self, token: str) -> tuple[User, ApiToken] | None:
        """The enabled user an unrevoked, unexpired token belongs to, and the token's row (its last use is
        recorded); ``None`` for anything else."""
        prefix, _, rest = token.strip().partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not token_id or not secret:
            return None
        now = self._clock.now()
        with self._database.transaction() as session:
            # One statement for both rows: a stdio MCP server checks its token on every call.
            found = session.execute(
                select(ApiToken, User).where(
                    col(ApiToken.id) == token_id, col(User.id) == col(ApiToken.user_id)
                )
            ).one_or_none()
            if found is None:
                return None
            row, user = found
            if not hmac.compare_digest(row.secret_sha256, _sha256(secret)):
                return None
            if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
                return None
            if user.disabled:
                return None
            # Written at most once a minute: a token used on every call must not cost a write on every call.
            if row.last_used_at is None or now - row.last_used_at >= LAST_USE_PRECISION:
                row.last_used_at = now
        return user, row

    def hold(self, token: str) -> HeldToken:
        """``token`` as a long-lived process holds it, re-checked cheaply before each request (see HeldToken)."""
        return HeldToken(self, token, database=self._database, clock=self._clock)

    def tokens(self, username: str) -> builtins.list[ApiToken]:
        """The API tokens of ``username`` (hashes only), newest first."""
        user = self.get(username)
        with self._database.transaction() as session:
            query = select(ApiToken).where(col(ApiToken.user_id) == user.id)
            return list(session.scalars(query.order_by(col(ApiToken.created_at).desc())))

    def token_listing(self, username: str | None = None) -> builtins.list[TokenListing]:
        """Every API token (of ``username`` only, when given) with its owner, state and last use, newest first."""
        now = self._clock.now()
        query = select(ApiToken, User).where(col(ApiToken.user_id) == col(User.id))
        if username is not None:
            query = query.where(col(User.username) == self.get(username).username)
        with self._database.transaction() as session:
            rows = session.execute(query.order_by(col(ApiToken.created_at).desc())).all()
        return [_listing(token, user.username, now) for token, user in rows]

    def revoke_token(self, token_id: str, *, by: Actor | None = None) -> None:
        """Revoke the token with this id (the part after ``opspilot_``), effective on its next use; ``NotFound``
        when there is none, ``Forbidden`` when ``by`` is neither its owner nor an admin."""
        with self._database.transaction() as session:
            row = session.get(ApiToken, token_id)
            owner = session.get(User, row.user_id) if row is not None else None
            if row is None or owner is None:
                raise NotFound(f"no API token {token_id!r}", source="users")
            if by is not None and by.role != Role.ADMIN and by.user != owner.username:
                raise Forbidden(
                    f"{by.user} may not revoke {owner.username}'s token; its owner or an admin may",
                    source="users",
                )
            if row.revoked_at is None:
                row.revoked_at = self._clock.now()
                self._audit(
                    session, "token_revoked", by or owner.actor(), owner.username, {"token": token_id}
                )

    def start_session(self, user: User) -> str:
        """A new console session for ``user``; the token is returned once and stored as its sha256."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._database.transaction() as session:
            session.add(
                ConsoleSession(
                    token_sha256=_sha256(token),
                    user_id=_stored_id(user),
                    created_at=now,
                    expires_at=now + self._session_ttl,
                )
            )
        return token

    def session_user(self, token: str) -> User | None:
        """The enabled user of a live session; ``None`` when the token is unknown, ended or expired."""
        with self._database.transaction() as session:
            row = session.get(ConsoleSession, _sha256(token))
            if row is None or row.expires_at <= self._clock.now():
                return None
            user = session.get(User, row.user_id)
        return user if user is not None and not user.disabled else None

    def end_session(self, token: str) -> None:
        """Sign the session out (nothing happens for an unknown token)."""
        with self._database.transaction() as session:
            row = session.get(ConsoleSession, _sha256(token))
            if row is not None:
                session.delete(row)

    def _change(self, username: str, by: Actor | None, **changes: object) -> User:
        with self._database.transaction() as session:
            user = session.scalar(select(User).where(col(User.username) == username))
            if user is None:
                raise NotFound(f"no user {username!r}", source="users")
            was_admin = user.role == Role.ADMIN.value and not user.disabled
            for field, value in changes.items():
                setattr(user, field, value)
            still_admin = user.role == Role.ADMIN.value and not user.disabled
            session.flush()
            if was_admin and not still_admin and self._enabled_admins(session) == 0:
                raise Forbidden(
                    f"{username} is the last enabled admin: add or enable another admin first", source="users"
                )
            if user.disabled:
                session.execute(delete(ConsoleSession).where(col(ConsoleSession.user_id) == user.id))
            self._audit(session, "user_changed", by or user.actor(), username, dict(changes))
        return user

    @staticmethod
    def _enabled_admins(session: Session) -> int:
        query = (
            select(func.count())
            .select_from(User)
            .where(col(User.role) == Role.ADMIN.value, col(User.disabled).is_(False))
        )
        return int(session.scalar(query) or 0)

    def _audit(
        self, session: Session, action: AuditAction, by: Actor, username: str, details: dict[str, object]
    ) -> None:
        self.audit.record(
            action, actor=by, tool="users", arguments={"user": username, **details}, session=session
        )


class HeldToken:
    """An API token a long-lived process acts with (``opspilot mcp`` over stdio), checked before every request at
    the cost of a counter read rather than a query.

    The full check (:meth:`UserDirectory.token_holder`) runs at the first request and again whenever the
    database's :meth:`~core_client.store.Database.data_version` moved since the last one (anything committed: a
    revocation, a disabled user, a new role), when the token expires, and once per ``LAST_USE_PRECISION`` so its
    last use stays recorded. A revoked token therefore still fails at its next use. On PostgreSQL, which has no
    such counter, every request runs the full check.
    """

    def __init__(self, users: UserDirectory, token: str, *, database: Database, clock: Clock) -> None:
        self._users = users
        self._token = token
        self._database = database
        self._clock = clock
        self._user: User | None = None
        self._version: int | None = None
        self._recheck_at = datetime.min.replace(tzinfo=UTC)

    async def holder(self) -> User | None:
        """The enabled user the token belongs to as of now; ``None`` once it is revoked, expired or disabled."""
        if self._user is not None and self._clock.now() < self._recheck_at:
            version = self._database.data_version()
            if version is not None and version == self._version:
                return self._user
        return await asyncio.to_thread(self._check)

    def _check(self) -> User | None:
        # Read before the check: a change committed while it runs moves the counter past it, so the next
        # request checks again.
        self._version = self._database.data_version()
        held = self._users.token_holder(self._token)
        if held is None:
            self._user = None
            return None
        self._user, row = held
        recheck_at = self._clock.now() + LAST_USE_PRECISION
        if row.expires_at is not None:
            recheck_at = min(recheck_at, row.expires_at)
        self._recheck_at = recheck_at
        return self._user


def _listing(token: ApiToken, username: str, now: datetime) -> TokenListing:
    state: TokenState = "active"
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at is not None and token.expires_at <= now:
        state = "expired"
    return TokenListing(
        id=token.id,
        user=username,
        label=token.label,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        state=state,
    )
