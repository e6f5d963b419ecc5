"""The vendors' own client libraries (test-only dependencies) driven against our fakes over real sockets:
what xero-python and python-quickbooks send, the fakes must accept, and what the fakes answer, they must
read. msgraph-sdk is driven against the Graph fake in tests/test_msgraph_sdk.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date

import pytest

from sandbox.quickbooks import QuickBooksFake
from sandbox.xero import DEFAULT_TENANT, XeroFake

CONTACT = "0b5c5a9c-2f0e-4b7a-9a43-3f6f1b2c9d10"


@pytest.fixture
def xero() -> Iterator[tuple[XeroFake, object]]:
    from xero_python.accounting import AccountingApi
    from xero_python.api_client import ApiClient, Configuration
    from xero_python.api_client.oauth2 import OAuth2Token

    fake = XeroFake(contacts={CONTACT: "Acme Dental"}, item_codes=["WS"])
    fake.start()
    token = {
        "access_token": fake.issue_token(),
        "refresh_token": "unused",
        "token_type": "Bearer",
        "expires_in": 1800,
        "expires_at": time.time() + 1800,
        "scope": ["accounting.transactions"],
    }
    client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id="id", client_secret="secret")),
        oauth2_token_getter=lambda: token,
        oauth2_token_saver=lambda new: None,
    )
    yield fake, AccountingApi(client, base_url=f"{fake.url}/api.xro/2.0")
    fake.stop()


def _invoice(reference: str, code: str = "WS"):  # type: ignore[no-untyped-def]
    from xero_python.accounting import Contact, Invoice, Invoices, LineItem

    return Invoices(
        invoices=[
            Invoice(
                type="ACCREC",
                contact=Contact(contact_id=CONTACT),
                reference=reference,
                date=date(2026, 1, 31),
                due_date=date(2026, 3, 2),
                line_items=[
                    LineItem(description="Managed workstation", quantity=2, unit_amount=45, item_code=code)
                ],
            )
        ]
    )


def test_xero_python_creates_an_invoice_with_an_idempotency_key_and_finds_it_by_reference(xero) -> None:  # type: ignore[no-untyped-def]
    fake, api = xero
    created = api.create_invoices(DEFAULT_TENANT, _invoice("MCC-7"), idempotency_key="mcc-7-key")
    [invoice] = created.invoices
    assert invoice.reference == "MCC-7" and float(invoice.total) == 90.0
    assert invoice.date == date(2026, 1, 31)  # the fake's /Date(ms)/ answer, read by the SDK
    sent = [r for r in fake.requests if r.method == "PUT"][0]
    assert sent.header("idempotency-key") == "mcc-7-key"
    assert "/Date(" in sent.body.decode()  # the SDK sends x-is-msdate dates; the fake took them
    again = api.create_invoices(DEFAULT_TENANT, _invoice("MCC-7"), idempotency_key="mcc-7-key")
    assert again.invoices[0].invoice_id == invoice.invoice_id and len(fake.invoices) == 1
    found = api.get_invoices(DEFAULT_TENANT, where='Reference=="MCC-7"')
    assert [i.invoice_id for i in found.invoices] == [invoice.invoice_id]


def test_xero_python_reads_a_validation_error(xero) -> None:  # type: ignore[no-untyped-def]
    from xero_python.exceptions import AccountingBadRequestException

    _fake, api = xero
    with pytest.raises(AccountingBadRequestException) as caught:
        api.create_invoices(DEFAULT_TENANT, _invoice("MCC-8", code="NOPE"))
    body = json.loads(caught.value.body)
    assert body["Type"] == "ValidationException"
    assert [e["Message"] for e in body["Elements"][0]["ValidationErrors"]] == [
        "Item code 'NOPE' is not valid"
    ]


@pytest.fixture
def quickbooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[QuickBooksFake, object]]:
    from types import SimpleNamespace

    from quickbooks import QuickBooks

    fake = QuickBooksFake(customers={"58": "Acme Dental"}, items={"7": "WS"})
    fake.start()
    monkeypatch.setattr(QuickBooks, "api_url_v3", f"{fake.url}/v3")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake listens on plain http, locally
    # intuitlib's AuthClient reads Intuit's discovery document on creation; the SDK only uses these fields.
    auth = SimpleNamespace(
        client_id="id", access_token=fake.issue_token(), environment="production", refresh_token="unused"
    )
    client = QuickBooks(auth_client=auth, company_id=fake.realm_id, minorversion=75)
    yield fake, client
    fake.stop()
    client._drop()  # the shared instance python-quickbooks keeps


def test_python_quickbooks_queries_with_a_posted_application_text_query(quickbooks) -> None:  # type: ignore[no-untyped-def]
    from quickbooks.objects.customer import Customer

    fake, client = quickbooks
    [customer] = Customer.filter(Id="58", qb=client)
    assert customer.DisplayName == "Acme Dental"
    [posted] = [r for r in fake.requests if r.path.endswith("/query")]
    assert posted.method == "POST" and posted.header("content-type").startswith("application/text")


def test_python_quickbooks_saves_an_invoice_with_a_request_id_once(quickbooks) -> None:  # type: ignore[no-untyped-def]
    from quickbooks.objects.base import Ref
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
    from quickbooks.objects.invoice import Invoice

    fake, client = quickbooks
    invoice = Invoice()
    invoice.CustomerRef = Ref()
    invoice.CustomerRef.value = "58"
    line = SalesItemLine()
    line.Amount = 90
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = Ref()
    line.SalesItemLineDetail.ItemRef.value = "7"
    line.SalesItemLineDetail.Qty = 2
    line.SalesItemLineDetail.UnitPrice = 45
    invoice.Line = [line]
    invoice.DocNumber = "MCC-9"
    saved = invoice.save(qb=client, request_id="mcc-9-request")
    assert saved.Id
    again = Invoice()
    again.CustomerRef, again.Line, again.DocNumber = invoice.CustomerRef, invoice.Line, "MCC-9"
    assert again.save(qb=client, request_id="mcc-9-request").Id == saved.Id
    assert len(fake.invoices) == 1
    assert all("requestid=mcc-9-request" in "&".join(f"{k}={v[0]}" for k, v in r.query.items())
               for r in fake.requests if r.method == "POST" and r.path.endswith("/invoice"))  # fmt: skip
