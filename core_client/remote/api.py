"""The HTTP client for one OpsOrch Core: bearer token, timeouts, ``{code, message}`` errors, retried reads.

core_client never imports adapters, so this is the remote mode's own small client rather than the adapters'
REST plumbing. Reads are retried on 429/502/503/504 and refused connections with exponential backoff and
jitter; writes are sent exactly once, because a mutation is never retried above the server. Messages name the
route and what the server said, never the token.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from core_client.errors import (
    BadQuery,
    CapabilityNotConfigured,
    NotFound,
    OpsPilotError,
    ProviderUnavailable,
)

SOURCE = "opsorch"
READ_ATTEMPTS = 3
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class _Transient(ProviderUnavailable):
    """A failure worth another try for a read: a rate limit, a gateway error, a refused connection."""


class CoreApi:
    """One OpsOrch Core's REST API, shared by every capability served from it."""

    def __init__(
        self,
        base_url: str,
        *,
        token: SecretStr | None = None,
        retry_wait_max: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if token is not None and token.get_secret_value():
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        self._retry_wait_max = retry_wait_max
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, transport=transport)
        self._closed = False

    @property
    def where(self) -> str:
        """The server's address for messages: scheme, host and port, without any credentials in the URL."""
        url = httpx.URL(self.base_url)
        return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")

    async def read(
        self,
        method: str,
        route: str,
        *,
        time_limit: float,
        json: Any = None,
        retry: bool = True,
    ) -> Any:
        """A request without side effects, retried on transient failures unless ``retry`` is False.

        Returns the decoded JSON body.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient),
            wait=wait_random_exponential(multiplier=0.1, max=self._retry_wait_max),
            stop=stop_after_attempt(READ_ATTEMPTS if retry else 1),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(method, route, time_limit=time_limit, json=json)
        raise ProviderUnavailable(f"{method} {route} failed", source=SOURCE)  # unreachable: reraise=True

    async def write(
        self,
        method: str,
        route: str,
        *,
        time_limit: float,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """A request that changes something: sent once, never retried.

        ``idempotency_key`` (the grant's id) goes in an ``Idempotency-Key`` header, for a core or proxy that
        honours it; OpsOrch Core itself ignores it.
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        try:
            return await self._send(method, route, time_limit=time_limit, json=json, headers=headers)
        except _Transient as exc:
            raise ProviderUnavailable(exc.message, source=SOURCE) from None

    async def _send(
        self,
        method: str,
        route: str,
        *,
        time_limit: float,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = await self._http.request(method, route, json=json, headers=headers, timeout=time_limit)
        except httpx.TimeoutException:
            # Not retried: a slow server rarely gets faster, and the caller's time budget is already spent.
            raise ProviderUnavailable(
                f"{method} {route}: OpsOrch Core at {self.where} did not answer within {time_limit:g} s",
                source=SOURCE,
            ) from None
        except httpx.HTTPError as exc:
            raise _Transient(
                f"{method} {route}: cannot reach OpsOrch Core at {self.where} ({type(exc).__name__})",
                source=SOURCE,
            ) from None
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise ProviderUnavailable(
                    f"{method} {route}: OpsOrch Core answered {response.status_code} with a body that is not JSON",
                    source=SOURCE,
                ) from None
        raise error_for(response, f"{method} {route}")

    async def aclose(self) -> None:
        """Close the connection pool; safe to call once per capability that shares this client."""
        if not self._closed:
            self._closed = True
            await self._http.aclose()


def error_for(response: httpx.Response, what: str) -> OpsPilotError:
    """The typed error for an OpsOrch Core error response (``{code, message}``, or plain text)."""
    status = response.status_code
    code, message = _code_and_message(response)
    said = (
        f"{what}: OpsOrch Core answered {status}"
        + (f" {code}" if code else "")
        + (f": {message}" if message else "")
    )
    if status in (401, 403):
        return ProviderUnavailable(
            f"{what}: OpsOrch Core refused our credentials ({status}); check OPSORCH_CORE_TOKEN",
            source=SOURCE,
        )
    if status == 400:
        return BadQuery(said, source=SOURCE)
    if status == 404:
        return NotFound(said, source=SOURCE)
    if status == 501:
        return CapabilityNotConfigured(said, source=SOURCE)
    if status in RETRYABLE_STATUSES:
        return _Transient(said, source=SOURCE)
    return ProviderUnavailable(said, source=SOURCE)


def _code_and_message(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text.strip()[:300]
    if isinstance(body, dict):
        return str(body.get("code") or ""), str(body.get("message") or "")[:500]
    return "", str(body)[:300]
