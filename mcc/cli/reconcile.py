"""`mcc reconcile` (gaps for a period as a table, JSON or CSV) and `mcc report client` (billing audit)."""

from __future__ import annotations

import io
from datetime import date
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcc.context import open_context
from mcc.csv_cells import SafeDictWriter
from mcc.money import fmt
from mcc.reconciliation import Reconciliation, reconcile_period

STATUS_STYLE = {
    "under_billed": "bold red",
    "over_billed": "bold magenta",
    "no_contract": "red",
    "unmapped": "yellow",
    "within_tolerance": "dim",
    "match": "green",
}


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def gaps_csv(reconciliation: Reconciliation) -> str:
    """The gap rows as CSV, money as decimal strings, months joined by spaces."""
    out = io.StringIO()
    rows = reconciliation.to_json()["gaps"]
    columns = list(rows[0]) if rows else [c.removesuffix("_cents") for c in reconciliation.gaps.columns]
    writer = SafeDictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: " ".join(v) if isinstance(v, list) else v for k, v in row.items()})
    return out.getvalue()


def print_table(reconciliation: Reconciliation, console: Console) -> None:
    currency = reconciliation.currency
    table = Table(title=f"Reconciliation {reconciliation.period}", header_style="bold")
    for name in (
        "Client",
        "Product",
        "Billed",
        "Observed",
        "Excluded",
        "Delta",
        "Monthly",
        "Status",
        "Since",
        "Back-bill",
        "Decision",
    ):
        table.add_column(
            name,
            justify="right"
            if name in {"Billed", "Observed", "Excluded", "Delta", "Monthly", "Back-bill"}
            else "left",
        )
    for gap in reconciliation.gaps.iter_rows(named=True):
        style = STATUS_STYLE.get(gap["status"], "")
        table.add_row(
            escape(gap["client"] or ""),  # a client named "[/]Markup Co" is text, not rich markup
            escape(gap["product_code"] or ""),
            str(gap["billed_qty"]),
            str(gap["observed_qty"]),
            str(gap["excluded_qty"]),
            f"{gap['delta_qty']:+d}",
            fmt(gap["monthly_amount_cents"], currency),
            f"[{style}]{gap['status']}[/]" if style else gap["status"],
            gap["since"] or "",
            fmt(gap["back_bill_cents"], currency) if gap["back_bill_cents"] else "",
            escape(gap["decision"] or ""),
        )
    console.print(table)
    totals = reconciliation.totals
    console.print(
        f"Leakage {fmt(totals['leakage_monthly_cents'], currency)}/month "
        f"({fmt(totals['leakage_annual_cents'], currency)}/year), back-bill {fmt(totals['back_bill_cents'], currency)}, "
        f"over-billed {fmt(totals['over_billed_monthly_cents'], currency)}/month, "
        f"unbilled time {fmt(totals['unbilled_time_cents'], currency)}"
    )
    console.print(
        "Open: leakage and back-bill no decision has dealt with yet. Decided: "
        + ", ".join(
            f"{label} {fmt(totals[f'{state}_monthly_cents'], currency)}/month"
            f" + {fmt(totals[f'{state}_one_time_cents'], currency)} one-time"
            for label, state in (
                ("recovered", "recovered"),
                ("written off", "written_off"),
                ("deferred", "deferred"),
            )
        )
    )
    if reconciliation.stale_sources:
        console.print(
            f"[bold yellow]Stale sources:[/] {escape(', '.join(reconciliation.stale_sources))} (data older than twice their schedule)"
        )
    else:
        console.print("All sources are fresh.")


def reconcile_command(
    period: str | None = typer.Option(None, "--period", help="YYYY-MM (default: this month)"),
    format: Format = typer.Option(Format.table, "--format", help="table | json | csv"),
    client: str | None = typer.Option(None, "--client", help="only this client (by name)"),
) -> None:
    """Contracted vs observed per client and product, with amounts, since, back-bill and decisions."""
    context = open_context()
    reconciliation = reconcile_period(context.reader, context.config, period)
    if client:
        reconciliation = reconciliation.for_client(client)
    if format is Format.json:
        typer.echo(reconciliation.to_json_text())
    elif format is Format.csv:
        typer.echo(gaps_csv(reconciliation), nl=False)
    else:
        print_table(reconciliation, Console(width=160))


report = typer.Typer(no_args_is_help=True, help="Reports to send to clients.")


class ReportFormat(StrEnum):
    csv = "csv"
    html = "html"


@report.command("client")
def report_client(
    name: str = typer.Argument(..., help="the client's name"),
    period: str | None = typer.Option(None, "--period", help="YYYY-MM (default: this month)"),
    format: ReportFormat = typer.Option(ReportFormat.html, "--format"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write here instead of standard output"),
) -> None:
    """The billing audit report for one client: contracted vs observed per product, the entities behind
    each count and what changed since last period."""
    from mcc.report import client_report

    context = open_context()
    text = client_report(
        context.reader, context.config, name, period, format=format.value, today=date.today()
    )
    if output:
        output.write_text(text, encoding="utf-8")
        Console(stderr=True).print(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile_command)
    app.add_typer(report, name="report")
