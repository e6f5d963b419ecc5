"""CLI writes act as a named MCC user (`--as` or MCC_USER), looked up in the database, checked for
their role by the service and recorded as them in the audit log; the first user bootstraps as admin."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mcc import users
from mcc.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)


def _audit(config) -> list[tuple[str, str, str | None]]:
    from sqlalchemy import select

    from store.db import make_engine, reading
    from store.models import AuditEvent

    engine = make_engine(config.database_url)
    with reading(engine) as session:
        rows = session.execute(select(AuditEvent.actor, AuditEvent.action, AuditEvent.entity_id))
        found = [tuple(row) for row in rows]
    engine.dispose()
    return found  # type: ignore[return-value]


def test_first_user_must_be_an_admin_and_then_everyone_acts_as_someone(write_config) -> None:
    config = write_config()
    add = ["users", "add", "bob", "--name", "Bob", "--password-stdin"]
    viewer_first = runner.invoke(app, [*add, "-r", "viewer"], input="a long enough password\n")
    assert viewer_first.exit_code == 1 and "the first user must be an admin" in viewer_first.output
    first = runner.invoke(
        app,
        ["users", "add", "root", "--name", "Root", "-r", "admin", "--password-stdin"],
        input="a long enough password\n",
    )
    assert first.exit_code == 0, first.output
    anonymous = runner.invoke(app, add, input="a long enough password\n")
    assert anonymous.exit_code == 1
    assert anonymous.stderr == (
        "error: this command changes data, so it acts as a named MCC user: give --as USERNAME or set "
        "MCC_USER (`mcc users list` shows who exists)\n"
    )
    second_first = runner.invoke(
        app,
        ["users", "add", "eve", "--name", "Eve", "-r", "admin", "--password-stdin", "--as", "eve"],
        input="a long enough password\n",
    )
    assert second_first.exit_code == 1 and "no MCC user named 'eve'" in second_first.stderr
    added = runner.invoke(app, [*add, "--as", "ROOT"], input="a long enough password\n")
    assert added.exit_code == 0, added.output
    refused = runner.invoke(app, ["users", "disable", "root"], env={"MCC_USER": "bob"})
    assert (
        refused.exit_code == 1 and "bob may not disable users: the 'admin' role is required" in refused.stderr
    )
    disabled = runner.invoke(app, ["users", "disable", "bob"], env={"MCC_USER": "root"})
    assert disabled.exit_code == 0, disabled.output
    as_disabled = runner.invoke(app, ["users", "unlock", "root", "--as", "bob"])
    assert as_disabled.exit_code == 1 and "user 'bob' is disabled" in as_disabled.stderr
    assert _audit(config) == [
        ("root", "user.add", "root"),
        ("root", "user.add", "bob"),
        ("root", "user.disable", "bob"),
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["users", "disable", "x"],
        ["users", "enable", "x"],
        ["users", "roles", "x", "-r", "viewer"],
        ["users", "password", "x", "--password-stdin"],
        ["users", "unlock", "x"],
        ["config", "import", "book.toml"],
        ["orgs", "map", "ninja", "1", "Acme"],
        ["orgs", "map", "--accept-suggestions"],
        ["sync", "--queue"],
        ["decide", "defer", "--client", "Acme", "--product", "WS"],
        ["decide-bulk", "defer", "--note", "n"],
        ["time", "approve", "1"],
        ["time", "write-off", "1"],
        ["invoices", "draft", "--period", "2026-03"],
        ["invoices", "edit", "1", "--quantity", "2"],
        ["invoices", "approve", "1"],
        ["invoices", "push"],
    ],
    ids=" ".join,
)
def test_every_write_command_names_its_user(write_config, cli_user, command: list[str]) -> None:
    """Without --as or MCC_USER every write stops with the same one line, before anything is written."""
    config = write_config()
    cli_user("root", use=False)
    result = runner.invoke(app, command, input="a long enough password\n")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "give --as USERNAME or set MCC_USER" in result.stderr
    assert _audit(config) == []
    unknown = runner.invoke(app, [*command, "--as", "nobody"], input="a long enough password\n")
    assert unknown.exit_code == 1 and "--as / MCC_USER: no MCC user named 'nobody'" in unknown.stderr
