"""HaloPSA API: recurring invoices' lines, read as contract lines.

Read-only. OAuth client credentials at `/auth/token` (hosted tenants add `?tenant=`), then
`GET /api/Client` and `GET /api/RecurringInvoice?includelines=true`, both paged with
`pageinate=true&page_no=&page_size=`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx

from collectors import parse
from collectors.base import Source, Stream
from collectors.http import Api, client_credentials
from collectors.paging import PageNumber
from collectors.records import AgreementLine, Org, Record
from collectors.registry import register
from mcc.errors import MalformedPayload

PAGE_SIZE = 100  # Unverified: Halo documents no maximum; 100 keeps each answer small


def _paging(items_key: str) -> PageNumber:
    """Page: `{"record_count": 412, "invoices": [...]}`; pages numbered from 1 until `record_count` is read."""
    return _HaloPages(items_key)


class _HaloPages(PageNumber):
    def __init__(self, items_key: str) -> None:
        super().__init__(
            items_key, size=PAGE_SIZE, page_param="page_no", size_param="page_size", first_page=1
        )

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**super().first(params), "pageinate": "true"}

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        total = payload.get("record_count") if isinstance(payload, dict) else None
        page = int(params[self.page_param])
        if not items or (isinstance(total, int) and page * self.size >= total) or len(items) < self.size:
            return None
        return url, {**params, self.page_param: page + 1}


# Unverified: Halo sends dates as ISO date-times; "1900-01-01T00:00:00" stands for "not set".
UNSET_DAY = "1900-01-01"


def to_org(raw: Any) -> Org | None:
    """A client → an organisation; inactive clients are not billed."""
    if not isinstance(raw, dict) or raw.get("id") in (None, ""):
        raise MalformedPayload(f"halopsa: client without an id: {str(raw)[:120]}")
    if raw.get("inactive"):
        return None
    return Org(str(raw["id"]), str(raw.get("name") or raw["id"]))


def to_lines(invoice: Any) -> Iterator[AgreementLine]:
    """A recurring invoice's lines → one contract line each (by `item_code`, `qty_order`, `unit_price`)."""
    if (
        not isinstance(invoice, dict)
        or invoice.get("id") in (None, "")
        or invoice.get("client_id") in (None, "")
    ):
        raise MalformedPayload(f"halopsa: recurring invoice without id or client_id: {str(invoice)[:160]}")
    # Unverified: a recurring invoice that no longer raises invoices is `inactive` (or has `disabled`).
    if invoice.get("inactive") or invoice.get("disabled"):
        return
    start = parse.day(
        "halopsa", invoice.get("startdate"), f"recurring invoice {invoice['id']} startdate", unset=UNSET_DAY
    )
    end = parse.day(
        "halopsa", invoice.get("enddate"), f"recurring invoice {invoice['id']} enddate", unset=UNSET_DAY
    )
    lines = invoice.get("lines") or []
    if not isinstance(lines, list):
        raise MalformedPayload(f"halopsa: recurring invoice {invoice['id']} lines is not a list")
    for raw in lines:
        if not isinstance(raw, dict) or raw.get("id") in (None, ""):
            raise MalformedPayload(f"halopsa: recurring invoice line without an id: {str(raw)[:120]}")
        where = f"recurring invoice {invoice['id']} line {raw['id']}"
        code = str(raw.get("item_code") or "").strip()
        if not code:
            raise MalformedPayload(f"halopsa: {where} has no item_code")
        yield AgreementLine(
            external_id=f"{invoice['id']}/{raw['id']}",
            org=str(invoice["client_id"]),
            product=code,
            quantity=parse.decimal("halopsa", raw.get("qty_order"), f"{where} qty_order"),
            unit_price=parse.decimal("halopsa", raw.get("unit_price"), f"{where} unit_price"),
            unit_cost=parse.decimal("halopsa", raw["unit_cost"], f"{where} unit_cost")
            if raw.get("unit_cost") is not None
            else None,
            start=start,
            end=end,
            description=str(raw.get("item_shortdescription") or code),
            agreement=str(
                invoice.get("invoicenumber")
                or invoice.get("reference")
                or f"Recurring invoice {invoice['id']}"
            ),
        )


@register
class HaloPsa(Source):
    kind = "halopsa"
    category = "psa"
    title = "HaloPSA"
    default_base_url = None  # every tenant has its own host, e.g. https://yourcompany.halopsa.com
    secret_keys = ("CLIENT_ID", "CLIENT_SECRET")
    optional_secret_keys = ("TENANT",)  # hosted tenants: the tenant name for /auth/token?tenant=
    streams = {"contracts": Stream("daily at 03:00", contracts=True)}
    requests_per_minute = 300  # Unverified: Halo throttles per tenant at about 700 per 5 minutes

    def auth(self) -> httpx.Auth:
        tenant = self.secrets.get("TENANT")
        query = f"?{urlencode({'tenant': tenant.get_secret_value()})}" if tenant else ""
        return client_credentials(
            f"{self.config.token_url_base}/auth/token{query}",
            {
                "client_id": self.secret("CLIENT_ID"),
                "client_secret": self.secret("CLIENT_SECRET"),
                "scope": "all",
            },
            label="HaloPSA token endpoint",
        )

    def orgs(self, api: Api) -> Iterator[Org]:
        for raw in api.pages("/api/Client", _paging("clients")):
            org = to_org(raw)
            if org is not None:
                yield org

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        yield from self.orgs(api)
        for invoice in api.pages("/api/RecurringInvoice", _paging("invoices"), {"includelines": "true"}):
            yield from to_lines(invoice)
