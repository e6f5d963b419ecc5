"""QuickBooks Desktop in qbXML: the requests MCC hands the Web Connector for one invoice (check the
customer and items, look the invoice up by our reference, add it) and how QuickBooks' answers read.

Pure: strings in, strings and small records out. The session and outbox side is `accounting.qbwc`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

from accounting.base import (
    DocumentLine,
    InvoiceDocument,
    Rejected,
    RemoteInvoice,
    cents_from,
    check_ours,
    decimal_amount,
    first_ours,
)
from mcc.errors import AccountingError

# Unverified: 13.0 is accepted by every QuickBooks Desktop still supported (2014 and later, US editions);
# the Web Connector's sendRequestXML tells the highest version the company supports, which MCC ignores.
QBXML_VERSION = "13.0"
VENDOR = "QuickBooks Desktop"
REFERENCE_LENGTH = 11  # RefNumber on Desktop invoices
DESCRIPTION_LENGTH = 4095  # Desc on an invoice line
# A Desktop ListID: 8 hex digits, a dash, 10 digits (e.g. 80000001-1234567890).
# Unverified: that no customer's full name looks like this (one that does is sent as a ListID).
LIST_ID = re.compile(r"^[0-9A-F]{1,8}-[0-9]{10}$")

# qbXML status codes and what a person does about them.
STATUS_NO_MATCH = 1  # a query found nothing (not an error)
STATUS_PARTIAL = 500  # some of the listed names were not found
# Unverified: which codes between 3170 and 3180 QuickBooks uses (3170, 3171, 3175, 3176 and 3180 are
# documented as "in use" / "could not save"); the whole range is treated as "nothing saved, retry".
RETRY_CODES = {3170, 3171, 3172, 3173, 3174, 3175, 3176, 3177, 3178, 3179, 3180, 3200}


class ListLocked(AccountingError):
    """QuickBooks could not save because a record is in use (3170–3180) or changed under us (3200):
    nothing was added; the next poll looks the invoice up again before any add."""


class UnsafeXml(AccountingError):
    """XML with a DOCTYPE or entity declarations: refused before anything is read from it."""


class _NoDoctype(ElementTree.TreeBuilder):
    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise UnsafeXml("XML with a DOCTYPE is not accepted (entity expansion and external entities)")


def parse_xml(text: str | bytes, what: str) -> ElementTree.Element:
    """Parse XML from the network without DTDs (so no entity expansion, no external entities)."""
    raw = text.encode() if isinstance(text, str) else text
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise UnsafeXml(f"{what}: XML with a DOCTYPE or entity declarations is not accepted")
    parser = ElementTree.XMLParser(target=_NoDoctype())
    try:
        parser.feed(raw)
        return parser.close()
    except ElementTree.ParseError as error:
        raise AccountingError(f"{what} is not well-formed XML: {error}") from None


# --- our reference on a Desktop invoice ----------------------------------------------------------

_DIGITS = string.digits + string.ascii_uppercase


def _base36(number: int) -> str:
    text = ""
    while True:
        number, remainder = divmod(number, 36)
        text = _DIGITS[remainder] + text
        if number == 0:
            return text


def desktop_reference(invoice_id: int, key: str) -> str:
    """At most 11 characters (Desktop's RefNumber): "M" + the invoice id in base 36 + "-" + as much of the
    idempotency key as fits (at least 3 characters), e.g. M1F-9C2A7B0. A new push generation has a new
    key and so a new reference; the same push always has the same one."""
    head = f"M{_base36(invoice_id)}-"
    room = REFERENCE_LENGTH - len(head)
    if room < 3:
        raise AccountingError(f"invoice id {invoice_id} is too large for an 11-character Desktop reference")
    return head + key[:room].upper()


# --- requests -----------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _element(name: str, text: str) -> str:
    return f"<{name}>{_escape(text)}</{name}>"


def _ref(name: str, value: str) -> str:
    """CustomerRef/ItemRef: a ListID when the value looks like one, otherwise the FullName."""
    inner = _element("ListID", value) if LIST_ID.match(value) else _element("FullName", value)
    return f"<{name}>{inner}</{name}>"


def _messages(body: str, on_error: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<?qbxml version="{QBXML_VERSION}"?>'
        f'<QBXML><QBXMLMsgsRq onError="{on_error}">{body}</QBXMLMsgsRq></QBXML>'
    )


def _quantity(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def check_request(document: InvoiceDocument, request_prefix: str) -> str:
    """One message with three queries: the customer, the items, and any invoice already carrying our
    reference (a lost answer to an earlier add must not become a second invoice)."""
    items = sorted({line.item_code for line in document.lines})
    customer = document.customer_id
    customer_filter = (
        _element("ListID", customer) if LIST_ID.match(customer) else _element("FullName", customer)
    )
    item_filter = "".join(_element("FullName", code) for code in items)
    return _messages(
        f'<CustomerQueryRq requestID="{request_prefix}-customer">{customer_filter}</CustomerQueryRq>'
        f'<ItemQueryRq requestID="{request_prefix}-items">{item_filter}</ItemQueryRq>'
        f'<InvoiceQueryRq requestID="{request_prefix}-invoice">{_element("RefNumber", document.reference)}'
        "</InvoiceQueryRq>",
        on_error="continueOnError",
    )


def _line(line: DocumentLine) -> str:
    # Element order is part of the schema: ItemRef, Desc, Quantity, (UnitOfMeasure), Rate.
    description = " ".join(line.description.split())[:DESCRIPTION_LENGTH]
    return (
        "<InvoiceLineAdd>"
        + _ref("ItemRef", line.item_code)
        + _element("Desc", description)
        + _element("Quantity", _quantity(line.quantity))
        + _element("Rate", str(decimal_amount(line.unit_price_cents)))
        + "</InvoiceLineAdd>"
    )


def add_request(document: InvoiceDocument, request_prefix: str) -> str:
    """InvoiceAddRq in schema order: CustomerRef, TxnDate, RefNumber, DueDate, Memo, then the lines."""
    if len(document.reference) > REFERENCE_LENGTH:
        raise AccountingError(f"reference {document.reference!r} is longer than Desktop's 11 characters")
    # Unverified: QuickBooks computes each line's Amount as Quantity × Rate rounded to the cent; we send
    # no Amount and compare its Subtotal with our total afterwards (a difference is kept as a warning).
    header = (
        _ref("CustomerRef", document.customer_id)
        + _element("TxnDate", document.invoice_date.isoformat())
        + _element("RefNumber", document.reference)
        + _element("DueDate", document.due_date.isoformat())
        + _element("Memo", document.memo[:4095])
    )
    lines = "".join(_line(line) for line in document.lines)
    return _messages(
        f'<InvoiceAddRq requestID="{request_prefix}-add"><InvoiceAdd>{header}{lines}</InvoiceAdd></InvoiceAddRq>',
        on_error="stopOnError",
    )


# --- responses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One `...Rs` element: status and the returned records."""

    name: str  # e.g. InvoiceQueryRs
    request_id: str
    code: int
    severity: str
    message: str
    records: tuple[ElementTree.Element, ...]

    @property
    def ok(self) -> bool:
        return self.code in (0, STATUS_NO_MATCH, STATUS_PARTIAL) and self.severity.lower() != "error"


def answers(response: str) -> dict[str, Answer]:
    """Every answer in a QBXMLMsgsRs, keyed by its request name without `Rs` (Customer­Query, …)."""
    root = parse_xml(response, "the qbXML response from QuickBooks")
    messages = root.find("QBXMLMsgsRs")
    if root.tag != "QBXML" or messages is None:
        raise AccountingError("the qbXML response from QuickBooks has no QBXML/QBXMLMsgsRs element")
    found: dict[str, Answer] = {}
    for element in messages:
        if not element.tag.endswith("Rs"):
            continue
        code_text = element.get("statusCode", "")
        if not code_text.lstrip("-").isdigit():
            raise AccountingError(f"QuickBooks answered {element.tag} without a numeric statusCode")
        found[element.tag[:-2]] = Answer(
            name=element.tag,
            request_id=element.get("requestID", ""),
            code=int(code_text),
            severity=element.get("statusSeverity", ""),
            message=element.get("statusMessage", ""),
            records=tuple(child for child in element if child.tag.endswith("Ret")),
        )
    return found


def _text(element: ElementTree.Element, path: str) -> str | None:
    found = element.find(path)
    return found.text if found is not None and found.text is not None else None


def remote_invoice(record: ElementTree.Element, document: InvoiceDocument) -> RemoteInvoice:
    """An InvoiceRet as the outbox records it: TxnID, RefNumber, the Subtotal QuickBooks computed, and
    what `check_ours` compares (the customer in the form our accounting id uses, the lines)."""
    txn_id = _text(record, "TxnID")
    if not txn_id:
        raise AccountingError("QuickBooks returned an invoice without a TxnID")
    subtotal = _text(record, "Subtotal")
    by_list_id = bool(LIST_ID.match(document.customer_id))
    lines = tuple(
        (Decimal(_text(line, "Quantity") or "1"), cents_from(_text(line, "Amount") or "0"))
        for line in record.findall("InvoiceLineRet")
    )
    return RemoteInvoice(
        remote_id=txn_id,
        number=_text(record, "RefNumber"),
        total_cents=cents_from(subtotal) if subtotal is not None else None,
        raw={"EditSequence": _text(record, "EditSequence"), "TxnNumber": _text(record, "TxnNumber")},
        customer_id=_text(record, "CustomerRef/ListID" if by_list_id else "CustomerRef/FullName"),
        reference=_text(record, "RefNumber"),
        net_cents=cents_from(subtotal) if subtotal is not None else None,
        lines=lines or None,
    )


def error_for(answer: Answer, document: InvoiceDocument) -> AccountingError:
    """A qbXML error status as something a person can act on; list locks are retried on the next poll."""
    said = f"QuickBooks Desktop: {answer.message} (status {answer.code})"
    if answer.code in RETRY_CODES:
        return ListLocked(f"{said}; the record is in use in QuickBooks, the next poll tries again")
    if answer.code == 3140:
        return Rejected(
            f"{said}; check that customer {document.customer_id!r} (the client's accounting id) and the "
            "item codes on the invoice exist in the QuickBooks company"
        )
    if answer.code == 3100:
        return Rejected(f"{said}; a list entry with that name already exists in QuickBooks")
    if answer.code == 3250:
        return Rejected(f"{said}; turn the feature on in QuickBooks (Edit › Preferences) and push again")
    if answer.code == 3260:
        return Rejected(
            f"{said}; give the QuickBooks user the Web Connector logs in as permission to add invoices"
        )
    return Rejected(said)


def check_outcome(found: dict[str, Answer], document: InvoiceDocument) -> RemoteInvoice | None:
    """After the three queries: the invoice already in QuickBooks (done), or None when it is safe to add.
    Raises Rejected naming a missing customer or item, or the error QuickBooks gave."""
    invoice = found.get("InvoiceQuery")
    if invoice is None:
        raise AccountingError("QuickBooks did not answer the InvoiceQueryRq; nothing was added")
    if invoice.code == 0 and invoice.records:
        candidates = [remote_invoice(record, document) for record in invoice.records]
        ours = first_ours(document, [c for c in candidates if c.reference == document.reference])
        if ours is not None:
            return check_ours(VENDOR, document, ours)
    elif not invoice.ok:
        raise error_for(invoice, document)
    customer = found.get("CustomerQuery")
    if customer is None or customer.code != 0 or not customer.records:
        # Unverified: an unknown FullName/ListID in a query answers 500 (Warn); a filter without match 1.
        raise Rejected(
            f"QuickBooks Desktop has no customer {document.customer_id!r}; set the client's accounting id "
            "to the customer's name (or ListID) in QuickBooks"
        )
    _check_currency(customer.records[0], document)
    wanted = {line.item_code for line in document.lines}
    items = found.get("ItemQuery")
    known: set[str] = set()
    for record in items.records if items is not None else ():
        for path in ("FullName", "Name", "ListID"):
            value = _text(record, path)
            if value:
                known.add(value)
    missing = sorted(wanted - known)
    if missing:
        raise Rejected(
            f"QuickBooks Desktop has no item {', '.join(repr(code) for code in missing)}; add the item(s) "
            "in QuickBooks or change the product code to the item's name"
        )
    return None


def add_outcome(found: dict[str, Answer], document: InvoiceDocument) -> RemoteInvoice:
    added = found.get("InvoiceAdd")
    if added is None:
        raise AccountingError("QuickBooks did not answer the InvoiceAddRq")
    if added.code != 0:
        raise error_for(added, document)
    if not added.records:
        raise AccountingError("QuickBooks answered the InvoiceAddRq without the invoice")
    return check_ours(VENDOR, document, remote_invoice(added.records[0], document))


# Unverified: Desktop names currencies (CurrencyRef FullName) rather than giving ISO codes; these are the
# names of its built-in currency list. A customer in another, unlisted currency is not checked.
CURRENCY_NAMES = {
    "US Dollar": "USD",
    "Canadian Dollar": "CAD",
    "British Pound Sterling": "GBP",
    "Euro": "EUR",
    "Australian Dollar": "AUD",
    "New Zealand Dollar": "NZD",
}


def _check_currency(customer: ElementTree.Element, document: InvoiceDocument) -> None:
    """A multicurrency company gives each customer a currency: it must be the invoice's."""
    name = _text(customer, "CurrencyRef/FullName")
    code = CURRENCY_NAMES.get(name or "")
    if code is not None and code != document.currency:
        raise Rejected(
            f"QuickBooks Desktop customer {document.customer_id!r} is billed in {name} ({code}), but MCC "
            f"invoice {document.invoice_id} for {document.customer_name} is in {document.currency}; nothing "
            "was sent — change the currency in mcc.toml or the customer in QuickBooks"
        )


# --- the document between polls -----------------------------------------------------------------


def document_to_json(document: InvoiceDocument) -> dict[str, Any]:
    """The invoice being sent, kept on the Web Connector session between its SOAP calls."""
    return {
        "invoice_id": document.invoice_id,
        "idempotency_key": document.idempotency_key,
        "reference": document.reference,
        "customer_id": document.customer_id,
        "customer_name": document.customer_name,
        "period": document.period,
        "invoice_date": document.invoice_date.isoformat(),
        "due_date": document.due_date.isoformat(),
        "currency": document.currency,
        "total_cents": document.total_cents,
        "memo": document.memo,
        "lines": [
            {
                "kind": line.kind,
                "item_code": line.item_code,
                "description": line.description,
                "quantity": str(line.quantity),
                "unit_price_cents": line.unit_price_cents,
                "amount_cents": line.amount_cents,
            }
            for line in document.lines
        ],
    }


def document_from_json(data: dict[str, Any]) -> InvoiceDocument:
    return InvoiceDocument(
        invoice_id=int(data["invoice_id"]),
        idempotency_key=data["idempotency_key"],
        reference=data["reference"],
        customer_id=data["customer_id"],
        customer_name=data["customer_name"],
        period=data["period"],
        invoice_date=date.fromisoformat(data["invoice_date"]),
        due_date=date.fromisoformat(data["due_date"]),
        currency=data["currency"],
        total_cents=int(data["total_cents"]),
        memo=data["memo"],
        lines=tuple(
            DocumentLine(
                kind=line["kind"],
                item_code=line["item_code"],
                description=line["description"],
                quantity=Decimal(line["quantity"]),
                unit_price_cents=int(line["unit_price_cents"]),
                amount_cents=int(line["amount_cents"]),
            )
            for line in data["lines"]
        ),
    )
