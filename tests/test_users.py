"""Users: bcrypt hashes, roles, disabling, and a lockout after repeated failed sign-ins kept in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from mcc import users
from mcc.errors import PermissionDenied
from mcc.permissions import Actor
from store.audit import verify_chain
from store.db import reading
from store.models import AuditEvent, User
from store.types import utcnow

ADMIN = Actor("root", frozenset({"admin"}))
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)


def test_password_is_stored_as_bcrypt_hash_only(engine: Engine) -> None:
    users.add_user(engine, ADMIN, "Alice", name="Alice Moss", password=PASSWORD, roles=["approver"])
    with reading(engine) as session:
        row = session.scalars(select(User)).one()
        audit = session.scalars(select(AuditEvent)).one()
        assert row.username == "alice"
        assert row.password_hash.startswith("$2b$") and PASSWORD not in row.password_hash
        assert PASSWORD not in audit.payload
        assert (audit.action, audit.actor) == ("user.add", "root")
    assert users.verify_password(engine, "ALICE ", PASSWORD)
    assert not users.verify_password(engine, "alice", "wrong horse battery")
    assert not users.verify_password(engine, "nobody", PASSWORD)


def test_only_admins_manage_users(engine: Engine) -> None:
    approver = Actor("bob", frozenset({"approver", "invoicer"}))
    with pytest.raises(PermissionDenied, match="admin"):
        users.add_user(engine, approver, "eve", name="Eve", password=PASSWORD, roles=["admin"])
    users.add_user(engine, ADMIN, "carol", name="Carol", password=PASSWORD, roles=["viewer"])
    for call in (
        lambda: users.set_roles(engine, approver, "carol", ["admin"]),
        lambda: users.set_disabled(engine, approver, "carol"),
        lambda: users.unlock(engine, approver, "carol"),
        lambda: users.set_password(engine, approver, "carol", "another long password"),
    ):
        with pytest.raises(PermissionDenied):
            call()


@pytest.mark.parametrize(
    ("username", "password", "roles", "message"),
    [
        ("a", PASSWORD, ["viewer"], "username"),
        ("dave", "short", ["viewer"], "at least 12"),
        ("dave", "x" * 73, ["viewer"], "72 bytes"),
        ("dave", PASSWORD, ["owner"], "unknown role"),
        ("dave", PASSWORD, [], "at least one role"),
    ],
)
def test_bad_user_input_is_refused_with_a_clear_message(
    engine: Engine, username: str, password: str, roles: list[str], message: str
) -> None:
    with pytest.raises(users.UserError, match=message):
        users.add_user(engine, ADMIN, username, name="Dave", password=password, roles=roles)
    assert users.list_users(engine) == []


def test_duplicate_username_is_refused(engine: Engine) -> None:
    users.add_user(engine, ADMIN, "alice", name="Alice", password=PASSWORD, roles=["viewer"])
    with pytest.raises(users.UserError, match="already exists"):
        users.add_user(engine, ADMIN, "ALICE", name="Alice 2", password=PASSWORD, roles=["viewer"])


def test_fifth_failure_locks_the_account_until_it_expires(engine: Engine) -> None:
    users.add_user(engine, ADMIN, "alice", name="Alice", password=PASSWORD, roles=["viewer"])
    now = utcnow()
    for _ in range(users.MAX_FAILED_ATTEMPTS - 1):
        users.record_sign_in(engine, "alice", False, now)
    users.ensure_may_sign_in(engine, "alice", now)  # four failures: still allowed
    info = users.record_sign_in(engine, "alice", False, now)
    assert info is not None and info.locked(now)
    with pytest.raises(users.AccountLocked, match="locked for about 15"):
        users.ensure_may_sign_in(engine, "alice", now)
    later = now + users.LOCKOUT + timedelta(seconds=1)
    users.ensure_may_sign_in(engine, "alice", later)
    info = users.record_sign_in(engine, "alice", False, later)
    assert info is not None and (info.failed_attempts, info.locked(later)) == (1, False)


def test_success_resets_the_counter_and_admin_can_unlock(engine: Engine) -> None:
    users.add_user(engine, ADMIN, "alice", name="Alice", password=PASSWORD, roles=["viewer"])
    for _ in range(users.MAX_FAILED_ATTEMPTS):
        users.record_sign_in(engine, "alice", False)
    users.unlock(engine, ADMIN, "alice")
    users.ensure_may_sign_in(engine, "alice")
    users.record_sign_in(engine, "alice", False)
    info = users.record_sign_in(engine, "alice", True)
    assert info is not None and info.failed_attempts == 0 and info.last_login_at is not None
    with reading(engine) as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert verify_chain(session).ok
    assert actions.count("user.sign_in_failed") == users.MAX_FAILED_ATTEMPTS + 1
    assert "user.unlock" in actions and actions[-1] == "user.sign_in"


def test_disabled_users_cannot_sign_in_and_vanish_from_credentials(engine: Engine) -> None:
    users.add_user(engine, ADMIN, "alice", name="Alice", password=PASSWORD, roles=["viewer"])
    users.add_user(engine, ADMIN, "bob", name="Bob", password=PASSWORD, roles=["approver"])
    users.set_disabled(engine, ADMIN, "alice")
    assert list(users.credentials(engine)["usernames"]) == ["bob"]  # type: ignore[call-overload]
    users.set_disabled(engine, ADMIN, "alice", False)
    assert list(users.credentials(engine)["usernames"]) == ["alice", "bob"]  # type: ignore[call-overload]


def test_role_changes_are_audited_and_admins_keep_their_own_admin_role(engine: Engine) -> None:
    users.add_user(engine, ADMIN, "root", name="Root", password=PASSWORD, roles=["admin"])
    users.add_user(engine, ADMIN, "bob", name="Bob", password=PASSWORD, roles=["viewer"])
    info = users.set_roles(engine, ADMIN, "bob", ["invoicer", "approver"])
    assert info.roles == ("approver", "invoicer")
    with pytest.raises(users.UserError, match="own admin"):
        users.set_roles(engine, ADMIN, "root", ["viewer"])
    with pytest.raises(users.UserError, match="yourself"):
        users.set_disabled(engine, ADMIN, "root")
    with reading(engine) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.roles")).one()
        assert '"after":["approver","invoicer"]' in event.payload


def test_users_change_their_own_password_only(engine: Engine) -> None:
    users.add_user(engine, ADMIN, "bob", name="Bob", password=PASSWORD, roles=["viewer"])
    users.add_user(engine, ADMIN, "carol", name="Carol", password=PASSWORD, roles=["viewer"])
    bob = Actor("bob", frozenset({"viewer"}))
    users.set_password(engine, bob, "bob", "a new long password")
    assert users.verify_password(engine, "bob", "a new long password")
    with pytest.raises(PermissionDenied):
        users.set_password(engine, bob, "carol", "a new long password")
