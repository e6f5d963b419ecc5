"""The contracts sheet: `client,product,quantity,start,end,unit_price`, what MSPs keep in spreadsheets.

Importing is additive: a new line for a client and product that has an open line closes that line
the day before the new start. A line already present exactly as written is left alone, so importing
the same sheet twice changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mcc.config import Config
from mcc.csv_cells import SafeWriter, read_cell
from mcc.errors import BookError
from mcc.money import to_str
from mcc.permissions import Actor, require
from store.audit import record_event
from store.book import BookInput, ImportSummary, lookup, read_input
from store.book_parse import (
    ContractLine,
    CsvWhere,
    amount,
    check_overlaps,
    check_span,
    checked_text,
    day,
    whole_number,
)
from store.db import reading, transaction
from store.models import Client, Contract, Product

COLUMNS = ("client", "product", "quantity", "start", "end", "unit_price")
REQUIRED = ("client", "product", "quantity", "start")


def import_contracts_csv(
    engine: Engine, config: Config, source: BookInput, actor: Actor, *, name: str | None = None
) -> ImportSummary:
    """Add the sheet's contract lines in one transaction with one `book.import` audit event; all or nothing.

    Args:
        source: a Path to read, the file's bytes, or its text.
        name: the file name to use in messages (defaults to the path, or "contracts.csv").
    """
    require(actor, "admin", "import contracts")
    display, text = read_input(source, name, "contracts.csv", unit="row")
    lines = parse_contracts_csv(text, display)
    summary = ImportSummary(file=display, kind="contracts_csv")
    with transaction(engine) as session:
        _apply(session, lines, actor, summary)
        record_event(
            session,
            actor=actor.username,
            action="book.import",
            entity="book",
            entity_id=display,
            payload=summary.as_dict(),
        )
    return summary


def parse_contracts_csv(text: str, name: str) -> list[ContractLine]:
    """Validate the sheet; BookError names the row (header = row 1) and the column."""
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip().lower() for cell in next(rows)]
    except StopIteration:
        raise BookError(f"{name}: the file is empty") from None
    except csv.Error as exc:
        raise BookError(f"{name} row 1: not a readable CSV header ({exc})") from None
    for column in header:
        if column not in COLUMNS:
            raise BookError(f"{name} row 1: unknown column {column!r} (the header is {','.join(COLUMNS)})")
        if header.count(column) > 1:
            raise BookError(f"{name} row 1: column {column!r} appears twice")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BookError(
            f"{name} row 1: missing column {', '.join(repr(c) for c in missing)} (the header is {','.join(COLUMNS)})"
        )
    lines: list[ContractLine] = []
    row_number = 1
    try:
        for row_number, cells in enumerate(rows, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            lines.append(_line(header, cells, CsvWhere(name, row_number)))
    except csv.Error as exc:
        raise BookError(f"{name} row {row_number + 1}: not readable as CSV ({exc})") from None
    if not lines:
        raise BookError(f"{name}: has a header but no contract lines")
    check_overlaps(lines)
    return lines


def _line(header: list[str], cells: list[str], where: CsvWhere) -> ContractLine:
    if len(cells) > len(header):
        raise where.error(None, f"has {len(cells)} cells but the header has {len(header)} columns")
    # read_cell: a name our export wrote as '=... (so no spreadsheet runs it) comes back as written
    values = {column: read_cell(cell.strip()) for column, cell in zip(header, cells, strict=False)}

    def cell(column: str) -> str:
        value = values.get(column, "")
        if column in REQUIRED and not value:
            raise where.error(column, "is missing")
        return value

    quantity_text = cell("quantity")
    quantity: Any = int(quantity_text) if re.fullmatch(r"[0-9]+", quantity_text) else quantity_text
    start = day(cell("start"), where, "start")
    end = day(cell("end"), where, "end") if cell("end") else None
    check_span(start, end, where)
    return ContractLine(
        client=checked_text(cell("client"), where, "client"),
        product=checked_text(cell("product"), where, "product"),
        quantity=whole_number(quantity, where, "quantity"),
        start=start,
        end=end,
        unit_price_cents=amount(cell("unit_price"), where, "unit_price") if cell("unit_price") else None,
        where=where,
    )


def _apply(session: Session, lines: list[ContractLine], actor: Actor, summary: ImportSummary) -> None:
    clients = {c.name: c for c in session.scalars(select(Client))}
    products = {p.code: p for p in session.scalars(select(Product))}
    by_pair: dict[tuple[int, int], list[ContractLine]] = defaultdict(list)
    for line in lines:
        client = lookup(clients, line.client, line.where, "client", "client")
        product = lookup(products, line.product, line.where, "product", "product")
        by_pair[(client.id, product.id)].append(line)
    current: dict[tuple[int, int], list[Contract]] = defaultdict(list)
    for contract in session.scalars(select(Contract).order_by(Contract.id)):
        current[(contract.client_id, contract.product_id)].append(contract)
    for (client_id, product_id), pair_lines in by_pair.items():
        existing = current[(client_id, product_id)]
        for line in sorted(pair_lines, key=lambda line: line.start):
            if any(_same(row, line) for row in existing):
                continue
            _close_open_line(existing, line, summary)
            _check_no_overlap(existing, line)
            row = Contract(
                client_id=client_id,
                product_id=product_id,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                start=line.start,
                end=line.end,
                created_by=actor.username,
            )
            session.add(row)
            existing.append(row)
            summary.contracts_added += 1


def _same(row: Contract, line: ContractLine) -> bool:
    return (row.start, row.end, row.quantity, row.unit_price_cents) == (
        line.start,
        line.end,
        line.quantity,
        line.unit_price_cents,
    )


def _close_open_line(existing: list[Contract], line: ContractLine, summary: ImportSummary) -> None:
    """The open line (no end) of this client and product ends the day before the new line starts."""
    open_line = next((row for row in existing if row.end is None), None)
    if open_line is None:
        return
    if open_line.start < line.start:
        open_line.end = line.start - timedelta(days=1)
        summary.contracts_closed += 1
    elif line.end is None or line.end >= open_line.start:
        raise line.where.error(
            "start",
            f"must be after the start of the open line for {line.client!r} / {line.product!r} "
            f"({open_line.start}); closing it the day before {line.start} would end it before it starts",
        )


def _check_no_overlap(existing: list[Contract], line: ContractLine) -> None:
    for row in existing:
        row_end = row.end or row.start.max
        line_end = line.end or line.start.max
        if row.start <= line_end and line.start <= row_end:
            raise line.where.error(
                "start",
                f"overlaps the existing line for {line.client!r} / {line.product!r} "
                f"({row.start} to {row.end or 'open'}, quantity {row.quantity})",
            )


def export_contracts_csv(engine: Engine) -> str:
    """Every contract line as the sheet, sorted by client, product and start."""
    with reading(engine) as session:
        name_of = {c.id: c.name for c in session.scalars(select(Client))}
        code_of = {p.id: p.code for p in session.scalars(select(Product))}
        contracts = sorted(
            session.scalars(select(Contract)),
            key=lambda c: (
                name_of[c.client_id],
                code_of[c.product_id],
                c.start,
                c.end or c.start.max,
                c.quantity,
            ),
        )
        out = io.StringIO()
        writer = SafeWriter(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for c in contracts:
            writer.writerow(
                [
                    name_of[c.client_id],
                    code_of[c.product_id],
                    c.quantity,
                    c.start.isoformat(),
                    c.end.isoformat() if c.end else "",
                    to_str(c.unit_price_cents) or "",
                ]
            )
        return out.getvalue()
