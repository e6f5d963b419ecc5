"""`mcc users …` is a thin shell over mcc.users."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mcc import users
from mcc.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)


def test_add_list_disable(write_config, cli_user) -> None:
    config = write_config()
    cli_user("root")
    result = runner.invoke(
        app,
        [
            "users",
            "add",
            "Alice",
            "--name",
            "Alice Moss",
            "--email",
            "a@example.com",
            "-r",
            "approver,invoicer",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    from store.db import make_engine

    engine = make_engine(config.database_url)
    assert users.verify_password(engine, "alice", "a long enough password")
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0
    assert "alice" in listed.output and "approver, invoicer" in listed.output and "active" in listed.output
    assert "password" not in listed.output.lower()
    assert runner.invoke(app, ["users", "disable", "alice"]).exit_code == 0
    assert "disabled" in runner.invoke(app, ["users", "list"]).output
    engine.dispose()


def test_prompted_password_must_match(write_config, cli_user) -> None:
    write_config()
    cli_user("root")
    result = runner.invoke(
        app, ["users", "add", "bob", "--name", "Bob"], input="a long enough password\nsomething else here\n"
    )
    assert result.exit_code == 1
    assert "error: the two passwords differ" in result.output


def test_weak_password_and_unknown_role_are_errors(write_config, cli_user) -> None:
    write_config()
    cli_user("root")
    weak = runner.invoke(app, ["users", "add", "bob", "--name", "Bob", "--password-stdin"], input="short\n")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    role = runner.invoke(
        app, ["users", "add", "bob", "--name", "Bob", "-r", "owner", "--password-stdin"], input="x\n"
    )
    assert role.exit_code == 1 and "unknown role(s) owner" in role.output
    missing = runner.invoke(app, ["users", "disable", "nobody"])
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output
