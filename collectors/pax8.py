"""Pax8 (Partner API v1): billed subscriptions per company, by product, with quantity and partner cost."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from collectors.base import Source, Stream
from collectors.http import Api, client_credentials
from collectors.paging import PageNumber
from collectors.records import Count, Notice, Org, Record
from collectors.registry import register
from mcc.errors import AuthFailed, MalformedPayload, SourceError
from mcc.money import round_cents

log = logging.getLogger(__name__)

DEFAULT_AUDIENCE = "https://api.pax8.com"
PAGE_SIZE = 200  # the documented maximum of `size`


def to_company(raw: Any) -> Org:
    if not isinstance(raw, dict) or raw.get("id") in (None, ""):
        raise MalformedPayload(f"pax8: company without an id: {str(raw)[:120]}")
    return Org(str(raw["id"]), str(raw.get("name") or raw["id"]))


@dataclass(frozen=True)
class StatusRule:
    """What a subscription in one Pax8 status means for billing: is the client billed for it, and does
    the MSP pay Pax8 for it. A status counts (as units and cost) when the client is billed."""

    client_billed: bool
    msp_pays: bool
    why: str


# Every status of the spec's `Subscription.status` enum (docs/sources/pax8.md explains each).
STATUSES: dict[str, StatusRule] = {
    "Active": StatusRule(True, True, "provisioned; Pax8 bills the MSP"),
    "Activated": StatusRule(True, True, "activation complete; billing has begun"),
    "PendingCancel": StatusRule(True, True, "cancellation pending; billed and paid until its endDate"),
    "Cancelled": StatusRule(False, False, "deprovisioned"),
    "Trial": StatusRule(False, False, "a free or discounted trial; bill the client once it converts"),
    "Converted": StatusRule(False, False, "a trial replaced by the subscription it converted to"),
    "PendingActivation": StatusRule(False, False, "billing starts only after activation"),
    "PendingManual": StatusRule(False, False, "provisioning not complete"),
    "PendingAutomated": StatusRule(False, False, "provisioning not complete"),
    "WaitingForDetails": StatusRule(False, False, "provisioning details missing"),
}
COUNTED = tuple(status for status, rule in STATUSES.items() if rule.client_billed)


def _quantity(raw: dict[str, Any]) -> Decimal:
    """The subscription's `quantity` exactly (the spec types it `number`: 2.5 units are 2.5)."""
    value = raw.get("quantity")
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        quantity = Decimal("NaN")
    if isinstance(value, bool) or value is None or not quantity.is_finite() or quantity < 0:
        raise MalformedPayload(
            f"pax8: subscription {raw.get('id')} quantity must be a number ≥ 0, got {value!r}"
        )
    return quantity


def _cents(raw: dict[str, Any], field: str) -> int | None:
    value = raw.get(field)
    if value is None:  # Pax8 omits fields it has no value for
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if isinstance(value, bool) or not amount.is_finite():
        raise MalformedPayload(f"pax8: subscription {raw.get('id')} {field} is not a number: {value!r}")
    # Pax8 prices can carry more than two decimals; round to the cent once, half away from zero.
    return round_cents(amount * 100)


def _ended(raw: dict[str, Any], today: date) -> bool:
    """True when a pending cancellation's `endDate` has passed (no end date: still running)."""
    end = raw.get("endDate")
    if not end:
        return False
    try:
        return datetime.fromisoformat(str(end).replace("Z", "+00:00")).date() < today
    except ValueError:
        raise MalformedPayload(f"pax8: subscription {raw.get('id')} endDate is not a date: {end!r}") from None


def product_of(raw: Any) -> str | None:
    """The product's name from a subscription, when Pax8 included it (`productName`)."""
    return str(raw["productName"]) if isinstance(raw, dict) and raw.get("productName") else None


def to_subscription(raw: Any, product: str | None = None, today: date | None = None) -> Count | None:
    """A subscription the client is billed for (see STATUSES) → a `subscriptions` count for its company,
    keyed by product name (`product`, else `productName`, else the product id), with the exact quantity
    and the partner cost per unit; other statuses, and pending cancellations past their end, → None."""
    if not isinstance(raw, dict) or any(raw.get(key) in (None, "") for key in ("id", "companyId", "status")):
        raise MalformedPayload(f"pax8: subscription lacks id, companyId or status: {str(raw)[:160]}")
    rule = STATUSES.get(raw["status"])
    if rule is None:
        raise MalformedPayload(
            f"pax8: subscription {raw['id']} has status {raw['status']!r}, which is not in the spec's enum"
        )
    if not rule.client_billed:
        return None
    if raw["status"] == "PendingCancel" and _ended(raw, today or datetime.now(UTC).date()):
        return None
    name = product or product_of(raw) or raw.get("productId")
    if not name:
        raise MalformedPayload(f"pax8: subscription {raw['id']} names no product (productName or productId)")
    # Unverified: `partnerCost` is read as the partner's price per unit (the spec says "price for the
    # Partner"); a total for the whole quantity would need dividing by `quantity`.
    return Count.of(
        raw["companyId"],
        "subscriptions",
        _quantity(raw),
        attrs={"product": name},
        unit_cost_cents=_cents(raw, "partnerCost"),
    )


@register
class Pax8(Source):
    kind = "pax8"
    category = "distributor"
    title = "Pax8"
    default_base_url = "https://api.pax8.com"
    secret_keys = ("CLIENT_ID", "CLIENT_SECRET")
    streams = {"subscriptions": Stream("nightly", metrics=("subscriptions",))}
    coverage = {"subscriptions": "product"}
    # Unverified: Pax8 documents 429 but not the number; stay modest.
    requests_per_minute = 300

    def auth(self) -> httpx.Auth:
        return client_credentials(
            f"{self.config.token_url_base}/v1/token",
            {
                "client_id": self.secret("CLIENT_ID"),
                "client_secret": self.secret("CLIENT_SECRET"),
                "audience": self.config.audience or DEFAULT_AUDIENCE,
            },
            label="Pax8 token endpoint",
            as_json=True,
        )

    def orgs(self, api: Api) -> Iterator[Org]:
        for raw in api.pages("/v1/companies", PageNumber("content", size=PAGE_SIZE)):
            yield to_company(raw)

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        yield from self.orgs(api)
        names: dict[str, str] = {}  # product id → name, for this run
        paging = PageNumber("content", size=PAGE_SIZE)
        for status in COUNTED:
            for position, raw in enumerate(api.pages("/v1/subscriptions", paging, {"status": status})):
                product = product_of(raw)
                if product is None and isinstance(raw, dict) and raw.get("productId"):
                    product = self._product_name(api, str(raw["productId"]), names)
                try:
                    count = to_subscription(raw, product)
                except MalformedPayload as error:
                    # One bad subscription must not stop the nightly count of every other one.
                    where = f"status={status} listing, item {position + 1}"
                    log.warning("%s (%s); skipped", error, where)
                    yield Notice(f"{error} ({where}); skipped")
                    continue
                if count is not None:
                    yield count

    def _product_name(self, api: Api, product_id: str, names: dict[str, str]) -> str:
        if product_id not in names:
            try:
                # Unverified: GET /v1/products/{id} is in Pax8's docs but not in the stored spec excerpt.
                body = api.get(f"/v1/products/{product_id}")
                names[product_id] = (
                    str(body.get("name") or product_id) if isinstance(body, dict) else product_id
                )
            except SourceError as error:
                if "HTTP 404" not in str(error) or isinstance(error, AuthFailed):
                    raise  # an outage must fail the run, not rename the product's counts
                # A product retired from the catalogue must not stop the nightly count; its id names it.
                log.warning("pax8: product %s is not in the catalogue, counting it by id", product_id)
                names[product_id] = product_id
        return names[product_id]
