"""The HTTP plumbing every REST provider shares: timeouts, typed errors, and retries for reads.

A provider builds one :class:`RestClient` per configured base URL. ``read()`` retries rate limits (honouring
``Retry-After``) and server errors with exponential backoff and jitter; ``write()`` never retries, because a
mutation is never retried above the adapter's own idempotency. Every failure becomes a typed error whose message
names the provider and the status, never the credentials.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from core_client.errors import BadQuery, NotFound, ProviderUnavailable

RETRY_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 30.0

ErrorDetail = Callable[[httpx.Response], str]


class RetryableError(ProviderUnavailable):
    """A rate limit or a server error: worth another try for a read, after ``retry_after`` seconds if given."""

    def __init__(self, message: str, *, source: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, source=source)
        self.retry_after = retry_after


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds, from either of its forms (a number, or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return min(max(parsed.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER_S)


def _default_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, Mapping):
        for key in ("message", "error", "errorMessages", "errors"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:200]


def raise_for_status(response: httpx.Response, *, source: str, detail: ErrorDetail = _default_detail) -> None:
    """Map an unsuccessful response to the typed error a caller can act on."""
    if response.is_success:
        return
    status = response.status_code
    what = f"{response.request.method} {response.request.url.path} returned {status}: {detail(response)}"
    if status in (401, 403):
        raise ProviderUnavailable(
            f"credentials refused ({status}); check the provider's token and its permissions", source=source
        )
    if status == 404:
        raise NotFound(what, source=source)
    if status == 429 or status >= 500:
        raise RetryableError(what, source=source, retry_after=retry_after_seconds(response))
    if status in (400, 409, 422):
        raise BadQuery(what, source=source)
    raise ProviderUnavailable(what, source=source)


class BasicAuth(BaseModel):
    """``{"username", "password"}`` for HTTP Basic auth; the password is a secret."""

    model_config = ConfigDict(extra="forbid")

    username: str
    password: SecretStr


def authorization(
    *, scheme: str, token: SecretStr | None, basic: BasicAuth | None, token_env: str
) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    """The ``Authorization`` header (``<scheme> <token>``) or the Basic auth of a configured credential; without
    either, the token in ``$token_env`` if set. The secret goes into the request and nowhere else."""
    if token is None and basic is None and os.environ.get(token_env):
        token = SecretStr(os.environ[token_env])
    headers = {"Authorization": f"{scheme} {token.get_secret_value()}"} if token is not None else {}
    auth = httpx.BasicAuth(basic.username, basic.password.get_secret_value()) if basic else None
    return headers, auth


class _WaitRetryAfter:
    """Wait as long as the server asked, else back off exponentially with jitter."""

    def __init__(self, fallback: Callable[[Any], float]) -> None:
        self._fallback = fallback

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        return self._fallback(retry_state)


class RestClient:
    """One provider's HTTP API: base URL, auth headers, timeout, error mapping."""

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float = 10.0,
        detail: ErrorDetail = _default_detail,
        retry_wait_max: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.source = source
        self._detail = detail
        self._retry_wait_max = retry_wait_max
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise RetryableError(f"{method} {path} timed out", source=self.source) from None
        except httpx.HTTPError as exc:
            raise RetryableError(
                f"{method} {path} failed: {type(exc).__name__}", source=self.source
            ) from None
        raise_for_status(response, source=self.source, detail=self._detail)
        return response

    async def read(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request without side effects: retried on 429, 5xx and connection failures."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, RetryableError)),
            wait=_WaitRetryAfter(wait_random_exponential(multiplier=0.25, max=self._retry_wait_max)),
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(method, path, **kwargs)
        raise ProviderUnavailable(f"{method} {path} failed", source=self.source)  # unreachable: reraise=True

    async def write(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request that changes something: sent once, never retried."""
        try:
            return await self._send(method, path, **kwargs)
        except RetryableError as exc:
            raise ProviderUnavailable(exc.message, source=self.source) from None

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        return (await self.read("GET", path, **kwargs)).json()

    async def aclose(self) -> None:
        await self._http.aclose()
