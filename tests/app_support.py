"""Running the app in-process with AppTest: a migrated database, one user per role, signed in by
seeding the session the way pages/auth.py reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from mcc import users
from mcc.permissions import Actor
from pages.auth import SESSION_KEY

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PASSWORD = "a long test password"
PEOPLE = {
    "viewer": ("Vera Viewer", ["viewer"]),
    "approver": ("Abe Approver", ["approver"]),
    "invoicer": ("Ines Invoicer", ["invoicer"]),
    "admin": ("Ada Admin", ["admin"]),
}
COOKIE_KEY = "test-cookie-key-0123456789-abcdefghijklmnopqrstuv"


def prepare(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users for every role, a cookie key, fast bcrypt, and no cache left over from another database."""
    monkeypatch.setenv("MCC_COOKIE_KEY", COOKIE_KEY)
    monkeypatch.delenv("MCC_DEMO", raising=False)
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    root = Actor("setup", frozenset({"admin"}))
    for username, (name, roles) in PEOPLE.items():
        users.add_user(engine, root, username, name=name, password=PASSWORD, roles=roles)
    st.cache_data.clear()
    st.cache_resource.clear()
    only_navigation(monkeypatch)
    from streamlit import config

    config.set_option("client.showErrorDetails", "full")  # tests want the real message


def only_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `mcc serve` does: the app's st.navigation is the only router, so a page file never runs
    without app.py's sign-in gate (Streamlit would otherwise treat pages/ as legacy auto-pages)."""
    original = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def signed_in(
    username: str | None, page: str | None = None, *, roles: list[str] | None = None, timeout: float = 30
) -> AppTest:
    """The app as `username` sees it (None: signed out), optionally switched to `page` (a file under pages/).
    `roles` forges session_state['roles']; the app must ignore it."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if username is not None:
        name, real_roles = PEOPLE.get(username, (username, ["viewer"]))
        for key, value in {
            "authentication_status": True,
            "username": username,
            "name": name,
            "roles": roles if roles is not None else real_roles,
            "logout": None,
            SESSION_KEY: start_session(username),
        }.items():
            at.session_state[key] = value
    at.run()
    if page is not None and not at.exception:
        at.switch_page(page).run()
    return at


def start_session(username: str) -> str:
    """A server-side session for `username`, as signing in with the password starts one."""
    from mcc import sessions
    from mcc.context import open_context

    context = open_context()
    try:
        return sessions.start_session(context.engine, username)
    finally:
        context.dispose()


def texts(at: AppTest) -> str:
    """Everything written on the screen, for 'does the page say X' assertions."""
    parts: list[str] = []
    for kind in (
        "title",
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
        "subheader",
        "header",
    ):
        parts.extend(str(element.value) for element in at.get(kind))
    parts.extend(f"{m.label} {m.value}" for m in at.metric)
    return "\n".join(parts)
