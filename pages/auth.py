"""The one sign-in module: streamlit-authenticator (users from the database, pre-hashed, a signed
re-auth cookie) plus what it lacks — a cookie key that must be set, a lockout kept in the database,
and roles read from the database on every run, never from the session."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import streamlit as st

from mcc import users
from mcc.config import demo_mode
from mcc.context import Context
from mcc.errors import ConfigError, MccError
from mcc.permissions import Actor

log = logging.getLogger(__name__)

COOKIE_NAME = "mcc_session"
COOKIE_EXPIRY_DAYS = 0.5


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
        if token:  # the re-auth cookie: only for users still enabled and not locked
            info = users.get_user(context.reader, str(token.get("username", "")))
            if info is None or info.disabled or info.locked():
                return None
            return original(username, password, *args, token=token, **kwargs)  # type: ignore[no-any-return]
        if not username:
            return original(username, password, *args, token=token, **kwargs)  # type: ignore[no-any-return]
        name = users.normalise_username(username)
        users.ensure_may_sign_in(context.engine, name)
        if name not in known:
            users.password_matches(password or "", users._dummy_hash(users.BCRYPT_ROUNDS))
        result = original(username, password, *args, token=token, **kwargs)
        users.record_sign_in(context.engine, name, bool(result))
        return result  # type: ignore[no-any-return]

    controller.login = guarded_login
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
        st.stop()
    user = current_user(context)
    if user is None:
        sign_out(authenticator)
        st.rerun()
    assert user is not None
    with st.sidebar:
        st.markdown(
            f"<div class='mcc-user'><b>{_escape(user.name)}</b><br><span class='mcc-muted'>"
            f"{_escape(user.username)} · {', '.join(user.roles)}</span></div>",
            unsafe_allow_html=True,
        )
        if st.button("Sign out", key="sign_out", icon=":material/logout:", width="stretch"):
            sign_out(authenticator)
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
    info = _user(context, users.normalise_username(username), _users_version(context))
    if info is None or info.disabled or info.locked():
        return None
    return SignedIn(info.username, info.name, info.roles)


def current_actor(context: Context) -> Actor | None:
    """What every write handler passes to the service (which re-checks the role itself)."""
    user = current_user(context)
    return None if user is None else user.actor


def sign_out(authenticator: Any) -> None:
    try:
        authenticator.logout(location="unrendered")
    except Exception as error:  # LogoutError when already signed out
        log.debug("sign-out: %s", type(error).__name__)
    for key in ("authentication_status", "username", "name", "email", "roles"):
        st.session_state[key] = None
