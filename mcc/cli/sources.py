"""`mcc sources list|test|confirm-drop`: what is configured, which credentials are set, whether each source
can be read, and confirming a drop in counts a run held as suspicious."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from mcc.cli.actor import AsUser
from mcc.config import load_config

if TYPE_CHECKING:
    from mcc import onboarding

sources = typer.Typer(no_args_is_help=True, help="The vendors MCC reads: list them, test their connections.")


def _env_text(variables: tuple[onboarding.EnvVar, ...] | list[onboarding.EnvVar]) -> str:
    parts = []
    for variable in variables:
        state = (
            f"set, but {variable.problem}"
            if variable.problem
            else "set"
            if variable.is_set
            else "missing"
            if variable.required
            else "not set, optional"
        )
        parts.append(f"{variable.name} ({state})")
    return "\n".join(parts) or "none"


@sources.command("list")
def list_command() -> None:
    """Each source's kind, category, host, schedule per stream and credential variables (set or not)."""
    from mcc import onboarding  # vendor modules load only when a command needs them

    config = load_config()
    console = Console()
    if not config.sources:
        console.print(f"no sources in {config.path}; `mcc init` writes a starting file")
    else:
        table = Table("name", "kind", "category", "base url", "schedule", "env vars", show_lines=True)
        for info in onboarding.describe_sources(config):
            name = info.name if info.enabled else f"{info.name} (disabled)"
            schedules = "\n".join(f"{stream}: {text}" for stream, text in info.schedules)
            table.add_row(
                name,
                f"{info.kind}\n{info.title}",
                info.category,
                info.base_url or ("(not set: required)" if info.env else "(none)"),
                schedules,
                _env_text(info.env),
            )
        console.print(table)
    accounting = config.accounting.kind
    variables = onboarding.accounting_env(accounting)
    console.print(
        f"accounting: {accounting}"
        + (f"; {_env_text(variables).replace(chr(10), ', ')}" if variables else "")
    )
    console.print(f"app: {_env_text(onboarding.app_env()).replace(chr(10), ', ')}")


def _dry_run(config: Any, name: str) -> None:
    """The first page of a declared REST source, as records: what the declaration makes of it."""
    from rich.markup import escape

    from collectors.records import Count, Entity, Org
    from mcc.errors import ConfigError

    source = config.source(name)
    collector = source.collector(source, source.secrets())
    first_page = getattr(collector, "first_page", None)
    if first_page is None:
        raise ConfigError(
            f'--dry-run reads a declared REST source (kind = "rest") or a CSV folder (kind = "csv"); {name!r} is {source.kind}'
        )
    api = collector.open_api()
    try:
        records = first_page(api)
    finally:
        api.close()
    console = Console()
    console.print(f"{escape(name)}: {len(records)} record(s) from the first page")
    for record in records[:50]:
        if isinstance(record, Org):
            console.print(f"  organisation {escape(record.external_id)} {escape(record.name)}")
        elif isinstance(record, (Count, Entity)):
            attrs = ", ".join(f"{key}={value}" for key, value in record.attrs)
            what = f"{record.quantity} ×" if isinstance(record, Count) else f"1 × ({escape(record.name)})"
            console.print(f"  {escape(record.org)} {record.metric} {what} {escape(attrs)}")


@sources.command("test")
def test_command(
    name: list[str] = typer.Argument(None, help="Source name(s); default: every enabled source."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help='Show the records as MCC would count them: a "rest" source\'s first page, a "csv" source\'s files.',
    ),
) -> None:
    """Get a token and read the organisations of each source; exit status 1 if any failed."""
    from mcc import onboarding

    config = load_config()
    if dry_run:
        for source_name in name or []:
            _dry_run(config, source_name)
        return
    failed = 0
    names = list(name or [])
    # "accounting" names the accounting system; with no names it is checked after the sources.
    want_accounting = config.accounting.kind != "file" and (not names or "accounting" in names)
    names = [n for n in names if n != "accounting"]
    checks = onboarding.test_sources(config, names) if names or not want_accounting or config.sources else []
    if want_accounting:
        from mcc.context import open_context

        checks.append(onboarding.test_accounting(config, open_context().engine))
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        typer.echo(f"{mark} {check.name} ({check.kind}, {check.seconds:.1f} s): {check.message}")
        if check.hint:
            typer.echo(f"     hint: {check.hint}")
        if check.assumptions:
            typer.echo(
                f"     what {check.name} answered for each unverified assumption (docs/sources/{check.kind}.md):"
            )
            for line in check.assumptions:
                typer.echo(f"       {line}")
        failed += not check.ok
    if failed:
        typer.echo(f"{failed} of {len(checks)} source(s) failed", err=True)
        raise typer.Exit(1)


@sources.command("confirm-drop")
def confirm_drop_command(
    run: int = typer.Argument(
        ..., help="The suspicious sync run's number (shown on Sources and by mcc sync)."
    ),
    as_user: AsUser = None,
) -> None:
    """Accept the drop a suspicious run held back: its counts are written, and the decision is audited."""
    from mcc.cli.actor import cli_actor
    from mcc.context import open_context
    from mcc.drops import confirm_drop

    context = open_context()
    held = confirm_drop(context.engine, context.config, cli_actor(context, as_user), run)
    for drop in held.drops:
        typer.echo(f"confirmed: {drop.describe()}")
    context.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(sources, name="sources")
