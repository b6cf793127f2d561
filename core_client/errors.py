"""The typed errors every part of OpsPilot raises and catches.

Each carries the name of the provider or tool it concerns (``source``) and a message a person can act on.
Callers catch these, never a raw exception from an adapter: CoreClient translates anything else into
``ProviderUnavailable``.
"""

from __future__ import annotations

from typing import Any


class OpsPilotError(Exception):
    """Base of every error OpsPilot raises on purpose."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, for tool errors and API responses."""
        return {"error": type(self).__name__, "source": self.source, "message": self.message}


class ConfigurationError(OpsPilotError):
    """Settings that cannot work: an unknown provider, malformed JSON, a missing key. Raised at start-up."""


class ProviderUnavailable(OpsPilotError):
    """The provider could not answer: unreachable, timed out, refused our credentials, or failed.

    ``timed_out`` says it gave no answer within its timeout: asking again would cost the whole timeout again.
    """

    def __init__(self, message: str, *, source: str | None = None, timed_out: bool = False) -> None:
        super().__init__(message, source=source)
        self.timed_out = timed_out

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "timed_out": self.timed_out}


class CapabilityNotConfigured(OpsPilotError):
    """No provider serves this capability, or the configured one does not offer this operation."""


class Unsupported(CapabilityNotConfigured):
    """The configured provider serves the capability but not this particular operation."""


class BadQuery(OpsPilotError):
    """The query or input is malformed: an invalid regex, an unknown operator, a field of the wrong type."""


class NotFound(OpsPilotError):
    """The object asked for does not exist."""


class ApprovalRequired(OpsPilotError):
    """A mutation was attempted without a valid grant; a person has to approve it first."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        request_id: str | None = None,
        approval_url: str | None = None,
    ) -> None:
        super().__init__(message, source=source)
        self.request_id = request_id
        self.approval_url = approval_url

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "request_id": self.request_id, "approval_url": self.approval_url}


class Forbidden(OpsPilotError):
    """Policy denies this action to this actor: a denied tool, a viewer mutating, an approver approving themselves."""


class Unauthenticated(Forbidden):
    """No valid credentials: no token, or one that is unknown, expired or revoked, or a session that has ended."""


__all__ = [
    "ApprovalRequired",
    "BadQuery",
    "CapabilityNotConfigured",
    "ConfigurationError",
    "Forbidden",
    "NotFound",
    "OpsPilotError",
    "ProviderUnavailable",
    "Unauthenticated",
    "Unsupported",
]
