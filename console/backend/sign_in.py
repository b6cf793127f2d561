"""The backend's sign-in routes: the only place the session cookie is written, so script never reads it.

The sign-in and first-run pages are plain HTML forms posting here (``POST /auth/sign-in``, ``POST /auth/setup``);
each answers with a redirect back to the console, setting the cookie ``HttpOnly; SameSite=Strict; Path=/`` (and
``Secure`` when the console is served over https). ``GET /auth/sign-out`` ends the session and clears the cookie.
A post must come from the console's own origin (its ``Origin`` header), which also stops another site from signing
a browser in as someone else. A failure goes back to the form with a code the page turns into a fixed message: no
text from the request is ever echoed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from urllib.parse import urlencode, urlsplit

from reflex.config import get_config
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from console import runtime
from console.backend.session import (
    COOKIE_NAME,
    LOGIN_ROUTE,
    SETUP_ROUTE,
    ConsoleSessions,
    Throttled,
    client_address,
    safe_next,
    session_token,
)
from core_client.errors import BadQuery, Forbidden, OpsPilotError

# Form fields are short; a bigger body is refused before it is parsed.
MAX_FORM_BYTES = 8192
# Codes a failed form comes back with (console/components/auth.py says each in words).
FAILED_CREDENTIALS = "credentials"
FAILED_THROTTLED = "throttled"
FAILED_UNAVAILABLE = "unavailable"
FAILED_MISMATCH = "mismatch"
FAILED_INVALID = "invalid"
FAILURE_MESSAGES = {
    FAILED_CREDENTIALS: "Wrong username or password.",
    FAILED_UNAVAILABLE: "Sign-in is unavailable right now (the database cannot be reached): try again shortly.",
    FAILED_MISMATCH: "The two passwords differ.",
    FAILED_INVALID: "Choose a username of 2-32 lowercase letters, digits, dots, dashes or underscores, starting "
    "with a letter, and a password of 8 characters or more.",
}


def failure_message(code: str, wait: str = "") -> str:
    """What the sign-in or first-run page says for the code a failed form came back with (``""`` for none)."""
    if code == FAILED_THROTTLED:
        seconds = wait if wait.isdigit() else "a few"
        return f"Too many failed sign-ins: try again in {seconds} seconds."
    return FAILURE_MESSAGES.get(code, "")


# One machine's own names: a console configured as one of them is reached by any (same port).
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _aliases(origin: str) -> list[str]:
    parts = urlsplit(origin)
    if (parts.hostname or "") not in ("localhost", "127.0.0.1", "::1"):
        return [origin]
    port = f":{parts.port}" if parts.port else ""
    return [f"{parts.scheme}://{host}{port}" for host in LOOPBACK]


async def console_origins(request: Request) -> list[str]:
    """Where the console's pages are served: Reflex's deploy URL, the configured console URL, this backend."""
    found = [
        _origin(get_config().deploy_url or ""),
        _origin((await runtime.core()).settings.console_url),
        _origin(str(request.base_url)),
    ]
    return list(dict.fromkeys(alias for origin in found if origin for alias in _aliases(origin)))


async def _caller(request: Request, header: str = "origin") -> str | None:
    """The console origin a request came from (by ``header``); ``None`` when it came from anywhere else."""
    origin = _origin(request.headers.get(header) or "")
    return origin if origin and origin in await console_origins(request) else None


def _back(origin: str, path: str, **params: str) -> RedirectResponse:
    query = f"?{urlencode(params)}" if params else ""
    return RedirectResponse(f"{origin}{path}{query}", status_code=303)


def _with_cookie(response: Response, origin: str, token: str, max_age: int) -> Response:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=origin.startswith("https://"),
    )
    return response


async def _form(request: Request) -> dict[str, str] | None:
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


Handler = Callable[[Request], Awaitable[Response]]


def _from_console(handler: Callable[[Request, str, dict[str, str]], Awaitable[Response]]) -> Handler:
    """Refuse a post that did not come from the console's own page (or is too big to be a form)."""

    async def checked(request: Request) -> Response:
        origin = await _caller(request)
        if origin is None:
            return PlainTextResponse("sign in from the console's own page", status_code=403)
        form = await _form(request)
        if form is None:
            return PlainTextResponse("the form is too large", status_code=413)
        return await handler(request, origin, form)

    return checked


async def _sign_in(request: Request, origin: str, form: dict[str, str]) -> Response:
    target = safe_next(form.get("next"))
    core = await runtime.core()
    sessions = ConsoleSessions.of(core)
    try:
        token, _ = await sessions.sign_in(
            form.get("username", ""), form.get("password", ""), client=client_address(request)
        )
    except Throttled as exc:
        return _back(origin, LOGIN_ROUTE, next=target, failed=FAILED_THROTTLED, wait=str(exc.retry_after))
    except (Forbidden, BadQuery):
        return _back(origin, LOGIN_ROUTE, next=target, failed=FAILED_CREDENTIALS)
    except OpsPilotError:
        return _back(origin, LOGIN_ROUTE, next=target, failed=FAILED_UNAVAILABLE)
    return _with_cookie(_back(origin, target), origin, token, sessions.ttl_seconds)


async def _setup(request: Request, origin: str, form: dict[str, str]) -> Response:
    if form.get("password", "") != form.get("confirm", ""):
        return _back(origin, SETUP_ROUTE, failed=FAILED_MISMATCH)
    sessions = ConsoleSessions.of(await runtime.core())
    try:
        token, _ = await sessions.create_first_admin(
            form.get("username", ""), form.get("password", ""), display_name=form.get("display_name", "")
        )
    except Forbidden:
        return _back(origin, LOGIN_ROUTE)
    except BadQuery:
        return _back(origin, SETUP_ROUTE, failed=FAILED_INVALID)
    except OpsPilotError:
        return _back(origin, SETUP_ROUTE, failed=FAILED_UNAVAILABLE)
    return _with_cookie(_back(origin, "/"), origin, token, sessions.ttl_seconds)


async def _sign_out(request: Request) -> Response:
    """End the session and clear the cookie; a link from another site only clears it (no cookie comes with it)."""
    origin = await _caller(request, "referer") or (await console_origins(request))[0]
    token = session_token(request.headers.get("cookie", ""))
    if token and request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "same-site", "none"):
        # The cookie goes anyway; without the database the session expires on its own.
        with suppress(OpsPilotError):
            await ConsoleSessions.of(await runtime.core()).sign_out(token)
    response = _back(origin, LOGIN_ROUTE)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


SIGN_IN_PATH = "/auth/sign-in"
SETUP_PATH = "/auth/setup"
SIGN_OUT_PATH = "/auth/sign-out"


def sign_in_routes() -> list[Route]:
    """The routes to mount on the backend (``rx.App(api_transformer=...)``)."""
    return [
        Route(SIGN_IN_PATH, _from_console(_sign_in), methods=["POST"]),
        Route(SETUP_PATH, _from_console(_setup), methods=["POST"]),
        Route(SIGN_OUT_PATH, _sign_out, methods=["GET"]),
    ]
