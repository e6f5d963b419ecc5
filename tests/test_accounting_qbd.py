"""QuickBooks Desktop through the Web Connector: a fake Web Connector speaks SOAP to MCC's service over a
real socket, backed by a fake Desktop company answering qbXML. Each approved invoice lands exactly once
across retries, a second poll, a connector that dies mid-session and two connectors at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from xml.etree import ElementTree

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from accounting import qbd
from accounting.base import DocumentLine, InvoiceDocument
from accounting.qbwc import SENDING, UNKNOWN_TICKET, WAITING, WebConnectorService
from accounting.soap import serve_in_thread
from mcc import invoicing
from mcc.cli import app
from mcc.config import Config
from sandbox.quickbooks_desktop import DesktopCompany, DesktopInvoice, WebConnector
from store.db import make_engine, reading, transaction
from store.models import AuditEvent, Client, Contract, Invoice, OutboxEntry, Product, QbwcSession, TimeEntry
from store.types import utcnow
from tests.invoicebook import ACME_TOTAL, APPROVER, BETA_TOTAL, INVOICER, PERIOD, seed

ACME_LIST_ID = "80000001-1234567890"
CUSTOMERS = {ACME_LIST_ID: "Acme Dental", "80000002-1234567890": "Beta Law"}
ITEMS = ["WS", "M365-BP", "LABOR"]
USERNAME, PASSWORD = "mcc-books", "correct horse battery staple"
TOML = "[accounting]\nkind = \"qbd\"\ncompany_file = 'C:\\Company\\Morton.qbw'\n"


@pytest.fixture
def config(write_config) -> Config:
    return write_config(TOML)


@pytest.fixture
def company() -> DesktopCompany:
    return DesktopCompany(customers=dict(CUSTOMERS), items=list(ITEMS))


def _serve(engine: Engine, config: Config) -> Iterator[str]:
    service = WebConnectorService(engine, config, username=USERNAME, password=SecretStr(PASSWORD))
    server = serve_in_thread(service)
    yield f"http://127.0.0.1:{server.server_port}/qbwc"
    server.shutdown()
    server.server_close()


@pytest.fixture
def url(engine: Engine, config: Config) -> Iterator[str]:
    yield from _serve(engine, config)


@pytest.fixture
def connector(url: str, company: DesktopCompany) -> Iterator[WebConnector]:
    web_connector = WebConnector(url, USERNAME, PASSWORD, company)
    yield web_connector
    web_connector.close()


def queued(engine: Engine, config: Config, *, acme: str = ACME_LIST_ID) -> dict[str, int]:
    """Seed, draft, approve and push (which, for Desktop, queues): invoice ids by client name."""
    seed(engine, acme_accounting_id=acme, beta_accounting_id="Beta Law")
    ids = {}
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)
    results = invoicing.push(engine, config, INVOICER, period=PERIOD)
    assert {r.status for r in results} == {"queued"} and all(r.ok for r in results)
    for result in results:
        ids[result.client] = result.invoice_id
    return ids


def invoice(engine: Engine, invoice_id: int) -> Invoice:
    with reading(engine) as session:
        found = session.get_one(Invoice, invoice_id)
        session.expunge(found)
        return found


def adds(company: DesktopCompany) -> int:
    return company.requests.count("InvoiceAdd")


def expire_leases(engine: Engine) -> None:
    """Five minutes pass: a lease held by a Web Connector session that died runs out."""
    with transaction(engine) as session:
        session.execute(update(OutboxEntry).values(lease_until=utcnow() - timedelta(seconds=1)))


def test_a_poll_writes_each_approved_invoice_once_with_exact_amounts_and_the_txn_id(
    engine, config, company, connector
) -> None:
    ids = queued(engine, config)
    waiting = invoice(engine, ids["Acme Dental"])
    assert (waiting.status, waiting.last_error) == ("pushing", WAITING)

    run = connector.poll()

    assert run.authenticate[1] == "C:\\Company\\Morton.qbw" and not run.errors
    assert run.progress[-1] == 100 and run.closed == "OK: 2 invoice(s) written to QuickBooks Desktop"
    assert company.totals() == {"Acme Dental": ACME_TOTAL, "Beta Law": BETA_TOTAL}
    # per invoice: check the mapping and look the reference up in one message, then add
    assert company.requests == ["CustomerQuery", "ItemQuery", "InvoiceQuery", "InvoiceAdd"] * 2
    by_reference = {i.ref_number: i for i in company.invoices}
    for invoice_id in ids.values():
        pushed = invoice(engine, invoice_id)
        assert pushed.status == "pushed" and pushed.last_error is None
        assert pushed.remote_number is not None and len(pushed.remote_number) <= 11
        assert by_reference[pushed.remote_number].txn_id == pushed.remote_id
    with reading(engine) as session:
        acme_time = session.scalars(
            select(TimeEntry.invoice_id).where(TimeEntry.invoice_id.is_not(None))
        ).all()
        actors = set(session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "invoice.pushed")))
    assert acme_time == [ids["Acme Dental"]] * 2
    assert actors == {f"qbwc:{USERNAME}"}

    again = connector.poll()
    assert again.authenticate[1] == "none" and again.requests == 0 and adds(company) == 2
    assert {r.status for r in invoicing.push(engine, config, INVOICER, invoice_ids=list(ids.values()))} == {
        "already_pushed"
    }


def document(reference: str) -> InvoiceDocument:
    lines = (
        DocumentLine("recurring", "WS", "Managed workstation\n March", Decimal("712"), 4500, 3204000),
        DocumentLine("time", "LABOR", "Time & <materials> 4 March", Decimal("0.333"), 15000, 4995),
    )
    return InvoiceDocument(
        invoice_id=1,
        idempotency_key="9c2a7b0e" * 8,
        reference=reference,
        customer_id=ACME_LIST_ID,
        customer_name="Acme Dental",
        period=PERIOD,
        invoice_date=date(2026, 3, 28),
        due_date=date(2026, 4, 27),
        currency="USD",
        lines=lines,
        total_cents=3208995,
        memo="Acme Dental 2026-03",
    )


def test_add_request_follows_the_schema_order_with_an_eleven_character_reference() -> None:
    reference = qbd.desktop_reference(123456, "9c2a7b0e" * 8)
    assert reference == "M2N9C-9C2A7" and len(reference) == 11
    assert len(qbd.desktop_reference(2_000_000_000, "ab" * 32)) == 11
    with pytest.raises(Exception, match="too large"):
        qbd.desktop_reference(36**8, "ab" * 32)
    text = qbd.add_request(document(reference), "mcc-1")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?>')
    add = ElementTree.fromstring(text).find("QBXMLMsgsRq/InvoiceAddRq/InvoiceAdd")
    assert add is not None
    assert [child.tag for child in add] == [
        "CustomerRef",
        "TxnDate",
        "RefNumber",
        "DueDate",
        "Memo",
        "InvoiceLineAdd",
        "InvoiceLineAdd",
    ]
    assert add.findtext("CustomerRef/ListID") == ACME_LIST_ID and add.findtext("RefNumber") == reference
    line = add.findall("InvoiceLineAdd")[1]
    assert [child.tag for child in line] == ["ItemRef", "Desc", "Quantity", "Rate"]
    assert (line.findtext("ItemRef/FullName"), line.findtext("Quantity"), line.findtext("Rate")) == (
        "LABOR",
        "0.333",
        "150.00",
    )
    assert line.findtext("Desc") == "Time & <materials> 4 March"


def test_bad_credentials_answer_nvu_and_no_work_answers_none(url, company) -> None:
    wrong = WebConnector(url, USERNAME, "not the password", company)
    assert wrong.call("authenticate", strUserName=USERNAME, strPassword="not the password") == ["", "nvu"]
    assert wrong.call("authenticate", strUserName="someone", strPassword=PASSWORD) == ["", "nvu"]
    right = WebConnector(url, USERNAME, PASSWORD, company)
    ticket, verdict = right.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    assert ticket and verdict == "none"
    assert right.call("serverVersion").startswith("Morton Command Center")
    assert right.call("clientVersion", strVersion="2.3.0.36") == ""
    wrong.close()
    right.close()


def test_an_unknown_ticket_ends_the_session_cleanly_without_a_fault(engine, config, connector) -> None:
    queued(engine, config)
    assert connector.send("no-such-ticket") == ""
    assert connector.call("getLastError", ticket="no-such-ticket") == UNKNOWN_TICKET
    assert connector.call("receiveResponseXML", ticket="nope", response="", hresult="", message="") == "-1"
    assert connector.call("connectionError", ticket="nope", hresult="0x1", message="x") == "done"
    assert connector.call("closeConnection", ticket="nope") == "OK"
    # a closed session's ticket is unknown too
    ticket, _ = connector.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    assert connector.call("closeConnection", ticket=ticket).startswith("OK")
    assert connector.send(ticket) == ""
    with reading(engine) as session:
        assert session.scalars(select(QbwcSession.ticket_hash)).all() == [qbd_hash(ticket)]


def qbd_hash(ticket: str) -> str:
    import hashlib

    return hashlib.sha256(ticket.encode()).hexdigest()


def test_a_connector_that_dies_after_the_add_never_makes_a_second_invoice(
    engine, config, company, connector
) -> None:
    ids = queued(engine, config)
    company.lose_answer_to = "InvoiceAdd"
    run = connector.poll()
    assert run.died and len(company.invoices) == 1
    acme = invoice(engine, ids["Acme Dental"])
    assert (acme.status, acme.last_error) == ("pushing", SENDING)
    # its lease is still held: a new run at once does not touch it (Beta is done in that run)
    second = connector.poll()
    assert adds(company) == 2 and invoice(engine, ids["Acme Dental"]).status == "pushing"
    assert second.closed is not None
    # a person pushing again meanwhile steps back instead of queueing a second send
    assert [r.status for r in invoicing.push(engine, config, INVOICER, invoice_ids=[ids["Acme Dental"]])] == [
        "in_progress"
    ]
    expire_leases(engine)
    third = connector.poll()
    assert third.closed is not None and not third.errors
    assert adds(company) == 2 and len(company.invoices) == 2  # found by reference, not added again
    assert company.totals() == {"Acme Dental": ACME_TOTAL, "Beta Law": BETA_TOTAL}
    pushed = invoice(engine, ids["Acme Dental"])
    assert pushed.status == "pushed"
    assert pushed.remote_id == next(i.txn_id for i in company.invoices if i.customer == "Acme Dental")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (3140, "check that customer"),
        (3100, "already exists"),
        (3250, "turn the feature on"),
        (3260, "permission to add invoices"),
    ],
)
def test_a_rejection_is_a_clear_error_and_a_new_push_makes_one(
    engine, config, company, connector, code, words
) -> None:
    ids = queued(engine, config)
    company.fail_next("InvoiceAdd", code, "QuickBooks said no.")
    connector.poll()
    failed = invoice(engine, ids["Acme Dental"])
    assert failed.status == "failed"
    assert (
        failed.last_error is not None
        and f"(status {code})" in failed.last_error
        and words in failed.last_error
    )
    assert invoice(engine, ids["Beta Law"]).status == "pushed"  # the session went on with the next one
    assert connector.poll().authenticate[1] == "none"  # rejected rows are closed: no automatic resend
    assert [r.status for r in invoicing.push(engine, config, INVOICER, invoice_ids=[ids["Acme Dental"]])] == [
        "queued"
    ]
    connector.poll()
    assert invoice(engine, ids["Acme Dental"]).status == "pushed" and len(company.invoices) == 2


@pytest.mark.parametrize("code", [3170, 3176, 3180, 3200])
def test_a_locked_list_is_retried_on_the_next_poll_without_a_new_push(
    engine, config, company, connector, code
) -> None:
    ids = queued(engine, config)
    company.fail_next("InvoiceAdd", code, "The record is in use by another user.")
    connector.poll()
    locked = invoice(engine, ids["Acme Dental"])
    assert locked.status == "failed" and "the next poll tries again" in (locked.last_error or "")
    connector.poll()
    assert invoice(engine, ids["Acme Dental"]).status == "pushed"
    assert len(company.invoices) == 2 and company.requests.count("InvoiceQuery") == 3
    with reading(engine) as session:
        states = session.scalars(
            select(OutboxEntry.state).where(OutboxEntry.invoice_id == ids["Acme Dental"])
        ).all()
    assert states == ["confirmed"]  # one key, one reference, from queue to confirmation


def test_an_unknown_customer_or_item_is_named_and_nothing_is_added(
    engine, config, company, connector
) -> None:
    ids = queued(engine, config, acme="Nobody Dental")
    company.items.remove("LABOR")
    connector.poll()
    acme, beta = invoice(engine, ids["Acme Dental"]), invoice(engine, ids["Beta Law"])
    assert acme.status == "failed" and "no customer 'Nobody Dental'" in (acme.last_error or "")
    assert beta.status == "pushed" and len(company.invoices) == 1  # Beta bills no time
    with transaction(engine) as session:
        session.get_one(Client, acme.client_id).accounting_id = ACME_LIST_ID
    invoicing.push(engine, config, INVOICER, invoice_ids=[acme.id])
    connector.poll()
    assert "no item 'LABOR'" in (invoice(engine, acme.id).last_error or "") and len(company.invoices) == 1
    company.items.append("LABOR")
    invoicing.push(engine, config, INVOICER, invoice_ids=[acme.id])
    connector.poll()
    assert invoice(engine, acme.id).status == "pushed" and company.requests.count("InvoiceAdd") == 2


def test_quickbooks_not_taking_the_request_keeps_the_invoice_for_the_next_poll(
    engine, config, company, connector
) -> None:
    ids = queued(engine, config)
    company.hresult_next = ("0x80040408", "Could not start QuickBooks.")
    connector.poll()
    failed = invoice(engine, ids["Acme Dental"])
    assert failed.status == "failed" and "0x80040408" in (failed.last_error or "")
    ticket, verdict = connector.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    assert verdict == "C:\\Company\\Morton.qbw"
    assert connector.call("connectionError", ticket=ticket, hresult="0x80040420", message="in use") == "done"
    assert "could not open QuickBooks Desktop" in (invoice(engine, ids["Acme Dental"]).last_error or "")
    connector.poll()
    assert invoice(engine, ids["Acme Dental"]).status == "pushed" and len(company.invoices) == 2


def _two_connectors_at_once(engine: Engine, config: Config, url: str, company: DesktopCompany) -> None:
    ids = queued(engine, config)
    first = WebConnector(url, USERNAME, PASSWORD, company)
    second = WebConnector(url, USERNAME, PASSWORD, company)
    # interleaved step by step: each session holds a different invoice
    ticket_a, _ = first.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    ticket_b, verdict_b = second.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    assert verdict_b != "none"
    request_a, request_b = first.send(ticket_a), second.send(ticket_b)
    assert first.answer(ticket_a, request_a) == 50 and second.answer(ticket_b, request_b) == 50
    request_a, request_b = first.send(ticket_a), second.send(ticket_b)
    assert "InvoiceAddRq" in request_a and "InvoiceAddRq" in request_b
    assert first.answer(ticket_a, request_a) == 100 and second.answer(ticket_b, request_b) == 100
    first.call("closeConnection", ticket=ticket_a)
    second.call("closeConnection", ticket=ticket_b)
    assert len(company.invoices) == 2 and {invoice(engine, i).status for i in ids.values()} == {"pushed"}
    for web_connector in (first, second):
        web_connector.close()


def _connectors_racing(engine: Engine, config: Config, url: str, company: DesktopCompany) -> None:
    """Four Web Connectors polling at the same moment in threads: every invoice once."""
    ids = queued(engine, config)
    connectors = [WebConnector(url, USERNAME, PASSWORD, company) for _ in range(4)]
    threads = [threading.Thread(target=c.poll) for c in connectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert adds(company) == 2 and len({i.ref_number for i in company.invoices}) == 2
    assert company.totals() == {"Acme Dental": ACME_TOTAL, "Beta Law": BETA_TOTAL}
    assert {invoice(engine, i).status for i in ids.values()} == {"pushed"}
    for web_connector in connectors:
        web_connector.close()


@pytest.mark.parametrize(
    "scenario", [_two_connectors_at_once, _connectors_racing], ids=["interleaved", "threads"]
)
def test_two_connectors_at_once_write_each_invoice_once(engine, config, url, company, scenario) -> None:
    scenario(engine, config, url, company)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "scenario", [_two_connectors_at_once, _connectors_racing], ids=["interleaved", "threads"]
)
def test_two_connectors_at_once_write_each_invoice_once_on_postgresql(
    postgres_url, write_config, monkeypatch, company, scenario
) -> None:
    monkeypatch.setenv("MCC_DATABASE_URL", postgres_url)
    config = write_config(TOML)
    engine = make_engine(postgres_url)
    try:
        for url in _serve(engine, config):
            scenario(engine, config, url, company)
    finally:
        engine.dispose()


def test_xml_with_a_doctype_is_refused_before_it_is_read(url, engine) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<authenticate xmlns="http://developer.intuit.com/"><strUserName>&lol2;</strUserName>'
        f"<strPassword>{PASSWORD}</strPassword></authenticate></soap:Body></soap:Envelope>"
    )
    response = httpx.post(url, content=bomb.encode(), headers={"Content-Type": "text/xml"})
    assert response.status_code == 500 and b"DOCTYPE" in response.content and b"Fault" in response.content
    with pytest.raises(qbd.UnsafeXml):
        qbd.answers('<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><QBXML/>')
    utf16 = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x [<!ENTITY a "aaaa">]><QBXML>&a;</QBXML>'
    with pytest.raises(qbd.UnsafeXml):  # the byte check cannot see it; the parser's DOCTYPE hook does
        qbd.parse_xml(utf16.encode("utf-16"), "a UTF-16 answer")
    with reading(engine) as session:
        assert session.scalars(select(QbwcSession)).all() == []


def test_qwc_file_names_the_service_user_and_schedule(config, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MCC_QBD_USERNAME", USERNAME)
    target = tmp_path / "mcc.qwc"
    runner = CliRunner()
    result = runner.invoke(
        app, ["qbwc", "qwc", "--url", "https://mcc.example.com/qbwc", "--every", "10", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    root = ElementTree.fromstring(target.read_text(encoding="utf-8"))
    fields = {child.tag: (child.text or "") for child in root}
    assert fields["AppURL"] == "https://mcc.example.com/qbwc" and fields["UserName"] == USERNAME
    assert fields["QBType"] == "QBFS" and fields["AppSupport"] == "https://mcc.example.com/"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "10"
    assert fields["OwnerID"].startswith("{") and fields["FileID"].startswith("{") and fields["AppName"]
    again = runner.invoke(
        app, ["qbwc", "qwc", "--url", "https://mcc.example.com/qbwc", "-o", str(tmp_path / "b.qwc")]
    )
    assert again.exit_code == 0
    second = ElementTree.fromstring((tmp_path / "b.qwc").read_text(encoding="utf-8"))
    assert second.findtext("FileID") == fields["FileID"]  # stable for the same company file
    refused = runner.invoke(app, ["qbwc", "qwc", "--url", "http://mcc.example.com/qbwc", "-o", str(target)])
    assert refused.exit_code == 1 and "https://" in refused.output


def test_serve_and_push_explain_what_is_missing(write_config, monkeypatch) -> None:
    monkeypatch.delenv("MCC_QBD_USERNAME", raising=False)
    monkeypatch.delenv("MCC_QBD_PASSWORD", raising=False)
    write_config(TOML)
    runner = CliRunner()
    result = runner.invoke(app, ["qbwc", "serve", "--port", "0"])
    assert result.exit_code == 1 and "MCC_QBD_USERNAME" in result.output
    write_config('[accounting]\nkind = "file"\n')
    result = runner.invoke(app, ["qbwc", "serve", "--port", "0"])
    assert result.exit_code == 1 and 'kind = "qbd"' in result.output


def test_the_push_command_says_the_invoice_waits_for_the_web_connector(engine, config, cli_user) -> None:
    cli_user("ines", "invoicer")
    seed(engine, acme_accounting_id=ACME_LIST_ID, beta_accounting_id="Beta Law")
    for draft in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, draft.id)
    result = CliRunner().invoke(app, ["invoices", "push", "--period", PERIOD])
    assert result.exit_code == 0, result.output
    assert result.output.count(WAITING) == 2 and "queued" in result.output


def test_a_session_that_lost_its_lease_sends_nothing_more(engine, config, company, url) -> None:
    ids = queued(engine, config)
    with transaction(engine) as session:  # only Acme waits
        session.execute(update(Invoice).where(Invoice.id == ids["Beta Law"]).values(status="approved"))
    slow = WebConnector(url, USERNAME, PASSWORD, company)
    ticket, _ = slow.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    assert slow.answer(ticket, slow.send(ticket)) == 50  # checked; the add is next
    expire_leases(engine)  # the slow session stalls past its lease; another run takes the invoice over
    fast = WebConnector(url, USERNAME, PASSWORD, company)
    assert fast.poll().closed == "OK: 1 invoice(s) written to QuickBooks Desktop"
    assert slow.send(ticket) == ""  # no add without a live lease
    assert "taken over by another Web Connector session" in slow.call("getLastError", ticket=ticket)
    assert adds(company) == 1 and invoice(engine, ids["Acme Dental"]).status == "pushed"
    # nor does a late answer of a session that lost its lease change what the new owner holds
    stalled = WebConnector(url, USERNAME, PASSWORD, company)
    invoicing.push(engine, config, INVOICER, invoice_ids=[ids["Beta Law"]])
    ticket, _ = stalled.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    request = stalled.send(ticket)
    expire_leases(engine)
    taker = WebConnector(url, USERNAME, PASSWORD, company)
    taker_ticket, _ = taker.call("authenticate", strUserName=USERNAME, strPassword=PASSWORD)
    company.fail_next("CustomerQuery", 3260, "Insufficient permission level to perform this action.")
    assert stalled.answer(ticket, request) == 100  # dropped: not recorded as a rejection
    assert invoice(engine, ids["Beta Law"]).status == "pushing"
    assert "taken over" in stalled.call("getLastError", ticket=ticket)
    assert taker.answer(taker_ticket, taker.send(taker_ticket)) == 50
    assert taker.answer(taker_ticket, taker.send(taker_ticket)) == 100
    assert invoice(engine, ids["Beta Law"]).status == "pushed" and adds(company) == 2
    for web_connector in (stalled, taker):
        web_connector.close()
    slow.close()
    fast.close()


def test_the_invoices_page_shows_the_wait_and_then_the_push(
    engine, config, company, connector, monkeypatch
) -> None:
    from tests.app_support import prepare, signed_in

    prepare(engine, monkeypatch)
    with transaction(engine) as session:  # a plain book: one client, one contract line
        client = Client(name="Acme Dental", accounting_id=ACME_LIST_ID)
        product = Product(code="WS", name="Managed workstation", unit_price_cents=4500)
        session.add_all([client, product])
        session.flush()
        session.add(Contract(client_id=client.id, product_id=product.id, quantity=12, start=date(2026, 1, 1)))
    for draft in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, draft.id)
    assert [r.status for r in invoicing.push(engine, config, INVOICER, period=PERIOD)] == ["queued"]

    def shown() -> list[str]:
        at = signed_in("invoicer", "pages/invoices.py")
        at.session_state["period"] = PERIOD
        at.run()
        assert not at.exception, at.exception
        table = at.dataframe[0].value
        return [" ".join(str(value) for value in row) for row in table.itertuples(index=False)]

    (waiting,) = shown()
    assert "pushing" in waiting and WAITING in waiting
    connector.poll()
    (done,) = shown()
    assert "pushed" in done and WAITING not in done and company.totals() == {"Acme Dental": 12 * 4500}


def test_an_invoice_under_our_reference_for_another_customer_is_not_taken_as_ours(
    engine, config, company, connector
) -> None:
    ids = queued(engine, config)
    with reading(engine) as session:
        key = session.scalars(
            select(OutboxEntry.idempotency_key).where(OutboxEntry.invoice_id == ids["Acme Dental"])
        ).one()
    reference = qbd.desktop_reference(ids["Acme Dental"], key)
    company.invoices.append(
        DesktopInvoice(
            "FF-1767225600", "80000002-1234567890", "Beta Law", reference, "2026-03-01", [], Decimal(0)
        )
    )
    connector.poll()
    acme = invoice(engine, ids["Acme Dental"])
    assert acme.status == "failed" and "is not MCC invoice" in (acme.last_error or "")
    assert adds(company) == 1  # Beta only; the look-alike was neither recorded nor duplicated
    invoicing.push(engine, config, INVOICER, invoice_ids=[acme.id])  # a new key, so a new reference
    connector.poll()
    pushed = invoice(engine, acme.id)
    assert pushed.status == "pushed" and pushed.remote_number != reference and adds(company) == 2


def test_a_customer_in_another_currency_and_lines_that_do_not_add_up_are_refused(
    engine, config, company, connector
) -> None:
    ids = queued(engine, config)
    company.currencies[ACME_LIST_ID] = "Canadian Dollar"
    connector.poll()
    acme = invoice(engine, ids["Acme Dental"])
    assert acme.status == "failed" and "billed in Canadian Dollar (CAD)" in (acme.last_error or "")
    assert adds(company) == 1
    with transaction(engine) as session:  # a line whose amount is not quantity × price
        line = session.get_one(Invoice, acme.id).lines[0]
        line.amount_cents += 1
        session.get_one(Invoice, acme.id).total_cents += 1
    result = invoicing.push(engine, config, INVOICER, invoice_ids=[acme.id])
    assert [r.status for r in result] == ["failed"] and "was not sent" in (result[0].message or "")
    assert connector.poll().authenticate[1] == "none" and adds(company) == 1


def test_sources_test_checks_the_web_connector_login_and_the_accounting_ids(
    engine, config, monkeypatch
) -> None:
    monkeypatch.delenv("MCC_QBD_USERNAME", raising=False)
    monkeypatch.delenv("MCC_QBD_PASSWORD", raising=False)
    seed(engine, acme_accounting_id=ACME_LIST_ID, beta_accounting_id=None)
    runner = CliRunner()
    missing = runner.invoke(app, ["sources", "test", "accounting"])
    assert missing.exit_code == 1 and "MCC_QBD_USERNAME, MCC_QBD_PASSWORD" in missing.output
    monkeypatch.setenv("MCC_QBD_USERNAME", USERNAME)
    monkeypatch.setenv("MCC_QBD_PASSWORD", PASSWORD)
    no_id = runner.invoke(app, ["sources", "test", "accounting"])
    assert no_id.exit_code == 1 and "Beta Law: no accounting_id" in no_id.output
    with transaction(engine) as session:
        session.execute(update(Client).where(Client.name == "Beta Law").values(accounting_id="Beta Law"))
    fine = runner.invoke(app, ["sources", "test", "accounting"])
    assert fine.exit_code == 0 and "all 2 client(s) have an accounting id" in fine.output


def test_mcc_qbwc_serve_answers_a_web_connector_run(engine, config, company, monkeypatch) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    ids = queued(engine, config)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MCC_QBD_USERNAME": USERNAME, "MCC_QBD_PASSWORD": PASSWORD}
    server = subprocess.Popen(
        [sys.executable, "-m", "mcc", "qbwc", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/qbwc"
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until it listens
            try:
                assert b"Web Connector" in httpx.get(url, timeout=2).content
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "mcc qbwc serve did not start"
                time.sleep(0.2)
        connector = WebConnector(url, USERNAME, PASSWORD, company)
        run = connector.poll()
        connector.close()
        assert run.closed == "OK: 2 invoice(s) written to QuickBooks Desktop"
        assert {invoice(engine, i).status for i in ids.values()} == {"pushed"}
    finally:
        server.terminate()
        server.wait(timeout=30)
