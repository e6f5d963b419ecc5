"""`mcc invoices draft|list|show|edit|approve|push` through the root app."""

from __future__ import annotations

from typer.testing import CliRunner

from mcc.cli import app
from tests.invoicebook import PERIOD, seed

runner = CliRunner()


def test_draft_approve_push_list(context, write_config, tmp_path, cli_user) -> None:
    write_config(f'[accounting]\nkind = "file"\npath = "{tmp_path / "out"}"\nformat = "csv"\n')
    book = seed(context.engine)
    cli_user("ines", "invoicer")
    drafted = runner.invoke(app, ["invoices", "draft", "--period", PERIOD])
    assert drafted.exit_code == 0, drafted.output
    assert "Acme Dental" in drafted.output and "$37,454.95" in drafted.output
    nothing = runner.invoke(app, ["invoices", "push", "--period", PERIOD])
    assert nothing.exit_code == 0 and "nothing to push" in nothing.output
    shown = runner.invoke(app, ["invoices", "show", "1"])
    assert "Back-bill" in shown.output and "$37,454.95" in shown.output
    edited = runner.invoke(app, ["invoices", "edit", "999", "--quantity", "2"])
    assert edited.exit_code == 1 and "error: invoice line 999 does not exist" in edited.output
    approved = runner.invoke(app, ["invoices", "approve", "1"])
    assert approved.exit_code == 0 and "approved" in approved.output
    pushed = runner.invoke(app, ["invoices", "push", "--period", PERIOD, "--client", "Acme Dental"])
    assert pushed.exit_code == 0, pushed.output
    assert "pushed" in pushed.output and len(list((tmp_path / "out").iterdir())) == 1
    listed = runner.invoke(app, ["invoices", "list", "--period", PERIOD])
    assert "pushed" in listed.output and "draft" in listed.output
    assert book.acme
