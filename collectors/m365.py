"""Microsoft 365 through Microsoft Graph, read-only, one customer tenant at a time: licences per SKU
(assigned and purchased), member users with their mailbox purpose, and the members of a chosen group."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import SecretStr

from collectors.base import Source, Stream
from collectors.http import Api, HttpPolicy, TokenAuth, client_credentials
from collectors.paging import NextLink
from collectors.records import Count, Entity, Org, Record
from collectors.registry import register
from mcc.errors import AuthFailed, ConfigError, MalformedPayload, MccError, SourceError

if TYPE_CHECKING:
    from mcc.config import SourceConfig

log = logging.getLogger(__name__)

SCOPE = "https://graph.microsoft.com/.default"
USER_FIELDS = "id,displayName,userPrincipalName,accountEnabled,assignedLicenses,userType"
# Unverified: 999 as the /users page maximum is widely used but not in the stored docs.
USER_PAGE_SIZE = 999
BATCH_SIZE = 20  # Graph's JSON batch limit
# `linked` is a user's mailbox in another forest; `others` is unclassified: both count as people.
PURPOSES = {"user": "user", "linked": "user", "shared": "shared", "room": "room", "equipment": "equipment"}
# The Graph application permissions this source needs, by the endpoint that needs them (most specific first).
PERMISSIONS = (
    ("mailboxSettings", "MailboxSettings.Read"),
    ("/users", "User.Read.All"),
    # Unverified: Organization.Read.All as the least-privileged permission for /subscribedSkus.
    ("/subscribedSkus", "Organization.Read.All"),
    ("/organization", "Organization.Read.All"),
    ("/groups", "GroupMember.Read.All"),
    ("/contracts", "Directory.Read.All (granted in the partner tenant)"),
)


# --- payloads → records (pure) -----------------------------------------------------------------


def to_tenant(raw: Any) -> Org:
    """A partner `/contracts` row (customerId, displayName, defaultDomainName) → the customer tenant."""
    if not isinstance(raw, dict) or not raw.get("customerId"):
        raise MalformedPayload(f"m365: contract without a customerId: {str(raw)[:120]}")
    name = raw.get("displayName") or raw.get("defaultDomainName") or raw["customerId"]
    return Org(str(raw["customerId"]), str(name))


def to_organization(payload: Any) -> Org:
    """`GET /organization` → the tenant itself: its id and display name."""
    rows = payload.get("value") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict) or not rows[0].get("id"):
        raise MalformedPayload(f"m365: /organization answered without the tenant: {str(payload)[:120]}")
    return Org(str(rows[0]["id"]), str(rows[0].get("displayName") or rows[0]["id"]))


def sku_names(skus: list[Any]) -> dict[str, str]:
    """skuId → skuPartNumber, to name the licences on each user."""
    return {
        str(sku["skuId"]): str(sku.get("skuPartNumber") or sku["skuId"])
        for sku in skus
        if isinstance(sku, dict) and sku.get("skuId")
    }


def sku_counts(tenant: str, skus: list[Any]) -> list[Count]:
    """Per SKU part number: `licenses_assigned` (consumedUnits) and `licenses_total` (prepaidUnits.enabled).

    MSPs bill either the seats in use or the seats bought, so both are kept. A SKU with neither (a
    cancelled trial) is left out."""
    counts: list[Count] = []
    for sku in skus:
        if not isinstance(sku, dict) or not sku.get("skuPartNumber"):
            raise MalformedPayload(f"m365: subscribed SKU without a skuPartNumber: {str(sku)[:160]}")
        prepaid: dict[str, Any] = sku["prepaidUnits"] if isinstance(sku.get("prepaidUnits"), dict) else {}
        assigned, total = sku.get("consumedUnits") or 0, prepaid.get("enabled") or 0
        if not all(
            isinstance(units, int) and not isinstance(units, bool) and units >= 0
            for units in (assigned, total)
        ):
            raise MalformedPayload(f"m365: SKU {sku['skuPartNumber']} has units that are not whole numbers")
        if assigned == 0 and total == 0:
            continue
        attrs = {"sku": sku["skuPartNumber"]}
        counts.append(Count.of(tenant, "licenses_assigned", assigned, attrs))
        counts.append(Count.of(tenant, "licenses_total", total, attrs))
    return counts


def user_purpose(value: Any) -> str:
    """Exchange's mailboxSettings.userPurpose → user | shared | room | equipment (no mailbox: user)."""
    return PURPOSES.get(str(value or "user").lower(), "user")


def to_user(tenant: str, raw: Any, purpose: str, names: dict[str, str]) -> Entity | None:
    """A member user → one `users` entity; guests (userType Guest) are not the customer's staff."""
    if not isinstance(raw, dict) or not raw.get("id"):
        raise MalformedPayload(f"m365: user row without an id: {str(raw)[:160]}")
    if str(raw.get("userType") or "Member") != "Member":
        return None
    licences = raw.get("assignedLicenses") or []
    if not isinstance(licences, list):
        raise MalformedPayload(f"m365: user {raw['id']} has assignedLicenses that is not a list")
    skus = sorted(
        {
            names.get(str(item.get("skuId")), str(item.get("skuId")))
            for item in licences
            if isinstance(item, dict)
        }
    )
    upn = str(raw.get("userPrincipalName") or "")
    return Entity.of(
        tenant,
        "users",
        raw["id"],
        str(raw.get("displayName") or upn or raw["id"]),
        attrs={
            "user_purpose": purpose,
            "enabled": bool(raw.get("accountEnabled", False)),
            "licensed": bool(skus),
        },
        details={"upn": upn, "skus": ",".join(skus)},
    )


def batch_body(user_ids: list[str]) -> dict[str, Any]:
    """One JSON batch asking for the mailbox purpose of up to 20 users (request id = user id)."""
    if len(user_ids) > BATCH_SIZE:
        raise ValueError(f"a Graph batch holds at most {BATCH_SIZE} requests")
    return {
        "requests": [
            {"id": user_id, "method": "GET", "url": f"/users/{user_id}/mailboxSettings?$select=userPurpose"}
            for user_id in user_ids
        ]
    }


@dataclass(frozen=True)
class Failure:
    """A sub-request of a batch that did not answer 200 (or 404: no mailbox)."""

    status: int
    code: str
    message: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def read_batch(payload: Any, user_ids: list[str]) -> tuple[dict[str, str], dict[str, Failure]]:
    """A `$batch` answer → purpose per user id, and the sub-requests that failed.

    Sub-responses come in any order. 404 (or MailboxNotEnabledForRESTAPI) means the user has no
    Exchange mailbox, so it is a plain user account."""
    responses = payload.get("responses") if isinstance(payload, dict) else None
    if not isinstance(responses, list):
        raise MalformedPayload(f"m365: $batch answered without responses: {str(payload)[:120]}")
    purposes: dict[str, str] = {}
    failures: dict[str, Failure] = {}
    for item in responses:
        if not isinstance(item, dict) or "id" not in item or "status" not in item:
            raise MalformedPayload(f"m365: $batch sub-response without id or status: {str(item)[:120]}")
        if not isinstance(item["status"], int):
            raise MalformedPayload(f"m365: $batch sub-response with a non-numeric status: {str(item)[:120]}")
        user_id, status, body = str(item["id"]), item["status"], item.get("body")
        error: dict[str, Any] = (
            body["error"] if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
        )
        code = str(error.get("code") or "")
        if status == 200 and isinstance(body, dict):
            purposes[user_id] = user_purpose(body.get("userPurpose"))
        # Unverified: the status Graph gives a user without a mailbox (404 seen; 400 with this code reported).
        elif status == 404 or code == "MailboxNotEnabledForRESTAPI":
            purposes[user_id] = "user"
        else:
            wait = _header(item.get("headers"), "Retry-After")
            try:
                retry_after = float(wait) if wait is not None else None
            except ValueError:
                retry_after = None
            failures[user_id] = Failure(status, code, str(error.get("message") or ""), retry_after)
    missing = [user_id for user_id in user_ids if user_id not in purposes and user_id not in failures]
    if missing:
        raise MalformedPayload(f"m365: $batch answered without {len(missing)} of its sub-requests")
    return purposes, failures


def odata_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- the source ---------------------------------------------------------------------------------


@register
class Microsoft365(Source):
    kind = "m365"
    category = "identity"
    title = "Microsoft 365"
    default_base_url = "https://graph.microsoft.com/v1.0"
    default_auth_url = "https://login.microsoftonline.com"
    secret_keys = ("CLIENT_ID", "CLIENT_SECRET")
    streams = {
        "tenants": Stream(
            "daily at 02:00", metrics=("licenses_assigned", "licenses_total", "users", "group_members")
        )
    }
    # Unverified: Graph throttles per app per tenant without a published number; 429s carry Retry-After.
    requests_per_minute = 600
    # What a `users` mapping bills when its `where` does not say: enabled, licensed people with their own
    # mailbox, never disabled accounts, unlicensed users or shared/room/equipment mailboxes. A book that
    # wants those writes the attribute itself (`where = { enabled = [true, false] }`).
    billing_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "users": {"enabled": True, "licensed": True, "user_purpose": "user"}
    }
    coverage = {"licenses_assigned": "sku", "licenses_total": "sku"}

    def __init__(
        self, config: SourceConfig, secrets: dict[str, SecretStr], policy: HttpPolicy = HttpPolicy()
    ):
        # POST /$batch only reads here, so it may be retried like a GET (429 and 5xx).
        if "POST" not in policy.retry_methods:
            policy = replace(policy, retry_methods=(*policy.retry_methods, "POST"))
        super().__init__(config, secrets, policy)
        self._auths: dict[str, TokenAuth] = {}

    @property
    def home_tenant(self) -> str:
        """The tenant the first client reads: the partner tenant (for /contracts), else the first listed."""
        tenant = self.config.partner_tenant or (self.config.tenants[0] if self.config.tenants else None)
        if not tenant:
            raise ConfigError(
                f"source {self.config.name!r}: set partner_tenant (to list customers from your partner "
                "contracts) and/or tenants = [customer tenant ids]"
            )
        return tenant

    def tenant_auth(self, tenant: str) -> TokenAuth:
        """Client credentials in one tenant; one cached token per tenant for the whole run."""
        if tenant not in self._auths:
            self._auths[tenant] = client_credentials(
                f"{self.config.token_url_base}/{tenant}/oauth2/v2.0/token",
                {
                    "client_id": self.secret("CLIENT_ID"),
                    "client_secret": self.secret("CLIENT_SECRET"),
                    "scope": SCOPE,
                },
                label=f"Microsoft sign-in for tenant {tenant}",
            )
        return self._auths[tenant]

    def auth(self) -> httpx.Auth:
        return self.tenant_auth(self.home_tenant)

    # -- tenants ---------------------------------------------------------------------------------

    def _listed_tenants(self, api: Api) -> dict[str, Org]:
        """Customer tenants from the partner contracts, plus the ones listed in the config."""
        found: dict[str, Org] = {}
        if self.config.partner_tenant:
            # Unverified: /contracts with an application token (Directory.Read.All) in the partner tenant.
            for raw in api.pages("/contracts", NextLink("value", "@odata.nextLink")):
                org = to_tenant(raw)
                found[org.external_id.lower()] = org
        for tenant in self.config.tenants:
            # Tenant ids (GUIDs or domain names) are case-insensitive; read each tenant once.
            found.setdefault(tenant.strip().lower(), Org(tenant.strip(), tenant.strip()))
        return found

    def _tenant_api(self, api: Api, tenant: str) -> Api:
        return (
            api
            if tenant == self.home_tenant.strip().lower()
            else self.open_api(auth=self.tenant_auth(tenant))
        )

    def _done(self, api: Api, tenant_api: Api) -> None:
        if tenant_api is not api:
            api.request_count += tenant_api.request_count
            api.page_count += tenant_api.page_count
            tenant_api.close()

    def orgs(self, api: Api) -> Iterator[Org]:
        for tenant, org in self._listed_tenants(api).items():
            if org.name != org.external_id:
                yield org
                continue
            tenant_api = self._tenant_api(api, tenant)
            try:
                with self._about(tenant):
                    org = to_organization(tenant_api.get("/organization", {"$select": "id,displayName"}))
            finally:
                self._done(api, tenant_api)
            yield org

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        for tenant, listed in self._listed_tenants(api).items():
            tenant_api = self._tenant_api(api, tenant)
            try:
                with self._about(listed.name):
                    records = list(self._read_tenant(tenant_api))
            finally:
                self._done(api, tenant_api)
            yield from records

    @contextmanager
    def _about(self, label: str) -> Iterator[None]:
        """One tenant's reads: an error names the tenant and, for a 403, the missing permission."""
        try:
            yield
        except MccError as error:
            hint = self.permission_hint(error)
            message = f"tenant {label}: {error}" + (f" — {hint}" if hint else "")
            raise type(error)(message) from None

    # -- one tenant ------------------------------------------------------------------------------

    def _read_tenant(self, api: Api) -> Iterator[Record]:
        org = to_organization(api.get("/organization", {"$select": "id,displayName"}))
        yield org
        skus = api.get("/subscribedSkus").get("value")
        if not isinstance(skus, list):
            raise MalformedPayload("m365: /subscribedSkus answered without a list of SKUs")
        yield from sku_counts(org.external_id, skus)
        names = sku_names(skus)
        users = [
            raw
            for raw in api.pages(
                "/users", NextLink("value", "@odata.nextLink", size=USER_PAGE_SIZE), {"$select": USER_FIELDS}
            )
            if isinstance(raw, dict) and str(raw.get("userType") or "Member") == "Member"
        ]
        purposes = self._purposes(api, [str(raw.get("id")) for raw in users if raw.get("id")])
        for raw in users:
            user = to_user(org.external_id, raw, purposes.get(str(raw.get("id")), "user"), names)
            if user is not None:
                yield user
        if self.config.group:
            count = self._group_members(api, self.config.group)
            if count is not None:
                yield Count.of(org.external_id, "group_members", count, {"group": self.config.group})

    def _purposes(self, api: Api, user_ids: list[str]) -> dict[str, str]:
        """Mailbox purpose per user, 20 users per `$batch` call; throttled sub-requests are asked again."""
        purposes: dict[str, str] = {}
        pending = user_ids
        for _attempt in range(self.policy.retries + 1):
            again: list[str] = []
            wait = 0.0
            for start in range(0, len(pending), BATCH_SIZE):
                chunk = pending[start : start + BATCH_SIZE]
                payload = api.json("POST", "/$batch", json=batch_body(chunk))
                answered, failures = read_batch(payload, chunk)
                purposes.update(answered)
                for user_id, failure in failures.items():
                    if failure.retryable:
                        again.append(user_id)
                        wait = max(wait, failure.retry_after or self.policy.backoff_factor)
                    elif failure.status in (401, 403):
                        raise AuthFailed(
                            f"{api.name}: GET /users/{{id}}/mailboxSettings is forbidden (HTTP {failure.status}, "
                            f"{failure.code or 'no code'}): {failure.message[:200]}"
                        )
                    else:
                        raise SourceError(
                            f"{api.name}: reading the mailbox of user {user_id} failed with HTTP "
                            f"{failure.status} ({failure.code or 'no code'}): {failure.message[:200]}"
                        )
            if not again:
                return purposes
            time.sleep(min(wait, self.policy.max_wait))
            pending = again
        raise SourceError(
            f"{api.name}: mailbox reads were still throttled after {self.policy.retries} retries"
        )

    def _group_members(self, api: Api, group: str) -> int | None:
        """Users in the group, counting nested groups' members once; None when the tenant has no such group."""
        found = api.get(
            "/groups", {"$filter": f"displayName eq {odata_quote(group)}", "$select": "id,displayName"}
        )
        groups = found.get("value") if isinstance(found, dict) else None
        if not isinstance(groups, list):
            raise MalformedPayload("m365: /groups answered without a list of groups")
        if not groups:
            log.debug("%s: no group named %r in this tenant", api.name, group)
            return None
        if len(groups) > 1:
            log.warning("%s: %d groups are named %r; counting the first", api.name, len(groups), group)
        count = api.json(
            "GET",
            f"/groups/{groups[0]['id']}/transitiveMembers/microsoft.graph.user/$count",
            headers={"ConsistencyLevel": "eventual"},
        )
        if isinstance(count, bool) or not isinstance(count, int):
            raise MalformedPayload(f"m365: group member count is not a number: {str(count)[:40]}")
        return count

    # -- plain-words errors for `mcc sources test` -------------------------------------------------

    def permission_hint(self, error: Exception | str) -> str | None:
        text = str(error)
        if "AADSTS700016" in text:
            return (
                "the app is not registered in this tenant: a Global Administrator of the customer tenant must "
                "grant admin consent to the MCC app"
            )
        if "AADSTS7000215" in text or "AADSTS7000222" in text:
            return "the client secret is wrong or expired: create a new one under the app registration's Certificates & secrets"
        if "AADSTS90002" in text or "AADSTS900023" in text:
            return "no tenant with this id exists: check the tenant id (Entra admin center → Overview → Tenant ID)"
        if "AADSTS65001" in text:
            return "admin consent is missing: a Global Administrator of the customer tenant must consent to the MCC app"
        if "HTTP 403" in text or "Authorization_RequestDenied" in text or "ErrorAccessDenied" in text:
            for fragment, permission in PERMISSIONS:
                if fragment in text:
                    return (
                        f"the app lacks the Microsoft Graph application permission {permission}: add it under the "
                        "app registration's API permissions and grant admin consent in the customer tenant"
                    )
            return "the app lacks a Microsoft Graph application permission: see docs/sources/m365.md for the list"
        return None
