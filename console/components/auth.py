"""Sign-in pieces: the signed-in user's menu, and the forms of the sign-in and first-run pages.

The forms are plain HTML forms posted to the backend's sign-in routes (console/backend/sign_in.py), which set the
HttpOnly session cookie: no script, the app's included, ever holds the password's session.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex_base.constants import Dirs
from reflex_base.utils.imports import ImportVar
from reflex_base.vars.base import Var, VarData
from reflex_components_core.el.elements.base import BaseHTML

from console.backend.sign_in import SETUP_PATH, SIGN_IN_PATH, SIGN_OUT_PATH
from console.state.session import SessionState as S

ROLE_COLORS = {"viewer": "gray", "responder": "blue", "approver": "amber", "admin": "red"}


def role_badge(role: rx.Var[str]) -> rx.Component:
    return rx.badge(role, color_scheme=rx.match(role, *ROLE_COLORS.items(), "gray"), variant="soft")


def user_menu() -> rx.Component:
    """Name and role of the signed-in person, with Sign out."""
    return rx.cond(
        S.signed_in,
        rx.menu.root(
            rx.menu.trigger(
                rx.button(
                    rx.icon("circle-user", size=18),
                    rx.text(S.display_name, size="2"),
                    role_badge(S.role),
                    variant="ghost",
                    color_scheme="gray",
                    data_testid="user-menu",
                ),
            ),
            rx.menu.content(
                rx.box(
                    rx.text(S.user, " · ", S.role, size="1", color=rx.color("gray", 10)),
                    padding_x="0.75rem",
                    padding_y="0.25rem",
                ),
                rx.menu.separator(),
                rx.menu.item(
                    # A page load of the backend's route (it clears the HttpOnly cookie); the event forgets the
                    # tab's data meanwhile.
                    rx.el.a(
                        rx.hstack(rx.icon("log-out", size=14), "Sign out", align="center", spacing="2"),
                        href=backend_url(SIGN_OUT_PATH),
                        color="inherit",
                        text_decoration="none",
                    ),
                    on_click=S.sign_out,
                    data_testid="sign-out",
                ),
            ),
        ),
    )


def _field(label: str, name: str, *, kind: str = "text", autofocus: bool = False) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(
            id=name,
            name=name,
            type=kind,
            required=True,
            auto_focus=autofocus,
            size="3",
            width="100%",
            data_testid=f"field-{name}",
        ),
        spacing="1",
        width="100%",
    )


def _error() -> rx.Component:
    return rx.cond(
        S.auth_error != "",
        rx.callout(
            S.auth_error, icon="triangle-alert", color_scheme="red", role="alert", data_testid="auth-error"
        ),
    )


def _card(heading: str, intro: str | rx.Component, form: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("radar", size=28, color=rx.color("accent", 10)),
                    rx.heading("OpsPilot", size="6"),
                    align="center",
                    spacing="2",
                ),
                rx.heading(heading, size="4"),
                intro
                if isinstance(intro, rx.Component)
                else rx.text(intro, size="2", color=rx.color("gray", 11)),
                _error(),
                form,
                spacing="4",
                width="100%",
            ),
            size="4",
            width="24rem",
        ),
        rx.box(rx.color_mode.button(), position="fixed", top="1rem", right="1rem"),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def backend_url(path: str) -> rx.Var[str]:
    """``path`` on the backend, as the browser reaches it (Reflex's own rule for its websocket and uploads)."""
    return Var(
        _js_expr=f"new URL({json.dumps(path)}, getBackendURL(env.UPLOAD)).href",
        _var_data=VarData(
            imports={
                f"$/{Dirs.STATE_PATH}": "getBackendURL",
                "$/env.json": ImportVar(tag="env", is_default=True),
            }
        ),
    ).to(str)


class _PostedForm(BaseHTML):
    """A plain ``<form>``: ``rx.el.form`` always handles the submit in script, and these must reach the backend."""

    tag = "form"
    action: rx.Var[str]
    method: rx.Var[str]


def _aimed_on_submit(path: str) -> Var:
    """A submit handler that points the form at the backend's ``path`` as the browser reaches it then.

    A production build prerenders the page, so its ``action`` is the address the build saw (``localhost``), and
    React does not correct attributes when it hydrates; a console opened at another address would post elsewhere.
    The browser reads the action only after the submit event, so setting it here is what is posted to.
    """
    url = backend_url(path)
    return Var(
        _js_expr=f"((event) => {{ event.currentTarget.action = {url}; }})",
        _var_data=url._get_all_var_data(),
    )


def _posted(path: str, *fields: rx.Component) -> rx.Component:
    """A form the browser itself posts to the backend's ``path`` (a full page load comes back)."""
    return _PostedForm.create(
        rx.vstack(*fields, spacing="3", width="100%"),
        action=backend_url(path),
        method="post",
        width="100%",
        custom_attrs={"onSubmit": _aimed_on_submit(path)},
    )


def sign_in_form() -> rx.Component:
    """The ``/login`` page's card."""
    form = _posted(
        SIGN_IN_PATH,
        rx.el.input(type="hidden", name="next", value=S.next_target),
        _field("Username", "username", autofocus=True),
        _field("Password", "password", kind="password"),
        rx.button("Sign in", type="submit", size="3", width="100%", data_testid="sign-in"),
    )
    return _card("Sign in", "Sign in with your OpsPilot user.", form)


def first_admin_form() -> rx.Component:
    """The ``/setup`` page's card: the first admin, offered only while no user exists."""
    form = _posted(
        SETUP_PATH,
        _field("Username", "username", autofocus=True),
        rx.vstack(
            rx.text(
                "Display name (optional)", as_="label", size="2", weight="medium", html_for="display_name"
            ),
            rx.input(id="display_name", name="display_name", size="3", width="100%"),
            spacing="1",
            width="100%",
        ),
        _field("Password (8 characters or more)", "password", kind="password"),
        _field("Password again", "confirm", kind="password"),
        rx.button("Create the admin", type="submit", size="3", width="100%", data_testid="setup"),
    )
    return _card(
        "First run",
        rx.text(
            "No user exists yet. Create the first admin; they can add everyone else with ",
            rx.code("opspilot users add"),
            ".",
            size="2",
            color=rx.color("gray", 11),
        ),
        form,
    )
