"""Datto SaaS Protection (Datto partner REST API v1): protected seats per SaaS customer, by seat type and
whether Datto bills them. The org is the SaaS customer (`saasCustomerId`), one per protected domain."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from collectors.base import Source, Stream
from collectors.http import Api, HttpPolicy, basic_auth
from collectors.paging import Single
from collectors.probes import Probe
from collectors.records import Entity, Org, Record
from collectors.registry import register
from mcc.errors import MalformedPayload

if TYPE_CHECKING:
    from mcc.config import SourceConfig

# Datto's seat listing takes 38–60 s on a large customer before its edge answers 504 (measured by a
# live client); the default 30 s would cut off answers that are on their way.
SLOW_TIMEOUT = 120.0


def to_customer(raw: Any) -> Org:
    """A protected domain row → its SaaS customer (`saasCustomerId` is an integer on the wire)."""
    if not isinstance(raw, dict) or raw.get("saasCustomerId") in (None, ""):
        raise MalformedPayload(f"datto_saas: domain row without a saasCustomerId: {str(raw)[:160]}")
    name = raw.get("saasCustomerName") or raw.get("domain") or raw["saasCustomerId"]
    return Org(str(raw["saasCustomerId"]), str(name))


def billable(value: Any) -> bool:
    """Datto sends `billable` as a string: "1" when billable, "" (live) or "0" (documented) when not."""
    if value in ("1", 1, True):
        return True
    if value in ("", "0", 0, False, None):
        return False
    raise MalformedPayload(f'datto_saas: seat billable flag must be "1", "0" or "", got {value!r}')


def to_seat(customer_id: str, raw: Any) -> Entity:
    """A seat row of one customer → one `seats` entity keyed by seat type and billable flag."""
    if not isinstance(raw, dict) or raw.get("mainId") in (None, "") or raw.get("seatType") in (None, ""):
        raise MalformedPayload(
            f"datto_saas: seat row of customer {customer_id} lacks mainId or seatType: {str(raw)[:160]}"
        )
    # The same mailbox can be protected under two customers; the customer keeps the key unique.
    identity = raw.get("remoteId") or raw["mainId"]
    return Entity.of(
        customer_id,
        "seats",
        f"{customer_id}/{identity}",
        str(raw.get("name") or raw["mainId"]),
        attrs={"seat_type": raw["seatType"], "billable": billable(raw.get("billable"))},
        details={
            "main_id": raw["mainId"],
            "seat_state": raw.get("seatState") or "",
            "date_added": raw.get("dateAdded") or "",
        },
    )


@register
class DattoSaas(Source):
    kind = "datto_saas"
    probes = (
        Probe("domains", "/v1/saas/domains", "", ("saasCustomerId", "saasCustomerName", "domain")),
        Probe("seats", "/v1/saas/{org}/seats", "", ("mainId", "remoteId", "name", "seatType", "billable",
              "seatState", "dateAdded"), values=("seatType", "billable", "seatState")),
    )  # fmt: skip
    category = "backup"
    title = "Datto SaaS Protection"
    default_base_url = "https://api.datto.com"
    secret_keys = ("API_KEY", "API_SECRET")
    streams = {"seats": Stream("every 6 hours", metrics=("seats",))}
    # Unverified: Datto answers 429 (with Retry-After) but publishes no number for the partner API.
    requests_per_minute = 120

    def __init__(
        self, config: SourceConfig, secrets: dict[str, SecretStr], policy: HttpPolicy = HttpPolicy()
    ):
        if policy == HttpPolicy():  # an explicitly chosen policy (tests, the CLI) is kept as given
            # and the whole answer gets a minute more than one slow read
            policy = dataclasses.replace(policy, timeout=SLOW_TIMEOUT, request_deadline=SLOW_TIMEOUT + 60)
        super().__init__(config, secrets, policy)

    def auth(self) -> httpx.Auth:
        return basic_auth(self.secret("API_KEY"), self.secret("API_SECRET"))

    def orgs(self, api: Api) -> Iterator[Org]:
        seen: set[str] = set()
        for raw in api.pages("/v1/saas/domains", Single()):
            customer = to_customer(raw)
            if customer.external_id not in seen:
                seen.add(customer.external_id)
                yield customer

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        customers = list(self.orgs(api))
        yield from customers
        for customer in customers:
            # Without `seatType` Datto lists every seat type of the customer.
            for raw in api.pages(f"/v1/saas/{customer.external_id}/seats", Single()):
                yield to_seat(customer.external_id, raw)
