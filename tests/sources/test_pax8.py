"""Pax8 payloads → counts without HTTP, plus the token audience and the per-run product name cache."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from collectors.pax8 import COUNTED, DEFAULT_AUDIENCE, STATUSES, to_company, to_subscription
from collectors.sync import sync_source
from mcc.errors import MalformedPayload
from sandbox.pax8 import Pax8Fake
from tests.sources.conftest import TEST_POLICY

P1 = "3e55c1d0-7d1a-4b7e-9c2f-0c3a5d6e7f80"
P2 = "4a1b2c3d-1111-4222-8333-444455556666"
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


@pytest.mark.parametrize(
    "status",
    [
        "Cancelled",
        "PendingManual",
        "PendingAutomated",
        "WaitingForDetails",
        "Trial",
        "Converted",
        "PendingActivation",
    ],
)
def test_statuses_the_client_is_not_billed_for_do_not_count(status: str) -> None:
    assert to_subscription({**SUBSCRIPTION, "status": status}) is None


@pytest.mark.parametrize("status", ["Active", "Activated"])
def test_active_and_activated_subscriptions_count(status: str) -> None:
    assert to_subscription({**SUBSCRIPTION, "status": status}).quantity == 8  # type: ignore[union-attr]


def test_every_status_of_the_spec_enum_has_a_rule() -> None:
    spec = ["Active", "Cancelled", "PendingManual", "PendingAutomated", "PendingCancel", "WaitingForDetails",
            "Trial", "Converted", "PendingActivation", "Activated"]  # fmt: skip
    assert sorted(STATUSES) == sorted(spec)
    assert set(COUNTED) == {"Active", "Activated", "PendingCancel"}


def test_a_pending_cancellation_counts_until_its_end_date() -> None:
    pending = {**SUBSCRIPTION, "status": "PendingCancel", "endDate": "2026-03-31T00:00:00Z"}
    counted = to_subscription(pending, today=date(2026, 3, 31))
    assert counted is not None and counted.quantity == 8 and counted.unit_cost_cents == 480
    assert to_subscription(pending, today=date(2026, 4, 1)) is None
    no_end = {**SUBSCRIPTION, "status": "PendingCancel"}
    assert to_subscription(no_end, today=date(2030, 1, 1)) is not None


def test_a_status_outside_the_enum_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="not in the spec's enum"):
        to_subscription({**SUBSCRIPTION, "status": "Suspended"})


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


@pytest.mark.parametrize("quantity", [-1, "many", None, True, float("nan")])
def test_quantity_must_be_a_number_of_at_least_zero(quantity: object) -> None:
    with pytest.raises(MalformedPayload, match="quantity must be a number ≥ 0"):
        to_subscription({**SUBSCRIPTION, "quantity": quantity})


def test_fractional_quantity_is_kept_exact() -> None:
    count = to_subscription({**SUBSCRIPTION, "quantity": 2.5})
    assert count is not None and count.quantity == Decimal("2.5")


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
    products = [{"id": P1, "name": "Microsoft 365 Business Premium"}]
    subscriptions = [
        {
            "id": f"s{n}",
            "companyId": "c1",
            "productId": P1,
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
    assert sum(1 for r in fake.requests if r.path == f"/v1/products/{P1}") == 1


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


def _sync(fake: Pax8Fake, write_config, engine):  # type: ignore[no-untyped-def]
    url = fake.start()
    try:
        config = write_config(f'[[sources]]\nname = "pax8"\nkind = "pax8"\nbase_url = "{url}"\n')
        [result] = sync_source(engine, config, "pax8", policy=TEST_POLICY)
    finally:
        fake.stop()
    return result


def _stored(engine):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from store.db import transaction
    from store.models import CountKey, DailyCount

    with transaction(engine) as session:
        rows = session.execute(
            select(CountKey.attrs_json, DailyCount.qty_end, DailyCount.cost_cents).join(
                DailyCount, DailyCount.key_id == CountKey.id
            )
        ).all()
    return sorted((str(attrs), qty, cost) for attrs, qty, cost in rows)


def test_fractional_quantities_are_summed_exactly_then_billed_as_whole_units(
    write_config, engine, monkeypatch
) -> None:
    monkeypatch.setenv("MCC_PAX8_CLIENT_ID", "cid")
    monkeypatch.setenv("MCC_PAX8_CLIENT_SECRET", "csecret")
    companies = [{"id": "c1", "name": "Acme Dental"}]
    products = [{"id": P1, "name": "Azure storage (GB)"}]
    subscriptions = [
        {"id": "s1", "companyId": "c1", "productId": P1, "quantity": 1.25, "status": "Active", "partnerCost": 0.3},
        {"id": "s2", "companyId": "c1", "productId": P1, "quantity": 1.25, "status": "Active", "partnerCost": 0.3},
    ]  # fmt: skip
    result = _sync(Pax8Fake(companies, subscriptions, products, "cid", "csecret"), write_config, engine)
    assert result.ok, result.error
    # 2.5 units (not 1.25 → 2 twice = 4) billed as 3; cost 2.5 × 30 cents = 75 cents exactly.
    [(_attrs, quantity, cost)] = _stored(engine)
    assert (quantity, cost) == (3, 75)


def test_one_bad_subscription_is_skipped_with_a_located_notice_and_the_rest_count(
    write_config, engine, monkeypatch
) -> None:
    from store.db import transaction
    from store.models import SyncRun

    monkeypatch.setenv("MCC_PAX8_CLIENT_ID", "cid")
    monkeypatch.setenv("MCC_PAX8_CLIENT_SECRET", "csecret")
    companies = [{"id": "c1", "name": "Acme Dental"}]
    products = [{"id": P1, "name": "Microsoft 365 Business Premium"}]
    good = {"companyId": "c1", "productId": P1, "status": "Active", "partnerCost": 18}
    subscriptions = [
        {**good, "id": "s1", "quantity": 4},
        {**good, "id": "s-bad", "quantity": "many"},
        {**good, "id": "s3", "quantity": 2, "status": "PendingCancel", "endDate": "2999-01-31T00:00:00Z"},
        {**good, "id": "s4", "quantity": 9, "status": "Trial"},
    ]
    result = _sync(Pax8Fake(companies, subscriptions, products, "cid", "csecret"), write_config, engine)
    assert result.ok, result.error
    [(_attrs, quantity, _cost)] = _stored(engine)
    assert quantity == 6  # Active 4 + PendingCancel 2; the trial and the bad record are not counted
    [notice] = result.notices
    assert "s-bad" in notice and "status=Active listing, item 2" in notice and "skipped" in notice
    with transaction(engine) as session:
        assert session.get_one(SyncRun, result.run_id).notices == [notice]


def test_products_no_mapping_counts_are_reported_on_the_run(write_config, engine, monkeypatch) -> None:
    from store.db import transaction
    from store.models import Mapping, Product, SyncRun

    monkeypatch.setenv("MCC_PAX8_CLIENT_ID", "cid")
    monkeypatch.setenv("MCC_PAX8_CLIENT_SECRET", "csecret")
    companies = [{"id": "c1", "name": "Acme Dental"}]
    products = [{"id": P1, "name": "Business Premium"}, {"id": P2, "name": "Defender for Business"}]
    subscriptions = [
        {"id": "s1", "companyId": "c1", "productId": P1, "quantity": 4, "status": "Active"},
        {"id": "s2", "companyId": "c1", "productId": P2, "quantity": 3, "status": "Active"},
    ]
    with transaction(engine) as session:
        product = Product(code="BP", name="Business Premium", unit_price_cents=2200)
        session.add(product)
        session.flush()
        session.add(
            Mapping(
                product_id=product.id,
                source="pax8",
                metric="subscriptions",
                where={"product": ["Business Premium"]},
            )
        )
    result = _sync(Pax8Fake(companies, subscriptions, products, "cid", "csecret"), write_config, engine)
    assert result.ok, result.error
    expected = [
        {"metric": "subscriptions", "attr": "product", "value": "Defender for Business", "quantity": 3}
    ]
    assert list(result.uncovered) == expected
    with transaction(engine) as session:
        assert session.get_one(SyncRun, result.run_id).uncovered == expected
