"""Pax8 payloads → counts without HTTP, plus the token audience and the per-run product name cache."""

from __future__ import annotations

import pytest

from collectors.pax8 import DEFAULT_AUDIENCE, to_company, to_subscription
from collectors.sync import sync_source
from mcc.errors import MalformedPayload
from sandbox.pax8 import Pax8Fake
from tests.sources.conftest import TEST_POLICY

SUBSCRIPTION = {
    "id": "b010a5d2-d604-434d-b331-d1a3ae6e759e",
    "companyId": "0c5bd95d-bd33-4bb0-8419-a821c00173dd",
    "productId": "2d3432cb-5a61-4f87-a197-7ea8e2227aeb",
    "quantity": 8,
    "startDate": "2020-11-09T08:30:00Z",
    "billingStart": "2020-11-09",
    "status": "Active",
    "price": 6,
    "partnerCost": 4.8,
    "currencyCode": "USD",
    "productName": "Google Workspace Business Starter",
    "billingTerm": "Monthly",
}


def test_active_subscription_counts_its_quantity_with_the_partner_cost_per_unit() -> None:
    count = to_subscription(SUBSCRIPTION)
    assert count is not None
    assert (count.org, count.metric, count.quantity, count.unit_cost_cents) == (
        "0c5bd95d-bd33-4bb0-8419-a821c00173dd",
        "subscriptions",
        8,
        480,
    )
    assert dict(count.attrs) == {"product": "Google Workspace Business Starter"}


@pytest.mark.parametrize("status", ["Cancelled", "PendingManual", "Trial", "PendingCancel", "Converted"])
def test_only_active_subscriptions_count(status: str) -> None:
    assert to_subscription({**SUBSCRIPTION, "status": status}) is None


def test_product_is_the_looked_up_name_then_product_name_then_id() -> None:
    assert dict(to_subscription(SUBSCRIPTION, "Catalogue name").attrs)["product"] == "Catalogue name"  # type: ignore[union-attr]
    bare = {key: value for key, value in SUBSCRIPTION.items() if key != "productName"}
    assert dict(to_subscription(bare).attrs)["product"] == SUBSCRIPTION["productId"]  # type: ignore[union-attr]


def test_missing_partner_cost_leaves_the_cost_unknown() -> None:
    bare = {key: value for key, value in SUBSCRIPTION.items() if key != "partnerCost"}
    assert to_subscription(bare).unit_cost_cents is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("cost", "cents"), [(18.7425, 1874), (0.125, 13), ("12", 1200), (0, 0)])
def test_partner_cost_is_rounded_to_the_cent_half_away_from_zero(cost: object, cents: int) -> None:
    assert to_subscription({**SUBSCRIPTION, "partnerCost": cost}).unit_cost_cents == cents  # type: ignore[union-attr]


@pytest.mark.parametrize("quantity", [2.5, -1, "many", None, True])
def test_quantity_must_be_a_whole_number(quantity: object) -> None:
    with pytest.raises(MalformedPayload, match="quantity must be a whole number"):
        to_subscription({**SUBSCRIPTION, "quantity": quantity})


def test_whole_float_quantity_is_accepted() -> None:
    assert to_subscription({**SUBSCRIPTION, "quantity": 8.0}).quantity == 8  # type: ignore[union-attr]


@pytest.mark.parametrize("missing", ["id", "companyId", "status"])
def test_malformed_subscriptions_name_the_problem(missing: str) -> None:
    with pytest.raises(MalformedPayload, match="subscription lacks id, companyId or status"):
        to_subscription({key: value for key, value in SUBSCRIPTION.items() if key != missing})


def test_bad_cost_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="partnerCost is not a number"):
        to_subscription({**SUBSCRIPTION, "partnerCost": "n/a"})


def test_company_is_the_org() -> None:
    assert to_company({"id": "c1", "name": "Acme"}).name == "Acme"
    with pytest.raises(MalformedPayload, match="company without an id"):
        to_company({"name": "Acme"})


def _world() -> Pax8Fake:
    companies = [{"id": "c1", "name": "Acme Dental"}]
    products = [{"id": "p1", "name": "Microsoft 365 Business Premium"}]
    subscriptions = [
        {
            "id": f"s{n}",
            "companyId": "c1",
            "productId": "p1",
            "quantity": 2,
            "status": "Active",
            "partnerCost": 18,
        }
        for n in range(5)
    ]
    return Pax8Fake(companies, subscriptions, products, client_id="cid", client_secret="csecret")


@pytest.fixture
def pax8(write_config, monkeypatch):
    fake = _world()
    url = fake.start()
    monkeypatch.setenv("MCC_PAX8_CLIENT_ID", "cid")
    monkeypatch.setenv("MCC_PAX8_CLIENT_SECRET", "csecret")
    yield fake, url
    fake.stop()


def test_token_request_is_json_with_the_default_audience_and_product_names_are_read_once(
    pax8, write_config, engine
) -> None:
    fake, url = pax8
    config = write_config(f'[[sources]]\nname = "pax8"\nkind = "pax8"\nbase_url = "{url}"\n')
    [result] = sync_source(engine, config, "pax8", policy=TEST_POLICY)
    assert result.ok, result.error
    [token_request] = [r for r in fake.requests if r.path == "/v1/token"]
    assert token_request.json()["audience"] == DEFAULT_AUDIENCE
    assert token_request.header("content-type") == "application/json"
    assert sum(1 for r in fake.requests if r.path == "/v1/products/p1") == 1


def test_configured_audience_is_sent(pax8, write_config, engine) -> None:
    fake, url = pax8
    config = write_config(
        f'[[sources]]\nname = "pax8"\nkind = "pax8"\nbase_url = "{url}"\naudience = "api://p8p.client"\n'
    )
    assert all(result.ok for result in sync_source(engine, config, "pax8", policy=TEST_POLICY))
    assert [r.json()["audience"] for r in fake.requests if r.path == "/v1/token"] == ["api://p8p.client"]


def test_an_outage_of_the_product_catalogue_fails_the_run_rather_than_renaming_counts(
    pax8, write_config, engine
) -> None:
    fake, url = pax8
    fake.faults.add(path="/v1/products/", status=503, times=-1)
    config = write_config(f'[[sources]]\nname = "pax8"\nkind = "pax8"\nbase_url = "{url}"\n')
    [result] = sync_source(engine, config, "pax8", policy=TEST_POLICY)
    assert not result.ok
    assert "503" in (result.error or "")
