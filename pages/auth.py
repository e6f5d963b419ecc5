"""The one sign-in module: streamlit-authenticator (users from the database, pre-hashed, a signed
re-auth cookie) plus what it lacks — a cookie key that must be set, a lockout kept in the database,
roles read from the database on every run, never from the session, and a cookie that names a
server-side session (mcc/sessions.py), so signing out or a password change really ends it."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import streamlit as st

from mcc import sessions, users
from mcc.config import demo_mode
from mcc.context import Context
from mcc.errors import ConfigError, MccError
from mcc.permissions import Actor

log = logging.getLogger(__name__)

COOKIE_NAME = "mcc_session"
COOKIE_EXPIRY_DAYS = 0.5
COOKIE_ALGORITHM = "HS256"  # the only one accepted: `none`, RS256, HS512… all show the sign-in form
SESSION_KEY = "mcc_session_id"  # session_state: the server-side session this browser session is
CLEAR_COOKIE_KEY = "mcc_clear_cookie"  # session_state: the browser still holds a dead cookie


@dataclass(frozen=True)
class SignedIn:
    """The person using this browser session, as the database knows them right now."""

    username: str
    name: str
    roles: tuple[str, ...]

    @property
    def actor(self) -> Actor:
        return Actor(self.username, frozenset(self.roles))

    def has(self, role: str) -> bool:
        return self.actor.has(role)


def cookie_key() -> str:
    """MCC_COOKIE_KEY (≥ 32 bytes); the demo alone may run on a random per-process key."""
    key = users.cookie_key_from_environment()
    if key is not None:
        return key
    if demo_mode():
        return _demo_cookie_key()
    raise users.missing_cookie_key()


@st.cache_resource(show_spinner=False)
def _demo_cookie_key() -> str:
    return secrets.token_urlsafe(48)


@st.cache_data(ttl=30, max_entries=4, show_spinner=False)
def _credentials(_context: Context, version: int) -> dict[str, Any]:
    return users.credentials(_context.reader)


@st.cache_data(ttl=30, max_entries=256, show_spinner=False)
def _user(_context: Context, username: str, version: int) -> users.UserInfo | None:
    return users.get_user(_context.reader, username)


@st.cache_data(ttl=30, max_entries=256, show_spinner=False)
def _session_active(_context: Context, username: str, session_id: str, version: int) -> bool:
    return sessions.session_active(_context.reader, username, session_id)


def browser_cookie() -> str | None:
    """The sign-in cookie the browser sent when it connected."""
    value = st.context.cookies.get(COOKIE_NAME)
    return value if isinstance(value, str) and value else None


def decode_cookie(token: str, key: str, now: float | None = None) -> dict[str, Any] | None:
    """The claims of a sign-in cookie this app signed, or None for anything else: another algorithm
    (`none` included), a bad signature, a malformed token, missing claims or an expired one."""
    import time

    import jwt

    try:
        if jwt.get_unverified_header(token).get("alg") != COOKIE_ALGORITHM:
            return None
        claims = jwt.decode(token, key, algorithms=[COOKIE_ALGORITHM])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
    username, session_id, expires = claims.get("username"), claims.get("sid"), claims.get("exp_date")
    if not (isinstance(username, str) and username and isinstance(session_id, str) and session_id):
        return None
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        return None
    if expires <= (time.time() if now is None else now):
        return None
    return {"username": username, "sid": session_id, "exp_date": expires}


def _use_our_cookie(authenticator: Any) -> None:
    """The library's cookie carries only a username and accepts whatever jwt raises on as an error box;
    ours also names the server-side session, and anything we did not sign is simply no cookie."""
    import jwt

    model = authenticator.cookie_controller.cookie_model
    key = model.cookie_key

    def get_cookie() -> dict[str, Any] | bool | None:
        if st.session_state.get("logout"):
            return False  # signed out in this browser session: the old cookie is not read again
        raw = browser_cookie()
        if raw is None:
            return None
        claims = decode_cookie(raw, key)
        if claims is None:
            st.session_state[CLEAR_COOKIE_KEY] = True
        return claims

    def encode() -> str:
        claims = {
            "username": st.session_state["username"],
            "exp_date": model.exp_date,
            "sid": st.session_state[SESSION_KEY],
        }
        return jwt.encode(claims, key, algorithm=COOKIE_ALGORITHM)

    model.get_cookie = get_cookie
    model._token_encode = encode


def _clear_cookie(authenticator: Any) -> None:
    """Tell the browser to drop the sign-in cookie (it is dead server-side already)."""
    component = authenticator.cookie_controller.cookie_model.cookie_manager.cookie_manager
    component(method="delete", cookie=COOKIE_NAME, key="mcc_clear_cookie", default=False)


def _users_version(context: Context) -> int:
    """Every user change is audited, so the newest audit id moves whenever a user does."""
    from pages.common import data_version

    return data_version(context).audit


def _authenticator(context: Context) -> Any:
    import streamlit_authenticator as stauth

    authenticator = stauth.Authenticate(
        _credentials(context, _users_version(context)),
        cookie_name=COOKIE_NAME,
        cookie_key=cookie_key(),
        cookie_expiry_days=COOKIE_EXPIRY_DAYS,
        auto_hash=False,
        login_sleep_time=0,  # the bcrypt cost is the delay; the library's fixed sleep only slows pages
    )
    controller = authenticator.authentication_controller
    known = controller.authentication_model.credentials["usernames"]
    original = controller.login

    def guarded_login(
        username: str | None = None, password: str | None = None, *args: Any, token: Any = None, **kwargs: Any
    ) -> bool | None:
        if token:  # the re-auth cookie: only for a live session of a user still enabled and not locked
            info = users.get_user(context.reader, str(token.get("username", "")))
            session_id = str(token.get("sid", ""))
            if (
                info is None
                or info.disabled
                or info.locked()
                or not sessions.session_active(context.reader, info.username, session_id)
            ):
                st.session_state[CLEAR_COOKIE_KEY] = True
                return None
            st.session_state[SESSION_KEY] = session_id
            return original(username, password, *args, token=token, **kwargs)  # type: ignore[no-any-return]
        if not username:
            return original(username, password, *args, token=token, **kwargs)  # type: ignore[no-any-return]
        name = users.normalise_username(username)
        users.ensure_may_sign_in(context.engine, name)
        if name not in known:
            users.password_matches(password or "", users._dummy_hash(users.BCRYPT_ROUNDS))
        result = original(username, password, *args, token=token, **kwargs)
        users.record_sign_in(context.engine, name, bool(result))
        if result:  # before the library writes the cookie, which names this session
            st.session_state[SESSION_KEY] = sessions.start_session(context.engine, name)
            st.session_state.pop(CLEAR_COOKIE_KEY, None)
        return result  # type: ignore[no-any-return]

    controller.login = guarded_login
    _use_our_cookie(authenticator)
    return authenticator


def _stand_in_pages(page_paths: list[tuple[str, str]]) -> None:
    """While signed out, every page URL shows the sign-in form, so a link or a refresh on
    /review lands on the review page after signing in (page identity is the URL path)."""
    pages = [
        st.Page(_sign_in_page, title=title, url_path=url_path, default=index == 0)
        for index, (title, url_path) in enumerate(page_paths)
    ]
    st.navigation(pages, position="hidden")


def _sign_in_page() -> None:  # drawn by gate(); the navigation only needs a callable
    pass


def gate(context: Context, page_paths: list[tuple[str, str]]) -> SignedIn:
    """Show the sign-in form and stop the run unless someone is signed in; return who it is."""
    try:
        authenticator = _authenticator(context)
    except ConfigError as error:
        _stand_in_pages(page_paths)
        st.error(str(error))
        st.stop()
    was_signed_in = bool(st.session_state.get("authentication_status"))
    if not was_signed_in:
        _stand_in_pages(page_paths)
        from pages.common import CSS

        st.markdown(CSS, unsafe_allow_html=True)
        _, middle, _ = st.columns([1, 1.3, 1])
        with middle:
            st.markdown(
                "<div class='mcc-brand'><span class='mcc-logo'>◆</span> Morton Command Center</div>"
                "<p class='mcc-muted'>Billing leakage, reviewed by a person, invoiced once.</p>",
                unsafe_allow_html=True,
            )
            try:
                authenticator.login(
                    location="main",
                    key="sign_in",
                    fields={
                        "Form name": "Sign in",
                        "Username": "Username",
                        "Password": "Password",
                        "Login": "Sign in",
                    },
                )
            except MccError as error:
                st.error(str(error))
            except Exception as error:  # the library's LoginError: not a bug of ours, a refusal
                if type(error).__name__ != "LoginError":
                    raise
                st.error("Sign-in refused. Ask an admin if this persists.")
            status = st.session_state.get("authentication_status")
            if status is False:
                st.error("Username or password is incorrect.")
            if demo_mode():
                st.info(
                    "Demo: sign in with the users and passwords printed by `mcc demo`.",
                    icon=":material/info:",
                )
            if status:
                st.success("Signed in — opening…")  # the cookie component reruns the app in a moment
            elif st.session_state.get(CLEAR_COOKIE_KEY):
                _clear_cookie(authenticator)
        st.stop()
    user = current_user(context)
    if user is None:
        sign_out(authenticator, context)
        st.rerun()
    assert user is not None
    with st.sidebar:
        st.markdown(
            f"<div class='mcc-user'><b>{_escape(user.name)}</b><br><span class='mcc-muted'>"
            f"{_escape(user.username)} · {', '.join(user.roles)}</span></div>",
            unsafe_allow_html=True,
        )
        if st.button("Sign out", key="sign_out", icon=":material/logout:", width="stretch"):
            sign_out(authenticator, context)
            st.rerun()
    return user


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def current_user(context: Context) -> SignedIn | None:
    """Who is signed in, with roles from the database (a forged session_state['roles'] counts for nothing).
    None when nobody is, or the user has since been disabled, removed or locked."""
    if not st.session_state.get("authentication_status"):
        return None
    username = st.session_state.get("username")
    if not isinstance(username, str) or not username:
        return None
    version = _users_version(context)
    info = _user(context, users.normalise_username(username), version)
    if info is None or info.disabled or info.locked():
        return None
    session_id = st.session_state.get(SESSION_KEY)
    if not isinstance(session_id, str) or not _session_active(context, info.username, session_id, version):
        return None  # signed out elsewhere, password changed, or a session that never signed in
    return SignedIn(info.username, info.name, info.roles)


def sign_out(authenticator: Any, context: Context) -> None:
    """End the server-side session (so the cookie is dead even if the browser keeps it), clear this
    browser session, and have the sign-in page tell the browser to drop the cookie."""
    session_id = st.session_state.get(SESSION_KEY)
    username = st.session_state.get("username")
    if isinstance(session_id, str) and isinstance(username, str):
        sessions.end_session(context.engine, users.normalise_username(username), session_id)
    st.session_state[SESSION_KEY] = None
    st.session_state[CLEAR_COOKIE_KEY] = True
    try:
        authenticator.logout(location="unrendered")
    except Exception as error:  # LogoutError when already signed out
        log.debug("sign-out: %s", type(error).__name__)
    for key in ("authentication_status", "username", "name", "email", "roles"):
        st.session_state[key] = None
