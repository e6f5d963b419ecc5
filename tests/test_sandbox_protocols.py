"""The fakes accept what the vendors' own clients send and answer what the specifications say, over real
sockets: Xero dates, QBO `POST /query`, Graph's short cast, Sage numbers, Pax8 companies and ids, Datto
`lastSeen`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from sandbox.m365 import GraphFake
from sandbox.pax8 import Pax8Fake
from sandbox.quickbooks import QuickBooksFake
from sandbox.sage import DEFAULT_LEDGER_ACCOUNT, SageFake
from sandbox.server import Fake
from sandbox.xero import DEFAULT_TENANT, XeroFake
from tests.sources.harness import VENDORS


@pytest.fixture
def running() -> Iterator[list[Fake]]:
    started: list[Fake] = []
    yield started
    for fake in started:
        fake.stop()


def _start(fake: Fake, running: list[Fake]) -> tuple[Fake, httpx.Client]:
    fake.start()
    running.append(fake)
    token = fake.issue_token()
    return fake, httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def _xero_invoice(**dates: str) -> dict[str, object]:
    return {
        "Invoices": [
            {
                "Type": "ACCREC",
                "Contact": {"ContactID": "0b5c5a9c-2f0e-4b7a-9a43-3f6f1b2c9d10"},
                "Reference": "MCC-1",
                "LineItems": [{"Description": "Managed workstation", "Quantity": 2, "UnitAmount": 45}],
                **dates,
            }
        ]
    }


@pytest.mark.parametrize(
    ("date", "due"),
    [
        ("/Date(1769817600000+0000)/", "/Date(1772409600000+0000)/"),  # x-is-msdate, as xero-python sends
        ("/Date(1769817600000)/", "/Date(1772409600000)/"),
        ("2026-01-31", "2026-03-02"),
        ("2026-01-31T00:00:00", "2026-03-02T00:00:00"),
    ],
)
def test_xero_takes_ms_dates_and_iso_dates(running: list[Fake], date: str, due: str) -> None:
    fake, client = _start(XeroFake(contacts={"0b5c5a9c-2f0e-4b7a-9a43-3f6f1b2c9d10": "Acme"}), running)
    answer = client.put(
        "/api.xro/2.0/Invoices",
        json=_xero_invoice(Date=date, DueDate=due),
        headers={"xero-tenant-id": DEFAULT_TENANT},
    )
    assert answer.status_code == 200, answer.text
    [invoice] = answer.json()["Invoices"]
    assert (invoice["DateString"], invoice["DueDateString"]) == ("2026-01-31 00:00:00", "2026-03-02 00:00:00")
    assert invoice["Date"] == "/Date(1769817600000+0000)/"


def test_xero_refuses_a_date_it_cannot_read_and_stores_lines_without_validation_errors(
    running: list[Fake],
) -> None:
    fake, client = _start(XeroFake(contacts={"0b5c5a9c-2f0e-4b7a-9a43-3f6f1b2c9d10": "Acme"}), running)
    headers = {"xero-tenant-id": DEFAULT_TENANT}
    bad = client.put("/api.xro/2.0/Invoices", json=_xero_invoice(Date="31/01/2026"), headers=headers)
    assert bad.status_code == 400 and "Date is not a valid date" in bad.text
    good = client.put(
        "/api.xro/2.0/Invoices", json=_xero_invoice(Date="2026-01-31", DueDate="2026-02-28"), headers=headers
    )
    [line] = good.json()["Invoices"][0]["LineItems"]
    assert "ValidationErrors" not in line  # the spec's LineItem has no such field
    assert "ValidationErrors" not in fake.invoices[0]["LineItems"][0]


def test_quickbooks_answers_a_query_posted_as_application_text_like_a_get(running: list[Fake]) -> None:
    fake, client = _start(QuickBooksFake(customers={"58": "Acme Dental"}), running)
    path = f"/v3/company/{fake.realm_id}/query"
    query = "SELECT * FROM Customer WHERE Id = '58'"
    got = client.get(path, params={"query": query, "minorversion": "75"})
    posted = client.post(
        path, content=query, headers={"Content-Type": "application/text"}, params={"minorversion": "75"}
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["QueryResponse"] == got.json()["QueryResponse"]
    assert posted.json()["QueryResponse"]["Customer"][0]["Id"] == "58"
    wrong = client.post(path, content=query, headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415


def test_graph_counts_group_members_by_the_short_cast_msgraph_sdk_sends(running: list[Fake]) -> None:
    tenant = {
        "id": "5c7e0000-0000-4000-8000-000000000001",
        "displayName": "Acme",
        "users": [{"id": f"u{n}", "displayName": f"U{n}", "accountEnabled": True} for n in range(3)],
        "groups": [{"id": "g1", "displayName": "Managed Users", "members": ["u0", "u1"]}],
    }
    fake, client = _start(GraphFake([tenant]), running)
    token = client.headers["Authorization"].split()[1]
    fake.token_tenants[token] = tenant["id"]  # type: ignore[attr-defined]
    headers = {"ConsistencyLevel": "eventual"}
    short = client.get("/v1.0/groups/g1/transitiveMembers/graph.user/$count", headers=headers)
    full = client.get("/v1.0/groups/g1/transitiveMembers/microsoft.graph.user/$count", headers=headers)
    assert (short.status_code, short.text) == (200, "2")
    assert short.text == full.text


def test_sage_answers_amounts_and_quantities_as_json_numbers_and_pages_with_items_per_page(
    running: list[Fake],
) -> None:
    fake, client = _start(SageFake(contacts={"c0ffee": "Acme"}), running)
    line = {
        "description": "WS",
        "quantity": 2,
        "unit_price": 45.5,
        "ledger_account_id": DEFAULT_LEDGER_ACCOUNT,
    }
    created = client.post(
        "/v3.1/sales_invoices",
        json={
            "sales_invoice": {
                "contact_id": "c0ffee",
                "date": "2026-01-31",
                "reference": "MCC-1",
                "invoice_lines": [line],
            }
        },
    )
    assert created.status_code == 201, created.text
    body = json.loads(created.text, parse_float=Decimal)
    assert body["total_amount"] == Decimal("91.0") and isinstance(
        body["invoice_lines"][0]["quantity"], Decimal | int
    )
    listing = client.get("/v3.1/sales_invoices", params={"items_per_page": "5"}).json()
    assert listing["$items_per_page"] == 5 and "$itemsPerPage" not in listing


def test_pax8_companies_carry_the_fields_the_spec_requires_and_product_ids_are_uuids(
    running: list[Fake],
) -> None:
    fake, client = _start(VENDORS["pax8"].make_fake(), running)
    assert isinstance(fake, Pax8Fake)
    required = (
        "name",
        "address",
        "phone",
        "website",
        "billOnBehalfOfEnabled",
        "selfServiceAllowed",
        "orderApprovalRequired",
    )
    companies = client.get("/v1/companies", params={"size": 200}).json()["content"]
    assert companies and all(all(field in company for field in required) for company in companies)
    products = client.get("/v1/products", params={"size": 200}).json()["content"]
    assert all(client.get(f"/v1/products/{product['id']}").status_code == 200 for product in products)
    assert client.get("/v1/products/retired-product").status_code == 400


def test_datto_rmm_sends_last_seen_as_an_iso_date_time(running: list[Fake]) -> None:
    fake, client = _start(VENDORS["datto_rmm"].make_fake(), running)
    devices = client.get("/api/v2/account/devices", params={"max": 250}).json()["devices"]
    assert devices and all(
        isinstance(device["lastSeen"], str) and "T" in device["lastSeen"] for device in devices
    )
