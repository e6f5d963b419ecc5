"""`mcc --help` lists every command without importing the heavy libraries; each command loads on use."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.testing import CliRunner

from mcc.cli import COMMANDS, app, load_module

HEAVY = ("sqlalchemy", "polars", "alembic", "httpx", "streamlit")


def test_help_lists_every_command_without_heavy_imports() -> None:
    code = (
        "import sys; from mcc.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listed, _, loaded = done.stdout.rpartition("loaded:")
    assert loaded.strip() == "", f"mcc --help imported {loaded.strip()}"
    for name in COMMANDS:
        assert f"  {name} " in listed


def test_table_matches_what_the_modules_register() -> None:
    registered: dict[str, str] = {}
    for module_name in sorted({module for module, _ in COMMANDS.values()}):
        group = load_module(module_name)
        for name, command in group.commands.items():
            registered[name] = module_name
            help_text = " ".join((command.help or "").split())
            assert help_text.startswith(COMMANDS[name][1]), f"help line of `mcc {name}` drifted"
    assert registered == {name: module for name, (module, _) in COMMANDS.items()}


def test_a_command_runs_through_the_lazy_group() -> None:
    result = CliRunner().invoke(app, ["reconcile", "--help"])
    assert result.exit_code == 0
    assert "--period" in result.output
    unknown = CliRunner().invoke(app, ["no-such-command"])
    assert unknown.exit_code == 2
    assert "No such command" in unknown.output


def test_root_is_a_group_with_no_eager_commands() -> None:
    assert isinstance(typer.main.get_command(app), typer.core.TyperGroup)
