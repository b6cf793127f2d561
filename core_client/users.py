"""Local users with roles, their passwords, API tokens and console sessions; every secret stored hashed.

Passwords are hashed with scrypt and a per-user salt. An API token reads ``opspilot_<id>_<secret>``: the id finds
the row, and only the sha256 of the secret is kept, compared in constant time. Console session tokens are kept
the same way (their sha256 is the row's key).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlmodel import col, select

from core_client.clock import Clock
from core_client.errors import BadQuery, NotFound
from core_client.identity import Role
from core_client.settings import Settings
from core_client.store import ApiToken, ConsoleSession, Database, User

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "opspilot"
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


class UserDirectory:
    """The users of this OpsPilot, their credentials and console sessions."""

    def __init__(self, database: Database, *, clock: Clock, settings: Settings) -> None:
        self._database = database
        self._clock = clock
        self._session_ttl = timedelta(hours=settings.session_ttl_hours)

    def add(
        self,
        username: str,
        role: Role | str,
        password: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
    ) -> User:
        """Create a user; ``password=None`` makes a token-only user. ``BadQuery`` on a duplicate or weak input."""
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
        return user

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

    def set_role(self, username: str, role: Role | str) -> User:
        """Give ``username`` another role."""
        try:
            checked_role = Role(role)
        except ValueError:
            raise BadQuery(
                f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}", source="users"
            ) from None
        return self._change(username, role=checked_role.value)

    def disable(self, username: str) -> User:
        """Stop ``username`` from signing in or using tokens (their audit history stays)."""
        return self._change(username, disabled=True)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user, when ``password`` is theirs and they are enabled; the same cost whether or not they exist."""
        with self._database.transaction() as session:
            user = session.scalar(select(User).where(col(User.username) == username))
        stored = user.password_hash if user is not None and user.password_hash else _DECOY_HASH
        matches = password_matches(password, stored)
        if user is None or user.password_hash is None or user.disabled or not matches:
            return None
        return user

    def issue_token(self, username: str, name: str = "", *, expires_in: timedelta | None = None) -> str:
        """A new API token for ``username``: returned once, stored only as a hash."""
        user = self.get(username)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._database.transaction() as session:
            session.add(
                ApiToken(
                    id=token_id,
                    user_id=_stored_id(user),
                    label=name,
                    secret_sha256=_sha256(secret),
                    created_at=now,
                    expires_at=now + expires_in if expires_in else None,
                )
            )
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def verify_token(self, token: str) -> User | None:
        """The enabled user an unrevoked, unexpired token belongs to; ``None`` for anything else."""
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not token_id or not secret:
            return None
        now = self._clock.now()
        with self._database.transaction() as session:
            row = session.get(ApiToken, token_id)
            if row is None or not hmac.compare_digest(row.secret_sha256, _sha256(secret)):
                return None
            if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
                return None
            user = session.get(User, row.user_id)
            if user is None or user.disabled:
                return None
            row.last_used_at = now
        return user

    def tokens(self, username: str) -> builtins.list[ApiToken]:
        """The API tokens of ``username`` (hashes only), newest first."""
        user = self.get(username)
        with self._database.transaction() as session:
            query = select(ApiToken).where(col(ApiToken.user_id) == user.id)
            return list(session.scalars(query.order_by(col(ApiToken.created_at).desc())))

    def revoke_token(self, token_id: str) -> None:
        """Revoke the token with this id (the part after ``opspilot_``); ``NotFound`` when there is none."""
        with self._database.transaction() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no API token {token_id!r}", source="users")
            row.revoked_at = row.revoked_at or self._clock.now()

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

    def _change(self, username: str, **changes: object) -> User:
        with self._database.transaction() as session:
            user = session.scalar(select(User).where(col(User.username) == username))
            if user is None:
                raise NotFound(f"no user {username!r}", source="users")
            for field, value in changes.items():
                setattr(user, field, value)
        return user
