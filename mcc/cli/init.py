"""`mcc init`: write a commented mcc.toml for the vendors in use and print the env vars to set."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mcc.config import Environment
from mcc.errors import ConfigError

if TYPE_CHECKING:
    from mcc import onboarding


def _ask_sources() -> list[onboarding.SourceChoice]:
    from collectors.registry import SOURCE_KINDS
    from mcc import onboarding

    kinds = sorted(SOURCE_KINDS, key=lambda kind: (SOURCE_KINDS[kind].category, kind))
    typer.echo("Which vendors do you use?")
    for number, kind in enumerate(kinds, start=1):
        collector = SOURCE_KINDS[kind]
        typer.echo(f"  {number:>2}. {collector.title:<32} {collector.category:<12} ({kind})")
    answer = typer.prompt(
        "Numbers or kinds, separated by commas (blank for none)", default="", show_default=False
    )
    chosen: list[str] = []
    for part in (piece.strip() for piece in answer.replace(" ", ",").split(",")):
        if not part:
            continue
        if part.isdigit() and 1 <= int(part) <= len(kinds):
            part = kinds[int(part) - 1]
        if part not in SOURCE_KINDS:
            raise ConfigError(f"{part!r} is neither a number from the list nor one of {', '.join(kinds)}")
        if part not in chosen:
            chosen.append(part)
    choices = []
    for kind in chosen:
        name = typer.prompt(f"Name for the {SOURCE_KINDS[kind].title} source", default=kind)
        choices.append(onboarding.parse_source_choice(f"{kind}:{name}"))
    return choices


def _print_env(result: onboarding.InitResult) -> None:
    typer.echo(
        "\nSet these environment variables where MCC runs (or files of the same names in MCC_SECRETS_DIR):"
    )
    for heading, variables in result.env:
        typer.echo(f"  {heading}")
        width = max(len(variable.name) for variable in variables)
        for variable in variables:
            optional = "" if variable.required else " (optional)"
            typer.echo(f"    {variable.name:<{width}}  {variable.purpose}{optional}")
    from mcc.onboarding import KEY_COMMAND

    typer.echo(f"  Make each key with: {KEY_COMMAND}")
    default = Path("mcc.toml")
    if result.path.resolve() != default.resolve():
        typer.echo(f"  and MCC_CONFIG={result.path} so every command reads this file.")
    typer.echo("\nThen: mcc sources list  (what is set)  and  mcc sources test  (can each source be read).")


def init_command(
    path: Path | None = typer.Option(
        None, "--path", help="File to write (default: MCC_CONFIG or ./mcc.toml)."
    ),
    source: list[str] = typer.Option(
        [],
        "--source",
        "-s",
        help="A vendor in use, as KIND or KIND:NAME; repeat for each. Skips the questions.",
    ),
    accounting: str | None = typer.Option(
        None,
        "--accounting",
        help="Where approved invoices go: quickbooks, xero, sage or file (default: file).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    interactive: bool | None = typer.Option(
        None,
        "--interactive/--no-interactive",
        help="Ask which vendors are in use (default: when no --source is given and input is a terminal).",
    ),
) -> None:
    """Write a commented mcc.toml for the vendors you use and print the environment variables to set."""
    from mcc import onboarding  # vendor modules load only when a command needs them

    target = path if path is not None else Environment().config
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists; pass --force to overwrite it")
    if accounting is not None and accounting not in onboarding.ACCOUNTING_KINDS:
        raise ConfigError(
            f"--accounting {accounting!r}: expected one of {', '.join(onboarding.ACCOUNTING_KINDS)}"
        )
    choices = [onboarding.parse_source_choice(text) for text in source]
    onboarding.check_choices(choices)
    ask = interactive if interactive is not None else (not source and sys.stdin.isatty())
    if ask:
        if not choices:
            choices = _ask_sources()
        if accounting is None:
            accounting = str(
                typer.prompt("Where do approved invoices go? quickbooks, xero, sage or file", default="file")
            ).strip()
            if accounting not in onboarding.ACCOUNTING_KINDS:
                raise ConfigError(f"{accounting!r} is not one of {', '.join(onboarding.ACCOUNTING_KINDS)}")
    result = onboarding.init_config(target, choices, accounting or "file", force=force)
    names = ", ".join(choice.name for choice in result.sources) or "no sources yet"
    typer.echo(f"wrote {result.path} ({names}; accounting: {result.accounting})")
    _print_env(result)


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)
