"""File export for desktop accounting: QuickBooks Desktop IIF or a plain CSV, one file per invoice,
named by our reference. Writing is atomic and a file that already exists is the invoice (idempotent)."""

from __future__ import annotations

import io
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import ClassVar

from accounting.base import InvoiceDocument, RemoteInvoice, Writer, decimal_amount
from mcc.csv_cells import SafeWriter
from mcc.errors import AccountingError

CSV_HEADER = (
    "reference",
    "customer_id",
    "customer_name",
    "invoice_date",
    "due_date",
    "currency",
    "line",
    "kind",
    "item_code",
    "description",
    "quantity",
    "unit_price",
    "amount",
)


def _clean(text: str) -> str:
    """IIF fields cannot hold tabs or line breaks."""
    return " ".join(text.replace("\t", " ").split())


def _us(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def iif(document: InvoiceDocument, income_account: str) -> str:
    """QuickBooks Desktop invoice import: one TRNS (receivable, positive) and one SPL per line (income,
    negative amounts and quantities), closed by ENDTRNS."""
    rows = [
        ["!TRNS", "TRNSID", "TRNSTYPE", "DATE", "ACCNT", "NAME", "AMOUNT", "DOCNUM", "MEMO", "DUEDATE"],
        [
            "!SPL",
            "SPLID",
            "TRNSTYPE",
            "DATE",
            "ACCNT",
            "NAME",
            "AMOUNT",
            "DOCNUM",
            "MEMO",
            "QNTY",
            "PRICE",
            "INVITEM",
        ],
        ["!ENDTRNS"],
        [
            "TRNS",
            "",
            "INVOICE",
            _us(document.invoice_date),
            "Accounts Receivable",
            _clean(document.customer_id),
            str(decimal_amount(document.total_cents)),
            document.reference,
            _clean(document.memo),
            _us(document.due_date),
        ],
    ]
    for line in document.lines:
        rows.append(
            [
                "SPL",
                "",
                "INVOICE",
                _us(document.invoice_date),
                income_account,
                "",
                str(decimal_amount(-line.amount_cents)),
                document.reference,
                _clean(line.description),
                str(-line.quantity),
                str(decimal_amount(line.unit_price_cents)),
                _clean(line.item_code),
            ]
        )
    rows.append(["ENDTRNS"])
    return "".join("\t".join(row) + "\r\n" for row in rows)


def csv_text(document: InvoiceDocument) -> str:
    buffer = io.StringIO()
    writer = SafeWriter(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for number, line in enumerate(document.lines, start=1):
        writer.writerow(
            [
                document.reference,
                document.customer_id,
                document.customer_name,
                document.invoice_date.isoformat(),
                document.due_date.isoformat(),
                document.currency,
                number,
                line.kind,
                line.item_code,
                line.description,
                str(line.quantity),
                str(decimal_amount(line.unit_price_cents)),
                str(decimal_amount(line.amount_cents)),
            ]
        )
    return buffer.getvalue()


class FileExport(Writer):
    kind = "file"
    title = "file export"
    replays_by_key: ClassVar[bool] = True

    def __init__(self, path: str | Path, format: str = "csv", income_account: str | None = None) -> None:
        self.directory = Path(path)
        self.format = format
        self.income_account = income_account or "Sales"

    def target(self, document: InvoiceDocument) -> Path:
        return self.directory / f"{document.period}-{document.reference}.{self.format}"

    def find(self, document: InvoiceDocument) -> RemoteInvoice | None:
        path = self.target(document)
        return RemoteInvoice(path.name, document.reference, document.total_cents) if path.exists() else None

    def create(self, document: InvoiceDocument) -> RemoteInvoice:
        existing = self.find(document)
        if existing is not None:
            return existing
        text = iif(document, self.income_account) if self.format == "iif" else csv_text(document)
        path = self.target(document)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".writing-")
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except OSError as error:
            raise AccountingError(f"cannot write {path}: {error.strerror}") from None
        return RemoteInvoice(path.name, document.reference, document.total_cents)
