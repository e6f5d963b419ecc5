"""Autotask PSA REST API v1.0: recurring-service contracts' service units, read as contract lines.

Read-only. The tenant's zone is discovered first (`/V1.0/zoneInformation?user=`); every search is a
POSTed read (`/V1.0/{Entity}/query`) paged through `pageDetails.nextPageUrl`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import httpx
from pydantic import SecretStr

from collectors import parse
from collectors.base import Source, Stream
from collectors.http import Api, HttpPolicy, remember_secret
from collectors.paging import NextLink
from collectors.records import AgreementLine, Org, Record
from collectors.registry import register
from mcc.config import SourceConfig
from mcc.errors import AuthFailed, MalformedPayload, SourceError

MAX_RECORDS = 500  # the documented maximum per page
ACTIVE = 1  # Contracts.status: 1 active, 0 inactive
IN_CHUNK = 500  # ids per `in` filter, as the API accepts at most 500 values
ALL = {"filter": [{"op": "exist", "field": "id"}]}


def _paging() -> NextLink:
    """Page: `{"items": [...], "pageDetails": {"count": 500, "nextPageUrl": "https://…/query/next?paging=…"}}`."""
    return NextLink("items", "pageDetails.nextPageUrl")


def _query(filters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"MaxRecords": MAX_RECORDS, "filter": filters}


def to_org(raw: Any) -> Org:
    if not isinstance(raw, dict) or raw.get("id") in (None, ""):
        raise MalformedPayload(f"autotask: company without an id: {str(raw)[:120]}")
    return Org(str(raw["id"]), str(raw.get("companyName") or raw["id"]))


def to_lines(
    contract: dict[str, Any], units: list[dict[str, Any]], services: dict[str, str], today: date
) -> Iterator[AgreementLine]:
    """One active contract's service units → one line per contract service.

    Autotask keeps a unit row per billing period; the row in force today (else the latest one that has
    started) gives the quantity and price, and the earliest row gives the line's start.
    """
    by_service: dict[str, list[dict[str, Any]]] = {}
    for raw in units:
        if not isinstance(raw, dict) or raw.get("id") in (None, ""):
            raise MalformedPayload(f"autotask: contract service unit without an id: {str(raw)[:120]}")
        key = str(raw.get("contractServiceID") or raw.get("serviceID") or raw["id"])
        by_service.setdefault(key, []).append(raw)
    for key, rows in sorted(by_service.items()):
        where = f"contract {contract['id']} service {key}"
        dated = [
            (parse.day("autotask", row.get("startDate"), f"{where} startDate") or date.min, row)
            for row in rows
        ]
        started = [(start, row) for start, row in dated if start <= today]
        if not started:
            continue  # starts later: not contracted yet
        start_current, current = max(started, key=lambda pair: pair[0])
        service_id = str(current.get("serviceID") or "")
        name = services.get(service_id)
        if not name:
            raise MalformedPayload(f"autotask: {where} names service {service_id!r}, which is not listed")
        end = parse.day("autotask", current.get("endDate"), f"{where} endDate")
        contract_end = parse.day("autotask", contract.get("endDate"), f"contract {contract['id']} endDate")
        yield AgreementLine(
            external_id=f"{contract['id']}/{key}",
            org=str(contract["companyID"]),
            product=name,
            quantity=parse.decimal("autotask", current.get("units"), f"{where} units"),
            unit_price=parse.decimal("autotask", current.get("price"), f"{where} price"),
            unit_cost=parse.decimal("autotask", current["cost"], f"{where} cost")
            if current.get("cost") is not None
            else None,
            start=min(start for start, _ in dated),
            # a unit row ends with its billing period; the line runs while the contract does
            end=contract_end if end is not None and start_current <= today <= end else end,
            description=name,
            agreement=str(contract.get("contractName") or contract["id"]),
        )


class AutotaskAuth(httpx.Auth):
    """The three headers every Autotask REST request carries."""

    def __init__(self, username: str, secret: str, integration_code: str) -> None:
        remember_secret(secret)
        remember_secret(integration_code)
        self.headers = {"UserName": username, "Secret": secret, "ApiIntegrationCode": integration_code}

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:  # type: ignore[override]
        request.headers.update(self.headers)
        yield request


@register
class Autotask(Source):
    kind = "autotask"
    category = "psa"
    title = "Autotask PSA"
    # The zone lookup host; the tenant's own zone URL comes from /V1.0/zoneInformation.
    default_base_url = "https://webservices.autotask.net/atservicesrest"
    secret_keys = ("USERNAME", "SECRET", "INTEGRATION_CODE")
    streams = {"contracts": Stream("daily at 03:00", contracts=True)}
    requests_per_minute = 150  # documented: 10,000 requests an hour per tenant

    def __init__(
        self, config: SourceConfig, secrets: dict[str, SecretStr], policy: HttpPolicy = HttpPolicy()
    ):
        # Searches are POSTed reads, so they may be retried like a GET (429 and 5xx).
        if "POST" not in policy.retry_methods:
            policy = replace(policy, retry_methods=(*policy.retry_methods, "POST"))
        super().__init__(config, secrets, policy)

    def auth(self) -> httpx.Auth:
        return AutotaskAuth(self.secret("USERNAME"), self.secret("SECRET"), self.secret("INTEGRATION_CODE"))

    def zone(self, api: Api) -> str:
        """The tenant's REST base URL, e.g. `https://webservices5.autotask.net/ATServicesRest/V1.0`."""
        # The lookup needs no password; Autotask answers 404 for a user name it does not know.
        try:
            payload = api.get("/V1.0/zoneInformation", {"user": self.secret("USERNAME")})
        except AuthFailed:
            raise
        except SourceError as error:
            if "HTTP 404" not in str(error):
                raise
            raise AuthFailed(
                f"{self.config.name}: Autotask knows no API user by this user name (zoneInformation found no zone for it)"
            ) from None
        url = payload.get("url") if isinstance(payload, dict) else None
        if not url:
            raise SourceError(f"{self.config.name}: zoneInformation named no zone for this API user")
        return str(url).rstrip("/") + "/V1.0"

    def _tenant(self, api: Api) -> Api:
        return self.open_api(self.zone(api))

    def orgs(self, api: Api) -> Iterator[Org]:
        tenant = self._tenant(api)
        try:
            for raw in tenant.pages("/Companies/query", _paging(), query=_query(ALL["filter"])):
                yield to_org(raw)
        finally:
            tenant.close()

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        tenant = self._tenant(api)
        try:
            yield from self._collect(tenant)
        finally:
            api.page_count += tenant.page_count
            tenant.close()

    def _collect(self, api: Api) -> Iterator[Record]:
        for raw in api.pages("/Companies/query", _paging(), query=_query(ALL["filter"])):
            yield to_org(raw)
        services = {
            str(raw["id"]): str(raw.get("name") or raw["id"])
            for raw in api.pages("/Services/query", _paging(), query=_query(ALL["filter"]))
        }
        contracts = {
            str(raw["id"]): raw
            for raw in api.pages(
                "/Contracts/query",
                _paging(),
                query=_query([{"op": "eq", "field": "status", "value": ACTIVE}]),
            )
        }
        ids = sorted(contracts, key=int)
        units: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), IN_CHUNK):
            chunk = [int(value) for value in ids[start : start + IN_CHUNK]]
            for raw in api.pages(
                "/ContractServiceUnits/query",
                _paging(),
                query=_query([{"op": "in", "field": "contractID", "value": chunk}]),
            ):
                units.setdefault(str(raw.get("contractID")), []).append(raw)
        today = date.today()
        for contract_id in ids:
            yield from to_lines(contracts[contract_id], units.get(contract_id, []), services, today)
