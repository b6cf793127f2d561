"""PagerDuty's REST API v2: token auth, the versioned Accept header, ``From`` on writes, offset pagination."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from adapters.rest import RestClient
from core_client.errors import ConfigurationError
from core_client.schemas import decode_cursor, encode_cursor

SOURCE = "pagerduty"
MAX_PAGE = 100  # PagerDuty's largest page ("limit") for classic pagination


@dataclass(frozen=True)
class OffsetPage:
    """One page of a PagerDuty list, and the opaque cursor of the next one."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def _error_detail(response: httpx.Response) -> str:
    """PagerDuty's ``{"error": {"message", "code", "errors"}}``, as one line."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        extra = "; ".join(str(e) for e in error.get("errors", []))
        return f"{error.get('message', '')} (code {error.get('code')})" + (f": {extra}" if extra else "")
    return str(body)[:200]


class PagerDutyApi:
    """The calls the pagerduty providers make, over one shared HTTP client."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: SecretStr,
        from_email: str | None,
        timeout: float = 10.0,
        retry_wait_max: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.from_email = from_email
        self.rest = RestClient(
            source=SOURCE,
            base_url=base_url,
            headers={
                "Authorization": f"Token token={api_key.get_secret_value()}",
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
            timeout=timeout,
            detail=_error_detail,
            retry_wait_max=retry_wait_max,
            transport=transport,
        )

    async def get(self, path: str, params: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """One object, e.g. ``{"incident": {...}}``."""
        body: dict[str, Any] = await self.rest.get_json(path, params=params or [])
        return body

    async def page(
        self,
        path: str,
        key: str,
        *,
        params: list[tuple[str, str]],
        cursor: str | None,
        limit: int,
    ) -> OffsetPage:
        """One page of ``path``'s list ``key``, behind our cursor (``{"offset": n}``)."""
        offset = int(decode_cursor(cursor, source=SOURCE).get("offset", 0)) if cursor else 0
        size = max(1, min(limit, MAX_PAGE))
        body = await self.get(path, [*params, ("offset", str(offset)), ("limit", str(size))])
        items: list[dict[str, Any]] = body.get(key, [])
        more = bool(body.get("more")) and bool(items)
        return OffsetPage(items, encode_cursor({"offset": offset + len(items)}) if more else None)

    async def every(
        self, path: str, key: str, *, params: list[tuple[str, str]], cap: int = 1000
    ) -> list[dict[str, Any]]:
        """Every item of a list, page after page, up to ``cap`` items."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(items) < cap:
            page = await self.page(path, key, params=params, cursor=cursor, limit=MAX_PAGE)
            items.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return items[:cap]

    async def write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A mutation, sent once, with the ``From`` header PagerDuty requires of every write."""
        if not self.from_email:
            raise ConfigurationError(
                "provider 'pagerduty' needs key 'from_email' (the email of a PagerDuty user) to change anything",
                source=SOURCE,
            )
        response = await self.rest.write(method, path, json=body, headers={"From": self.from_email})
        result: dict[str, Any] = response.json()
        return result

    async def aclose(self) -> None:
        await self.rest.aclose()
