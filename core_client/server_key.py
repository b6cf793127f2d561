"""The server's own secret, kept outside the database: what turns a grant's stored nonce into its grant id.

Grants are stored by the sha256 of their id, with a random nonce; the id is an HMAC of the nonce under this key.
So the database alone (a backup, a read-only replica, an injection) can never produce a grant id, while the server
can give the id again to the one person entitled to it, its requester.

The key is ``OPSPILOT_SECRET_KEY`` (at least 32 characters), else the file ``<data_dir>/secret.key``, created with
32 random bytes, readable by its owner only, the first time it is needed. Every worker and host serving one
OpsPilot must share it: several hosts set ``OPSPILOT_SECRET_KEY``; workers on one host share the data folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from core_client.errors import ConfigurationError
from core_client.settings import Settings

KEY_FILE = "secret.key"
MIN_KEY_CHARS = 32


class ServerKey:
    """An HMAC key held by the server; derives values nobody can compute from the database alone."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_CHARS:
            raise ConfigurationError(
                f"OPSPILOT_SECRET_KEY must have at least {MIN_KEY_CHARS} characters", source="settings"
            )
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerKey:
        """``OPSPILOT_SECRET_KEY``, else ``<data_dir>/secret.key`` (made on first use, mode 600)."""
        if settings.secret_key is not None:
            return cls(settings.secret_key.get_secret_value().encode())
        return cls(_key_file(settings.data_dir / KEY_FILE))

    def derive(self, purpose: str, value: str) -> str:
        """A URL-safe HMAC-SHA256 of ``value`` for ``purpose`` (so one derivation never doubles as another)."""
        digest = hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _key_file(path: Path) -> bytes:
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise ConfigurationError(
            f"{path} does not hold a hex key: remove it to make a new one", source="settings"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(secrets.token_bytes(32).hex() + "\n")
    try:
        # A hard link appears whole or not at all: two workers starting together keep the first key written.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _key_file(path)
