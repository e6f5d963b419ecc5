"""Microsoft Graph fake for many customer tenants: client-credentials tokens per tenant, `/organization`,
`/subscribedSkus`, `/users` with `$select`/`$top`/`@odata.nextLink`, mailbox purpose, groups with a
`$count` of transitive user members, partner `/contracts`, and JSON `$batch`.

A tenant is plain Graph data:

    {"id": "<tenant guid>", "displayName": "Acme Dental", "defaultDomainName": "acmedental.onmicrosoft.com",
     "subscribedSkus": [{"skuId": ..., "skuPartNumber": "SPB", "consumedUnits": 40,
                         "prepaidUnits": {"enabled": 45, "suspended": 0, "warning": 0, "lockedOut": 0}}],
     "users": [{"id": ..., "displayName": ..., "userPrincipalName": ..., "accountEnabled": true,
                "userType": "Member", "assignedLicenses": [{"skuId": ..., "disabledPlans": []}],
                "mailboxSettings": {"userPurpose": "shared"}}],       # no mailboxSettings: no mailbox
     "groups": [{"id": ..., "displayName": "Managed Users", "members": [user or group ids]}],
     "roles": ["User.Read.All", ...],     # application permissions consented (default: all MCC needs)
     "consented": true}                   # false: the app is not registered in this tenant
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sandbox.server import Fake, HttpError, Request, Response

SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_ROLES = (
    "User.Read.All",
    "Organization.Read.All",
    "GroupMember.Read.All",
    "MailboxSettings.Read",
)
# Which application permissions let a request through (any one of them).
NEEDS = {
    "organization": {"Organization.Read.All", "Directory.Read.All"},
    "subscribedSkus": {"Organization.Read.All", "LicenseAssignment.Read.All", "Directory.Read.All"},
    "users": {"User.Read.All", "Directory.Read.All"},
    "mailboxSettings": {"MailboxSettings.Read", "MailboxSettings.ReadWrite"},
    "groups": {"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"},
    "contracts": {"Directory.Read.All"},
}
_FILTER = re.compile(r"^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$")


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HttpError:
    inner = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "request-id": "sandbox"}
    return HttpError(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


class GraphFake(Fake):
    name = "m365"

    def __init__(
        self,
        tenants: list[dict[str, Any]],
        client_id: str = "graph-client",
        client_secret: str = "graph-secret",
        *,
        partner_tenant: str | None = None,
        contracts: list[dict[str, Any]] | None = None,
        page_default: int = 100,
        page_max: int = 999,
    ) -> None:
        super().__init__()
        self.tenants = {str(t["id"]): t for t in tenants}
        self.client_id, self.client_secret = client_id, client_secret
        self.partner_tenant = partner_tenant
        if partner_tenant and partner_tenant not in self.tenants:
            self.tenants[partner_tenant] = {
                "id": partner_tenant,
                "displayName": "MSP partner tenant",
                "roles": ["Directory.Read.All"],
            }
        self.contracts = (
            contracts
            if contracts is not None
            else [
                {
                    "id": f"contract-{tenant['id']}",
                    "contractType": "ResellerPartner",
                    "customerId": tenant["id"],
                    "defaultDomainName": _domain(tenant),
                    "displayName": tenant.get("displayName", ""),
                }
                for tenant in tenants
                if tenant.get("contract", True) and tenant["id"] != partner_tenant
            ]
        )
        self.page_default, self.page_max = page_default, page_max
        self.token_tenants: dict[str, str] = {}
        self.token_requests: Counter[str] = Counter()
        self.batch_requests: list[Request] = []
        self.route("POST", "/{tenant}/oauth2/v2.0/token", self.token)
        for prefix in ("", "/v1.0"):
            self.route("GET", f"{prefix}/organization", self.organization)
            self.route("GET", f"{prefix}/subscribedSkus", self.subscribed_skus)
            self.route("GET", f"{prefix}/users", self.list_users)
            self.route("GET", f"{prefix}/users/{{user_id}}", self.get_user)
            self.route("GET", f"{prefix}/users/{{user_id}}/mailboxSettings", self.mailbox_settings)
            self.route("GET", f"{prefix}/groups", self.list_groups)
            self.route("GET", f"{prefix}/groups/{{group_id}}/members", self.group_members)
            self.route(
                "GET",
                rf"{prefix}/groups/{{group_id}}/transitiveMembers/microsoft\.graph\.user/\$count",
                self.count,
            )
            # The short cast msgraph-sdk sends (`graph.user`), the same function to Graph.
            self.route(
                "GET", rf"{prefix}/groups/{{group_id}}/transitiveMembers/graph\.user/\$count", self.count
            )
            self.route("GET", f"{prefix}/contracts", self.list_contracts)
            self.route("POST", rf"{prefix}/\$batch", self.batch)

    def unauthorized_body(self) -> Any:
        return {
            "error": {
                "code": "InvalidAuthenticationToken",
                "message": "Access token has expired or is not yet valid.",
            }
        }

    # -- sign-in -----------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        tenant_id = request.params["tenant"]
        form = request.form()
        self.token_requests[tenant_id] += 1
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            return _sign_in_error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant_id}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _sign_in_error(
                400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
            )
        if form.get("scope") != SCOPE:
            return _sign_in_error(
                400,
                "invalid_scope",
                f"AADSTS70011: The provided value for scope {form.get('scope')} is not valid.",
            )
        if form.get("client_id") != self.client_id or not tenant.get("consented", True):
            return _sign_in_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found in the "
                f"directory '{tenant_id}'.",
            )
        if form.get("client_secret") != self.client_secret:
            return _sign_in_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent is correct.",
            )
        token = self.issue_token()
        with self.lock:
            self.token_tenants[token] = tenant_id
        return Response(
            200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    def _tenant(self, request: Request, resource: str) -> dict[str, Any]:
        token = self.require_bearer(request)
        tenant = self.tenants[self.token_tenants[token]]
        if not NEEDS[resource] & set(tenant.get("roles", DEFAULT_ROLES)):
            raise graph_error(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )
        return tenant

    # -- reads -------------------------------------------------------------------------------------

    def _page(self, request: Request, rows: list[dict[str, Any]], context: str) -> dict[str, Any]:
        try:
            top = int(request.arg("$top") or self.page_default)
            offset = int(base64.urlsafe_b64decode(request.arg("$skiptoken") or "MA==").decode())
        except ValueError:
            raise graph_error(400, "Request_BadRequest", "Invalid $top or $skiptoken.") from None
        if top < 1 or top > 999:
            raise graph_error(
                400,
                "Request_BadRequest",
                f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
            )
        size = min(top, self.page_max)
        fields = [f for f in (request.arg("$select") or "").split(",") if f]
        chunk = rows[offset : offset + size]
        if fields:
            chunk = [
                {key: row.get(key) for key in ["id", *fields] if key in row or key in fields} for row in chunk
            ]
        body: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}",
            "value": chunk,
        }
        if offset + size < len(rows):
            query = {key: values[0] for key, values in request.query.items() if key != "$skiptoken"}
            query["$skiptoken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            host = request.header("host") or "127.0.0.1"
            body["@odata.nextLink"] = f"http://{host}{request.path}?{urlencode(query, safe='$,')}"
        return body

    def organization(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "organization")
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
            "value": [
                {
                    "id": tenant["id"],
                    "displayName": tenant.get("displayName", ""),
                    "verifiedDomains": [{"name": _domain(tenant), "isDefault": True, "isInitial": True}],
                }
            ],
        }

    def subscribed_skus(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "subscribedSkus")
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus",
            "value": tenant.get("subscribedSkus", []),
        }

    def _users(self, tenant: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in user.items() if k != "mailboxSettings"} for user in tenant.get("users", [])]

    def list_users(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "users")
        return self._page(request, self._users(tenant), "users")

    def _user(self, tenant: dict[str, Any], user_id: str) -> dict[str, Any]:
        for user in tenant.get("users", []):
            if user["id"] == user_id or user.get("userPrincipalName") == user_id:
                return dict(user)
        raise graph_error(404, "Request_ResourceNotFound", f"Resource '{user_id}' does not exist.")

    def get_user(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "users")
        user = self._user(tenant, request.params["user_id"])
        user.pop("mailboxSettings", None)
        return user

    def mailbox_settings(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "mailboxSettings")
        settings = self._user(tenant, request.params["user_id"]).get("mailboxSettings")
        if settings is None:
            raise graph_error(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        full = {"timeZone": "UTC", "userPurpose": "user", **settings}
        fields = [f for f in (request.arg("$select") or "").split(",") if f]
        body = {key: full.get(key) for key in fields} if fields else full
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/mailboxSettings",
            **body,
        }

    def _group(self, tenant: dict[str, Any], group_id: str) -> dict[str, Any]:
        for group in tenant.get("groups", []):
            if group["id"] == group_id:
                return dict(group)
        raise graph_error(404, "Request_ResourceNotFound", f"Resource '{group_id}' does not exist.")

    def list_groups(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "groups")
        groups = [{"id": g["id"], "displayName": g["displayName"]} for g in tenant.get("groups", [])]
        wanted = request.arg("$filter")
        if wanted is not None:
            match = _FILTER.match(wanted)
            if match is None:
                raise graph_error(400, "Request_UnsupportedQuery", "Unsupported query.")
            name = match.group(1).replace("''", "'")
            groups = [g for g in groups if g["displayName"] == name]
        return self._page(request, groups, "groups")

    def _members(self, tenant: dict[str, Any], group: dict[str, Any], seen: set[str]) -> list[str]:
        users = {user["id"] for user in tenant.get("users", [])}
        found: list[str] = []
        for member in group.get("members", []):
            if member in users and member not in seen:
                seen.add(member)
                found.append(member)
            elif member not in users and member not in seen:
                seen.add(member)
                found += self._members(tenant, self._group(tenant, member), seen)
        return found

    def group_members(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "groups")
        group = self._group(tenant, request.params["group_id"])
        users = {user["id"]: user for user in self._users(tenant)}
        direct = [users[m] for m in group.get("members", []) if m in users]
        return self._page(request, direct, "directoryObjects")

    def count(self, request: Request) -> Response:
        tenant = self._tenant(request, "groups")
        if (request.header("consistencylevel") or "").lower() != "eventual":
            raise graph_error(
                400,
                "Request_BadRequest",
                "$count is only supported with the ConsistencyLevel:eventual header.",
            )
        group = self._group(tenant, request.params["group_id"])
        members = self._members(tenant, group, {group["id"]})
        return Response(200, raw=str(len(members)).encode(), headers={"Content-Type": "text/plain"})

    def list_contracts(self, request: Request) -> dict[str, Any]:
        tenant = self._tenant(request, "contracts")
        if tenant["id"] != self.partner_tenant:
            return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#contracts", "value": []}
        return self._page(request, self.contracts, "contracts")

    # -- JSON batching -----------------------------------------------------------------------------

    def batch(self, request: Request) -> dict[str, Any]:
        self.require_bearer(request)
        payload = request.json()
        requests = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(requests, list) or not requests:
            raise graph_error(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > 20:
            raise graph_error(400, "BadRequest", "Maximum number of requests in a batch is 20.")
        return {"responses": [self._sub(request, item) for item in requests]}

    def _sub(self, outer: Request, item: dict[str, Any]) -> dict[str, Any]:
        url = str(item.get("url", ""))
        absolute = urlsplit(url)
        if absolute.scheme and absolute.netloc:
            # msgraph-sdk sends a request's full URL when its base URL is not graph.microsoft.com (as
            # against this fake); Graph itself takes URLs relative to the version.
            url = absolute.path.removeprefix("/v1.0") + (f"?{absolute.query}" if absolute.query else "")
        parts = urlsplit("/" + url.lstrip("/"))
        headers = {**outer.headers, **{k.lower(): v for k, v in (item.get("headers") or {}).items()}}
        sub = Request(
            method=str(item.get("method", "GET")).upper(),
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            body=b"",
        )
        self.batch_requests.append(sub)
        response = self._answer(sub)
        reply_headers = {"Content-Type": "application/json", **response.headers}
        body = response.body if response.raw is None else response.raw.decode()
        return {"id": item.get("id"), "status": response.status, "headers": reply_headers, "body": body}

    def _answer(self, request: Request) -> Response:
        fault = self.faults.take(request)
        if fault is not None and fault.status is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(int(fault.retry_after))}
            return Response(
                fault.status,
                fault.body or {"error": {"code": "TooManyRequests", "message": "sandbox fault"}},
                headers,
            )
        if request.method != "GET":
            return Response(405, {"error": {"code": "BadRequest", "message": "Only reads are served here."}})
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                try:
                    result = handler(request)
                except HttpError as error:
                    return error.response
                return result if isinstance(result, Response) else Response(200, result)
        return Response(
            404,
            {
                "error": {
                    "code": "BadRequest",
                    "message": f"Resource not found for the segment '{request.path}'.",
                }
            },
        )


def _domain(tenant: dict[str, Any]) -> str:
    if tenant.get("defaultDomainName"):
        return str(tenant["defaultDomainName"])
    slug = "".join(ch for ch in str(tenant.get("displayName", "tenant")).lower() if ch.isalnum())[:20]
    return f"{slug or 'tenant'}.onmicrosoft.com"


def _sign_in_error(status: int, error: str, description: str) -> Response:
    return Response(
        status,
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(description.split(":")[0].removeprefix("AADSTS"))],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        },
    )
