"""`mcc sources test` for the accounting system: get a token, then look up every client's accounting id
(format for the target, then existence), so a wrong id shows before the first push rather than at it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from accounting.registry import writer_for
from mcc.config import Config
from mcc.errors import MccError
from store.book_parse import accounting_id_problem
from store.db import reading
from store.models import Client

SHOWN = 5  # problems listed by name; the rest are counted


@dataclass(frozen=True)
class CustomerCheck:
    ok: bool
    checked: int
    message: str
    hint: str | None = None


def check_customers(config: Config, engine: Engine) -> CustomerCheck:
    kind = config.accounting.kind
    with reading(engine) as session:
        clients = [
            (name, accounting_id)
            for name, accounting_id in session.execute(
                select(Client.name, Client.accounting_id).order_by(Client.name)
            )
        ]
    problems: list[str] = [
        f"{name}: no accounting_id" for name, accounting_id in clients if not accounting_id
    ]
    to_look_up = []
    for name, accounting_id in clients:
        if not accounting_id:
            continue
        problem = accounting_id_problem(kind, accounting_id)
        if problem:
            problems.append(f"{name}: {problem}")
        else:
            to_look_up.append((name, accounting_id))
    if kind == "qbd":  # QuickBooks Desktop answers only when its Web Connector runs
        return _desktop(clients, problems)
    try:
        with writer_for(config, engine, timeout=15.0) as writer:
            for name, accounting_id in to_look_up:
                found = writer.customer_name(accounting_id)
                if found is None:
                    problems.append(f"{name}: {writer.title} has no customer {accounting_id!r}")
            title = writer.title
    except MccError as error:
        return CustomerCheck(
            False, 0, str(error), f"check the [accounting] settings and credentials ({kind})"
        )
    if problems:
        listed = "; ".join(problems[:SHOWN]) + (
            f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        )
        return CustomerCheck(
            False,
            len(clients),
            f"connected to {title}; {len(problems)} of {len(clients)} client(s) cannot be invoiced: {listed}",
            "correct accounting_id in the book (the customer's id in the accounting system) and import it again",
        )
    return CustomerCheck(
        True, len(clients), f"connected to {title}; all {len(clients)} client(s) found as customers"
    )


def _desktop(clients: list[tuple[str, str | None]], problems: list[str]) -> CustomerCheck:
    """MCC cannot call QuickBooks Desktop: each Web Connector run checks the customer (CustomerQueryRq)
    before adding an invoice and names a missing one on it. Here only the ids themselves are checked."""
    if problems:
        listed = "; ".join(problems[:SHOWN]) + (
            f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        )
        return CustomerCheck(
            False,
            len(clients),
            f"{len(problems)} of {len(clients)} client(s) cannot be invoiced: {listed}",
            "set accounting_id to the customer's full name (or ListID) in QuickBooks and import the book again",
        )
    return CustomerCheck(
        True,
        len(clients),
        f"all {len(clients)} client(s) have an accounting id; QuickBooks Desktop is reached through the Web "
        "Connector, which checks each customer on its run (mcc qbwc serve)",
    )
