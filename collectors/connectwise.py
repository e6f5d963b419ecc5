"""ConnectWise PSA (Manage) REST API 3.0: each company's agreement additions, read as contract lines.

Read-only: companies, agreements and their additions. MCC never writes to the PSA; `mcc contracts sync`
turns these lines into a preview of contract changes that a person applies.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Iterator
from datetime import timedelta
from typing import Any

import httpx

from collectors import parse
from collectors.base import Source, Stream
from collectors.http import Api, HeaderAuth, remember_secret
from collectors.paging import PageNumber
from collectors.records import AgreementLine, Org, Record
from collectors.registry import register
from mcc.errors import MalformedPayload

PAGE_SIZE = 1000  # the documented maximum of `pageSize`
API_VERSION = "2022.1"  # any supported version; the Accept header pins it so field names stay put
# Agreements that bill nothing: the PSA marks them with billing cycle "None" (e.g. internal or
# prepaid-elsewhere agreements); their additions are not contracted quantities.
UNBILLED_CYCLES = {"none", ""}
BILLED = "Billable"  # billCustomer: Billable | DoNotBill | NoCharge


def _paging() -> PageNumber:
    return PageNumber(None, size=PAGE_SIZE, page_param="page", size_param="pageSize", first_page=1)


def to_org(raw: Any) -> Org | None:
    """A company → an organisation; companies in the recycle bin (`deletedFlag`) are not clients."""
    if not isinstance(raw, dict) or raw.get("id") in (None, ""):
        raise MalformedPayload(f"connectwise: company without an id: {str(raw)[:120]}")
    if raw.get("deletedFlag"):
        return None
    return Org(str(raw["id"]), str(raw.get("name") or raw.get("identifier") or raw["id"]))


def agreement_skip_reason(raw: dict[str, Any], deleted_companies: set[str]) -> str | None:
    """Why an agreement's additions are not contracted quantities, or None when they are."""
    company = raw.get("company") or {}
    if str(company.get("id")) in deleted_companies:
        return "its company is in the recycle bin"
    status = str(raw.get("agreementStatus") or ("Cancelled" if raw.get("cancelledFlag") else "Active"))
    if status != "Active":
        return f"agreement status is {status}"
    cycle = raw.get("billingCycle") or {}
    if str(cycle.get("name") or "").strip().lower() in UNBILLED_CYCLES and "billingCycle" in raw:
        return 'billing cycle is "None"'
    return None


def to_lines(agreement: dict[str, Any], additions: list[Any]) -> Iterator[AgreementLine]:
    """An active agreement's billable additions → one contract line each.

    Quantity is the addition's `quantity` (what the client is covered for); `lessIncluded` units are
    inside the agreement's base price and do not change the covered quantity. A cancelled addition ends
    the day before its `cancelledDate`; the agreement's own end date caps every line.
    """
    company = agreement.get("company") or {}
    if company.get("id") in (None, "") or agreement.get("id") in (None, ""):
        raise MalformedPayload(f"connectwise: agreement without id or company: {str(agreement)[:160]}")
    agreement_end = parse.day("connectwise", agreement.get("endDate"), f"agreement {agreement['id']} endDate")
    if agreement.get("noEndingDateFlag"):
        agreement_end = None
    for raw in additions:
        if not isinstance(raw, dict) or raw.get("id") in (None, ""):
            raise MalformedPayload(f"connectwise: addition without an id: {str(raw)[:120]}")
        where = f"agreement {agreement['id']} addition {raw['id']}"
        product = raw.get("product") or {}
        identifier = str(product.get("identifier") or "").strip()
        if not identifier:
            raise MalformedPayload(f"connectwise: {where} has no product identifier")
        quantity = parse.decimal("connectwise", raw.get("quantity"), f"{where} quantity")
        unit_price = parse.decimal("connectwise", raw.get("unitPrice"), f"{where} unitPrice")
        cancelled = parse.day("connectwise", raw.get("cancelledDate"), f"{where} cancelledDate")
        end = cancelled - timedelta(days=1) if cancelled else None
        if agreement_end is not None and (end is None or agreement_end < end):
            end = agreement_end
        start = parse.day("connectwise", raw.get("effectiveDate"), f"{where} effectiveDate") or parse.day(
            "connectwise", agreement.get("startDate"), f"agreement {agreement['id']} startDate"
        )
        yield AgreementLine(
            external_id=f"{agreement['id']}/{raw['id']}",
            org=str(company["id"]),
            product=identifier,
            quantity=quantity,
            unit_price=unit_price,
            unit_cost=parse.decimal("connectwise", raw["unitCost"], f"{where} unitCost")
            if raw.get("unitCost") is not None
            else None,
            start=start,
            end=end,
            billed=str(raw.get("billCustomer") or BILLED) == BILLED,
            description=str(raw.get("description") or product.get("description") or identifier),
            agreement=str(agreement.get("name") or agreement["id"]),
        )


class ConnectWiseAuth(HeaderAuth):
    """Basic `company+publicKey:privateKey` plus the integration's `clientId` header."""

    def __init__(self, company: str, public_key: str, private_key: str, client_id: str) -> None:
        remember_secret(private_key)
        token = base64.b64encode(f"{company}+{public_key}:{private_key}".encode()).decode()
        remember_secret(token)
        super().__init__("Authorization", f"Basic {token}")
        self.client_id = client_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["clientId"] = self.client_id
        yield from super().auth_flow(request)


@register
class ConnectWise(Source):
    kind = "connectwise"
    category = "psa"
    title = "ConnectWise PSA"
    default_base_url = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
    secret_keys = ("COMPANY", "PUBLIC_KEY", "PRIVATE_KEY", "CLIENT_ID")
    streams = {"contracts": Stream("daily at 03:00", contracts=True)}
    # Unverified: ConnectWise publishes no fixed limit for cloud tenants; it throttles with 429.
    requests_per_minute = 300

    def auth(self) -> httpx.Auth:
        return ConnectWiseAuth(
            self.secret("COMPANY"),
            self.secret("PUBLIC_KEY"),
            self.secret("PRIVATE_KEY"),
            self.secret("CLIENT_ID"),
        )

    def open_api(self, base_url: str | None = None, auth: httpx.Auth | None = None) -> Api:
        api = super().open_api(base_url, auth)
        api.client.headers["Accept"] = f"application/vnd.connectwise.com+json; version={API_VERSION}"
        return api

    def _companies(self, api: Api) -> tuple[list[Org], set[str]]:
        orgs: list[Org] = []
        deleted: set[str] = set()
        for raw in api.pages("/company/companies", _paging(), {"fields": "id,identifier,name,deletedFlag"}):
            org = to_org(raw)
            if org is None:
                deleted.add(str(raw["id"]))
            else:
                orgs.append(org)
        return orgs, deleted

    def orgs(self, api: Api) -> Iterator[Org]:
        yield from self._companies(api)[0]

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        orgs, deleted = self._companies(api)
        yield from orgs
        for agreement in api.pages("/finance/agreements", _paging()):
            if not isinstance(agreement, dict):
                raise MalformedPayload(f"connectwise: agreement is not an object: {str(agreement)[:120]}")
            if agreement_skip_reason(agreement, deleted) is not None:
                continue
            additions = list(api.pages(f"/finance/agreements/{agreement['id']}/additions", _paging()))
            yield from to_lines(agreement, additions)
