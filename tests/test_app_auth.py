"""Sign-in gate: every page needs a signed-in user; roles come from the database, not the session."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from mcc import users
from mcc.permissions import Actor
from tests.app_support import PASSWORD, prepare, signed_in, texts


@pytest.fixture
def app_db(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Engine:
    write_config()
    prepare(engine, monkeypatch)
    return engine


def test_signed_out_sees_only_the_sign_in_form(app_db: Engine) -> None:
    at = signed_in(None)
    assert not at.exception
    assert [b.label for b in at.button if b.label] == ["Sign in"] or len(at.text_input) == 2
    assert "Overview" not in [t.value for t in at.title]


def test_sign_in_with_password_then_page_opens(app_db: Engine) -> None:
    at = signed_in(None)
    at.text_input[0].input("Approver")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["authentication_status"] is True
    at.run()
    assert not at.exception
    assert "Abe Approver" in texts(at)
    assert users.get_user(app_db, "approver").last_login_at is not None


def test_wrong_password_is_counted_and_locks_after_five(app_db: Engine) -> None:
    at = signed_in(None)
    for _ in range(users.MAX_FAILED_ATTEMPTS):
        at.text_input[0].input("viewer")
        at.text_input[1].input("wrong password entirely")
        at.button[0].click().run()
        assert "Username or password is incorrect." in texts(at)
    at.text_input[0].input("viewer")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert "locked for about 15" in texts(at)
    assert at.session_state["authentication_status"] is not True
    assert users.get_user(app_db, "viewer").locked()


def test_refuses_to_start_without_a_cookie_key(app_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCC_COOKIE_KEY")
    at = signed_in(None)
    assert "MCC_COOKIE_KEY is not set" in texts(at)
    assert len(at.text_input) == 0
    monkeypatch.setenv("MCC_COOKIE_KEY", "short")
    assert "at least 32 random bytes" in texts(signed_in(None))


def test_demo_runs_on_a_random_cookie_key(app_db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCC_COOKIE_KEY")
    monkeypatch.setenv("MCC_DEMO", "1")
    at = signed_in(None)
    assert not at.exception and len(at.text_input) == 2


def test_disabled_user_is_signed_out_on_the_next_run(app_db: Engine) -> None:
    at = signed_in("approver")
    assert not at.exception and "Abe Approver" in texts(at)
    users.set_disabled(app_db, Actor("setup", frozenset({"admin"})), "approver")
    at.run()
    assert at.session_state["authentication_status"] is None
    assert len(at.text_input) == 2


def test_forged_roles_in_the_session_do_not_open_the_users_page(app_db: Engine) -> None:
    at = signed_in("viewer", roles=["admin"])
    assert not at.exception
    with pytest.raises(ValueError):
        at.switch_page("pages/users.py")


def test_sign_out(app_db: Engine) -> None:
    at = signed_in("viewer")
    at.button(key="sign_out").click().run()
    assert at.session_state["authentication_status"] is None
