"""A fake QuickBooks Desktop company answering qbXML as QuickBooks does, and a fake Web Connector that
drives MCC's SOAP service with it over a real socket, the way the Web Connector on a bookkeeper's
Windows machine does on each scheduled run.

    company = DesktopCompany(customers={"80000001-1234567890": "Acme Dental"}, items=["WS"])
    connector = WebConnector(url, "mcc", "secret", company)
    run = connector.poll()          # authenticate, send/receive until done, close
    company.invoices                # what QuickBooks now holds

Failures on demand: `company.fail_next("InvoiceAdd", 3176, "...")` (one answer with that status),
`company.lose_answer_to = "InvoiceAdd"` (QuickBooks did the work, the Web Connector died before
receiveResponseXML), `company.hresult_next = ("0x80040408", "...")` (QuickBooks could not
take the request at all).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.etree import ElementTree

import httpx

INTUIT = "http://developer.intuit.com/"
# InvoiceAdd's children in schema order (the subset MCC can send); QuickBooks refuses any other order.
INVOICE_ADD_ORDER = ("CustomerRef", "ClassRef", "ARAccountRef", "TemplateRef", "TxnDate", "RefNumber",
                     "BillAddress", "ShipAddress", "IsPending", "PONumber", "TermsRef", "DueDate", "SalesRepRef",
                     "FOB", "ShipDate", "ShipMethodRef", "ItemSalesTaxRef", "Memo", "InvoiceLineAdd")  # fmt: skip
LINE_ORDER = ("ItemRef", "Desc", "Quantity", "UnitOfMeasure", "Rate", "RatePercent", "PriceLevelRef", "ClassRef",
              "Amount")  # fmt: skip
PARSE_ERROR = ("0x80040400", "QuickBooks found an error when parsing the provided XML text stream.")


class ParseError(Exception):
    """QuickBooks could not parse the request: the Web Connector reports an HRESULT, no qbXML answer."""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _text(element: ElementTree.Element, path: str) -> str | None:
    found = element.find(path)
    return found.text if found is not None else None


@dataclass
class DesktopInvoice:
    txn_id: str
    customer_list_id: str
    customer: str
    ref_number: str
    txn_date: str
    lines: list[dict[str, Any]]
    subtotal: Decimal
    edit_sequence: str = "1767225600"

    def ret(self) -> str:
        lines = "".join(
            f"<InvoiceLineRet><TxnLineID>{self.txn_id}-{number}</TxnLineID>"
            f"<ItemRef><FullName>{_escape(line['item'])}</FullName></ItemRef>"
            f"<Desc>{_escape(line['desc'])}</Desc><Quantity>{line['quantity']}</Quantity>"
            f"<Rate>{line['rate']}</Rate><Amount>{line['amount']:.2f}</Amount></InvoiceLineRet>"
            for number, line in enumerate(self.lines, start=1)
        )
        return (
            f"<InvoiceRet><TxnID>{self.txn_id}</TxnID><EditSequence>{self.edit_sequence}</EditSequence>"
            f"<TxnNumber>{self.txn_id.split('-')[0]}</TxnNumber>"
            f"<CustomerRef><ListID>{self.customer_list_id}</ListID><FullName>{_escape(self.customer)}</FullName>"
            f"</CustomerRef><TxnDate>{self.txn_date}</TxnDate><RefNumber>{_escape(self.ref_number)}</RefNumber>"
            f"<Subtotal>{self.subtotal:.2f}</Subtotal>{lines}</InvoiceRet>"
        )


@dataclass
class DesktopCompany:
    """Customers (ListID → name), items (names) and invoices of one company file. Thread-safe: QuickBooks
    processes one request at a time per company file."""

    customers: dict[str, str] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    invoices: list[DesktopInvoice] = field(default_factory=list)
    currencies: dict[str, str] = field(default_factory=dict)  # ListID -> currency name (multicurrency on)
    requests: list[str] = field(default_factory=list)  # every request name handled, in order
    lose_answer_to: str | None = None  # a request name: its message is processed, the answer never arrives
    hresult_next: tuple[str, str] | None = None
    _failures: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0x100

    def fail_next(self, request: str, code: int, message: str) -> None:
        """The next `request` (InvoiceAdd, InvoiceQuery, CustomerQuery, ItemQuery) answers with this status."""
        self._failures.setdefault(request, []).append((code, message))

    def totals(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for invoice in self.invoices:
            result[invoice.customer] = result.get(invoice.customer, 0) + int(invoice.subtotal * 100)
        return result

    def process(self, request: str) -> str:
        """One qbXML request message in, the response message out (raises ParseError like QuickBooks)."""
        with self._lock:
            try:
                root = ElementTree.fromstring(request)
            except ElementTree.ParseError:
                raise ParseError from None
            messages = root.find("QBXMLMsgsRq")
            if root.tag != "QBXML" or messages is None or "<?qbxml version=" not in request:
                raise ParseError
            stop = messages.get("onError") == "stopOnError"
            answers = []
            for element in messages:
                name = element.tag.removesuffix("Rq")
                self.requests.append(name)
                answer, failed = self._answer(name, element)
                answers.append(answer)
                if failed and stop:
                    break
            return f'<?xml version="1.0" ?><QBXML><QBXMLMsgsRs>{"".join(answers)}</QBXMLMsgsRs></QBXML>'

    def _status(self, name: str, request_id: str, code: int, message: str, body: str = "") -> str:
        severity = "Info" if code in (0, 1) else "Warn" if code == 500 else "Error"
        return (
            f'<{name}Rs requestID="{_escape(request_id)}" statusCode="{code}" statusSeverity="{severity}" '
            f'statusMessage="{_escape(message)}">{body}</{name}Rs>'
        )

    def _answer(self, name: str, element: ElementTree.Element) -> tuple[str, bool]:
        request_id = element.get("requestID", "")
        queued = self._failures.get(name)
        if queued:
            code, message = queued.pop(0)
            return self._status(name, request_id, code, message), True
        handler = {
            "CustomerQuery": self._customer_query,
            "ItemQuery": self._item_query,
            "InvoiceQuery": self._invoice_query,
            "InvoiceAdd": self._invoice_add,
        }.get(name)
        if handler is None:
            return self._status(name, request_id, 3000, f'The request "{name}Rq" is not supported.'), True
        return handler(name, request_id, element)

    def _customer(self, ref: ElementTree.Element | None) -> tuple[str, str] | None:
        if ref is None:
            return None
        list_id, full_name = _text(ref, "ListID"), _text(ref, "FullName")
        for key, value in self.customers.items():
            if key == list_id or value == full_name:
                return key, value
        return None

    def _customer_query(self, name: str, request_id: str, element: ElementTree.Element) -> tuple[str, bool]:
        found = self._customer(element)
        if found is None:
            wanted = _text(element, "ListID") or _text(element, "FullName") or ""
            message = f'The query request has not been fully completed. There was a required element ("{wanted}") that could not be found in QuickBooks.'
            return self._status(name, request_id, 500, message), False
        currency = self.currencies.get(found[0])
        currency_ref = (
            f"<CurrencyRef><FullName>{_escape(currency)}</FullName></CurrencyRef>" if currency else ""
        )
        body = (
            f"<CustomerRet><ListID>{found[0]}</ListID><Name>{_escape(found[1])}</Name>"
            f"<FullName>{_escape(found[1])}</FullName>{currency_ref}</CustomerRet>"
        )
        return self._status(name, request_id, 0, "Status OK", body), False

    def _item_query(self, name: str, request_id: str, element: ElementTree.Element) -> tuple[str, bool]:
        wanted = [child.text or "" for child in element.findall("FullName")]
        known = [item for item in wanted if item in self.items]
        body = "".join(
            f"<ItemServiceRet><ListID>{8000 + self.items.index(item):X}-1767225600</ListID><Name>{_escape(item)}</Name>"
            f"<FullName>{_escape(item)}</FullName></ItemServiceRet>"
            for item in known
        )
        if len(known) < len(wanted):
            missing = next(item for item in wanted if item not in self.items)
            message = f'The query request has not been fully completed. There was a required element ("{missing}") that could not be found in QuickBooks.'
            return self._status(name, request_id, 500, message, body), False
        return self._status(name, request_id, 0, "Status OK", body), False

    def _invoice_query(self, name: str, request_id: str, element: ElementTree.Element) -> tuple[str, bool]:
        numbers = {child.text for child in element.findall("RefNumber")}
        found = [invoice for invoice in self.invoices if invoice.ref_number in numbers]
        if not found:
            message = "A query request did not find a matching object in QuickBooks"
            return self._status(name, request_id, 1, message), False
        return self._status(name, request_id, 0, "Status OK", "".join(i.ret() for i in found)), False

    def _invoice_add(self, name: str, request_id: str, element: ElementTree.Element) -> tuple[str, bool]:
        add = element.find("InvoiceAdd")
        if add is None:
            raise ParseError
        _check_order([child.tag for child in add], INVOICE_ADD_ORDER)
        customer = self._customer(add.find("CustomerRef"))
        if customer is None:
            ref = add.find("CustomerRef")
            wanted = (_text(ref, "FullName") or _text(ref, "ListID")) if ref is not None else ""
            message = f'There is an invalid reference to QuickBooks Customer "{wanted}" in the Invoice. QuickBooks error message: Invalid argument. The specified record does not exist in the list.'
            return self._status(name, request_id, 3140, message), True
        ref_number = _text(add, "RefNumber") or ""
        if len(ref_number) > 11:
            message = f'The string "{ref_number}" in the field "RefNumber" is too long.'
            return self._status(name, request_id, 3070, message), True
        lines: list[dict[str, Any]] = []
        amounts: list[Decimal] = []
        for line in add.findall("InvoiceLineAdd"):
            _check_order([child.tag for child in line], LINE_ORDER)
            item = _text(line, "ItemRef/FullName") or ""
            if item not in self.items:
                message = f'There is an invalid reference to QuickBooks Item "{item}" in the Invoice line. QuickBooks error message: Invalid argument. The specified record does not exist in the list.'
                return self._status(name, request_id, 3140, message), True
            quantity = Decimal(_text(line, "Quantity") or "1")
            rate = Decimal(_text(line, "Rate") or "0")
            amount = (quantity * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            amounts.append(amount)
            lines.append(
                {
                    "item": item,
                    "desc": _text(line, "Desc") or "",
                    "quantity": quantity,
                    "rate": rate,
                    "amount": amount,
                }
            )
        self._counter += 1
        invoice = DesktopInvoice(
            txn_id=f"{self._counter:X}-1767225600",
            customer_list_id=customer[0],
            customer=customer[1],
            ref_number=ref_number,
            txn_date=_text(add, "TxnDate") or "",
            lines=lines,
            subtotal=sum(amounts, Decimal("0")),
        )
        self.invoices.append(invoice)
        return self._status(name, request_id, 0, "Status OK", invoice.ret()), False


def _check_order(tags: list[str], order: tuple[str, ...]) -> None:
    positions = []
    for tag in tags:
        if tag not in order:
            raise ParseError
        positions.append(order.index(tag))
    if positions != sorted(positions):
        raise ParseError


# --- the Web Connector ------------------------------------------------------------------------------


def _call(method: str, **args: str | int) -> bytes:
    inner = "".join(f"<{key}>{_escape(str(value))}</{key}>" for key, value in args.items())
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><{method} xmlns="{INTUIT}">{inner}</{method}></soap:Body></soap:Envelope>'
    ).encode()


@dataclass
class Run:
    """What one scheduled run of the Web Connector saw."""

    authenticate: list[str] = field(default_factory=list)
    requests: int = 0
    progress: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    closed: str | None = None
    died: bool = False


class WebConnector:
    """Speaks the Web Connector's side of the SOAP protocol (as QBWC 2.3 does) to `url`."""

    def __init__(self, url: str, username: str, password: str, company: DesktopCompany) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.company = company
        self.http = httpx.Client(timeout=30)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, **args: str | int) -> Any:
        """One SOAP call; the result element's text (a list of strings for authenticate)."""
        response = self.http.post(
            self.url,
            content=_call(method, **args),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{INTUIT}{method}"'},
        )
        root = ElementTree.fromstring(response.content)
        fault = root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
        if fault is not None:
            raise RuntimeError(f"SOAP fault from {method}: {_text(fault, 'faultstring')}")
        result = root.find(f".//{{{INTUIT}}}{method}Result")
        if result is None:
            raise RuntimeError(f"{method} answered without {method}Result")
        if method == "authenticate":
            return [item.text or "" for item in result.findall(f"{{{INTUIT}}}string")]
        return result.text or ""

    def send(self, ticket: str) -> str:
        return str(
            self.call(
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse="",
                strCompanyFileName="C:\\Company\\Morton.qbw",
                qbXMLCountry="US",
                qbXMLMajorVers=13,
                qbXMLMinorVers=0,
            )
        )

    def answer(self, ticket: str, request: str) -> int:
        """Hand `request` to QuickBooks and its answer (or HRESULT) back to MCC; returns percent done."""
        try:
            response, hresult, message = self.company.process(request), "", ""
        except ParseError:
            response, (hresult, message) = "", PARSE_ERROR
        if self.company.hresult_next is not None:
            (hresult, message), self.company.hresult_next, response = self.company.hresult_next, None, ""
        return int(
            self.call(
                "receiveResponseXML", ticket=ticket, response=response, hresult=hresult, message=message
            )
        )

    def poll(self) -> Run:
        """One scheduled run, as the Web Connector does it."""
        run = Run()
        self.call("serverVersion")
        version = str(self.call("clientVersion", strVersion="2.3.0.36"))
        if version.startswith("E:"):
            run.errors.append(version)
            return run
        run.authenticate = self.call("authenticate", strUserName=self.username, strPassword=self.password)
        ticket, verdict = (run.authenticate + ["", ""])[:2]
        if verdict in ("nvu", "none", "busy"):
            return run
        while True:
            request = self.send(ticket)
            if not request:
                run.errors.append(str(self.call("getLastError", ticket=ticket)))
                break
            run.requests += 1
            lost = self.company.lose_answer_to
            if lost is not None and f"<{lost}Rq" in request:
                self.company.lose_answer_to = None
                self.company.process(request)  # QuickBooks did it; the Web Connector died before answering
                run.died = True
                return run
            percent = self.answer(ticket, request)
            run.progress.append(percent)
            if percent < 0:
                run.errors.append(str(self.call("getLastError", ticket=ticket)))
                break
            if percent >= 100:
                break
        run.closed = str(self.call("closeConnection", ticket=ticket))
        return run

    def run_every(self, seconds: float, stop: threading.Event) -> None:
        """Poll on a schedule until `stop` is set, as the Web Connector's Auto-Run does (the demo)."""
        last = ""
        while not stop.wait(seconds):
            try:
                self.poll()
                last = ""
            except (httpx.HTTPError, RuntimeError) as error:  # the service is not up yet, or restarting
                if str(error) != last:
                    print(f"fake Web Connector: {error}; trying again every {seconds:g} s")
                last = str(error)
