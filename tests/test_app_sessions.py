"""The sign-in cookie names a server-side session: a reload with it signs in only while that session
lives; signing out, a password change, disable or lockout ends it; a cookie we did not sign (another
algorithm, `none` included) is no cookie at all — the sign-in form, never an error box."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from sqlalchemy import Engine, select

from mcc import sessions, users
from mcc.permissions import Actor
from pages import auth
from store.db import reading
from store.models import UserSession
from tests.app_support import COOKIE_KEY, PASSWORD, prepare, signed_in, start_session, texts

ADMIN = Actor("setup", frozenset({"admin"}))


@pytest.fixture
def app_db(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Engine:
    write_config()
    prepare(engine, monkeypatch)
    return engine


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch):
    """Stand in for the browser: the sign-in cookie it sends when a tab (re)connects."""
    held: dict[str, str | None] = {"cookie": None}
    monkeypatch.setattr(auth, "browser_cookie", lambda: held["cookie"])
    return held


def _cookie(username: str, session_id: str, *, key: str = COOKIE_KEY, algorithm: str = "HS256") -> str:
    claims = {"username": username, "sid": session_id, "exp_date": time.time() + 3600}
    return jwt.encode(claims, key, algorithm=algorithm)


def _reload(browser: dict[str, str | None], cookie: str | None):
    """A fresh tab (new browser session) sending `cookie`; once signed in, the rerun the page asks for."""
    browser["cookie"] = cookie
    at = signed_in(None)
    if at.session_state["authentication_status"] is True:
        at.run()
    return at


def _is_signed_in(at) -> bool:
    return not at.exception and at.session_state["authentication_status"] is True and not at.text_input


def test_a_live_session_cookie_signs_the_tab_back_in(app_db: Engine, browser) -> None:
    at = _reload(browser, _cookie("approver", start_session("approver")))
    assert _is_signed_in(at), texts(at)
    assert "Abe Approver" in texts(at)


def test_sign_out_ends_the_session_and_a_reload_shows_the_sign_in_form(
    app_db: Engine, browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    cleared: list[str] = []
    monkeypatch.setattr(auth, "_clear_cookie", lambda _authenticator: cleared.append("cleared"))
    session_id = start_session("approver")
    at = _reload(browser, _cookie("approver", session_id))
    assert _is_signed_in(at)
    at.button(key="sign_out").click().run()
    assert at.session_state["authentication_status"] is None and len(at.text_input) == 2
    assert cleared, "the sign-in page told the browser to drop the cookie"
    with reading(app_db) as session:
        row = session.scalars(select(UserSession)).one()
        assert (row.ended_reason, row.ended_at is not None) == ("signed out", True)
    again = _reload(browser, browser["cookie"])  # the browser kept the old cookie anyway
    assert not again.exception and again.session_state["authentication_status"] is not True
    assert len(again.text_input) == 2 and not again.error


def test_signing_in_with_the_password_starts_a_session_the_cookie_names(app_db: Engine, browser) -> None:
    at = signed_in(None)
    at.text_input[0].input("viewer")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["authentication_status"] is True
    session_id = at.session_state[auth.SESSION_KEY]
    assert sessions.session_active(app_db, "viewer", session_id)
    cookie = auth.decode_cookie(_cookie("viewer", session_id), COOKIE_KEY)
    assert cookie is not None and cookie["sid"] == session_id


@pytest.mark.parametrize("change", ["password", "disable", "lockout"])
def test_password_change_disable_or_lockout_ends_every_session_of_the_user(
    app_db: Engine, browser, change: str
) -> None:
    cookie = _cookie("approver", start_session("approver"))
    live = _reload(browser, cookie)
    assert _is_signed_in(live)
    other = start_session("viewer")
    if change == "password":
        users.set_password(app_db, ADMIN, "approver", "another long password")
    elif change == "disable":
        users.set_disabled(app_db, ADMIN, "approver", True)
        users.set_disabled(app_db, ADMIN, "approver", False)  # re-enabled: the old cookie stays dead
    else:
        for _ in range(users.MAX_FAILED_ATTEMPTS):
            users.record_sign_in(app_db, "approver", False)
        users.unlock(app_db, ADMIN, "approver")  # unlocked: the old cookie stays dead
    live.run()
    assert live.session_state["authentication_status"] is not True and len(live.text_input) == 2
    reloaded = _reload(browser, cookie)
    assert not reloaded.exception and len(reloaded.text_input) == 2
    assert sessions.session_active(app_db, "viewer", other)  # another user's session is untouched


def _unsigned(claims: dict[str, object], header: dict[str, str]) -> str:
    def part(value: dict[str, object] | dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


FORGED = {
    "alg none": lambda sid: _unsigned(
        {"username": "admin", "sid": sid, "exp_date": time.time() + 3600}, {"alg": "none", "typ": "JWT"}
    ),
    "alg None, signature kept": lambda sid: (
        _unsigned({"username": "admin", "sid": sid, "exp_date": time.time() + 3600}, {"alg": "None"})
        + "c2lnbmF0dXJl"
    ),
    "HS512 with the right key": lambda sid: _cookie("admin", sid, algorithm="HS512"),
    "HS384 with the right key": lambda sid: _cookie("admin", sid, algorithm="HS384"),
    "HS256 with another key": lambda sid: _cookie("admin", sid, key="x" * 48),
    "no session id": lambda sid: jwt.encode(
        {"username": "admin", "exp_date": time.time() + 3600}, COOKIE_KEY, algorithm="HS256"
    ),
    "expired": lambda sid: jwt.encode(
        {"username": "admin", "sid": sid, "exp_date": time.time() - 1}, COOKIE_KEY, algorithm="HS256"
    ),
    "exp_date a string": lambda sid: jwt.encode(
        {"username": "admin", "sid": sid, "exp_date": "never"}, COOKIE_KEY, algorithm="HS256"
    ),
    "someone else's session": lambda sid: _cookie("admin", start_session("viewer")),
    "not a token": lambda sid: "not-a-jwt",
    "bad base64": lambda sid: "eyJhbGciOiJIUzI1NiJ9.!!!.???",
}


@pytest.mark.parametrize("forge", FORGED.values(), ids=FORGED.keys())
def test_a_cookie_we_did_not_sign_shows_the_sign_in_form(app_db: Engine, browser, forge) -> None:
    session_id = start_session("admin")  # a live admin session: only the cookie is forged
    at = _reload(browser, forge(session_id))
    assert not at.exception
    assert at.session_state["authentication_status"] is not True
    assert len(at.text_input) == 2 and not at.error, [e.value for e in at.error]
    assert _is_signed_in(_reload(browser, _cookie("admin", session_id)))  # the genuine one still works
