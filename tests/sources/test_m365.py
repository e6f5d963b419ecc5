"""Microsoft 365 (Graph): payloads → records without HTTP, then call budgets, tokens per tenant, batching
and permission errors against the Graph fake."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from collectors.http import Api, build_client
from collectors.m365 import (
    Microsoft365,
    batch_body,
    odata_quote,
    read_batch,
    sku_counts,
    sku_names,
    to_organization,
    to_tenant,
    to_user,
    user_purpose,
)
from collectors.paging import NextLink
from collectors.records import Count, Entity, Org
from mcc.config import SourceConfig
from mcc.errors import AuthFailed, ConfigError, MalformedPayload
from sandbox.m365 import GraphFake
from sandbox.server import Fake, Request
from tests.sources.conftest import TEST_POLICY
from tests.sources.harness import PARTNER_TENANT, graph_group_size, graph_tenant, graph_tenant_id

SECRETS = {"CLIENT_ID": SecretStr("app-id-1"), "CLIENT_SECRET": SecretStr("app-secret-1")}
SPB = "c7df2760-2c81-4ef7-b578-5b5392b571df"


# --- payloads → records -------------------------------------------------------------------------


def _sku(part: str, consumed: int, enabled: int, sku_id: str = SPB) -> dict[str, Any]:
    return {
        "skuId": sku_id,
        "skuPartNumber": part,
        "consumedUnits": consumed,
        "prepaidUnits": {"enabled": enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
    }


def test_each_sku_gives_assigned_and_purchased_counts() -> None:
    counts = sku_counts(
        "t1", [_sku("SPB", 14, 25), _sku("CRMSTANDARD", 0, 0), _sku("EXCHANGESTANDARD", 3, 2)]
    )
    assert counts == [
        Count.of("t1", "licenses_assigned", 14, {"sku": "SPB"}),
        Count.of("t1", "licenses_total", 25, {"sku": "SPB"}),
        Count.of("t1", "licenses_assigned", 3, {"sku": "EXCHANGESTANDARD"}),
        Count.of("t1", "licenses_total", 2, {"sku": "EXCHANGESTANDARD"}),
    ]


@pytest.mark.parametrize(
    "sku",
    [
        {"consumedUnits": 1},
        {"skuPartNumber": "SPB", "consumedUnits": "many"},
        {"skuPartNumber": "SPB", "consumedUnits": 1.5},  # never truncated to 1
        {"skuPartNumber": "SPB", "consumedUnits": 3, "prepaidUnits": {"enabled": -2}},
        "x",
    ],
)
def test_malformed_skus_fail_with_a_named_problem(sku: object) -> None:
    with pytest.raises(MalformedPayload, match="m365: "):
        sku_counts("t1", [sku])


def _user(**fields: Any) -> dict[str, Any]:
    return {
        "id": "u1",
        "displayName": "Ana Adams",
        "userPrincipalName": "ana@contoso.com",
        "accountEnabled": True,
        "userType": "Member",
        "assignedLicenses": [
            {"skuId": SPB, "disabledPlans": []},
            {"skuId": "unknown-sku", "disabledPlans": []},
        ],
        **fields,
    }


def test_member_user_carries_the_attributes_exclusions_need() -> None:
    user = to_user("t1", _user(), "user", sku_names([_sku("SPB", 1, 1)]))
    assert user == Entity.of(
        "t1",
        "users",
        "u1",
        "Ana Adams",
        attrs={"user_purpose": "user", "enabled": True, "licensed": True},
        details={"upn": "ana@contoso.com", "skus": "SPB,unknown-sku"},
    )


def test_disabled_unlicensed_shared_mailbox() -> None:
    user = to_user("t1", _user(accountEnabled=False, assignedLicenses=[]), "shared", {})
    assert user is not None
    assert dict(user.attrs) == {"user_purpose": "shared", "enabled": "false", "licensed": "false"}
    assert dict(user.details)["skus"] == ""


def test_guests_are_not_the_customers_users() -> None:
    assert to_user("t1", _user(userType="Guest"), "user", {}) is None


def test_user_without_an_id_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="without an id"):
        to_user("t1", {"displayName": "x"}, "user", {})


@pytest.mark.parametrize(
    ("value", "purpose"),
    [
        ("user", "user"),
        ("shared", "shared"),
        ("Shared", "shared"),
        ("room", "room"),
        ("equipment", "equipment"),
        ("linked", "user"),
        ("others", "user"),
        (None, "user"),
    ],
)
def test_mailbox_purpose_maps_to_four_kinds(value: object, purpose: str) -> None:
    assert user_purpose(value) == purpose


def test_batch_body_asks_for_the_purpose_of_up_to_twenty_users() -> None:
    body = batch_body(["a", "b"])
    assert body == {
        "requests": [
            {"id": "a", "method": "GET", "url": "/users/a/mailboxSettings?$select=userPurpose"},
            {"id": "b", "method": "GET", "url": "/users/b/mailboxSettings?$select=userPurpose"},
        ]
    }
    with pytest.raises(ValueError):
        batch_body([str(n) for n in range(21)])


def test_batch_answer_in_any_order_with_failed_sub_responses() -> None:
    payload = {
        "responses": [
            {
                "id": "c",
                "status": 429,
                "headers": {"Retry-After": "7"},
                "body": {"error": {"code": "TooManyRequests"}},
            },
            {"id": "a", "status": 200, "body": {"userPurpose": "shared"}},
            {
                "id": "d",
                "status": 403,
                "body": {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}},
            },
            {
                "id": "b",
                "status": 404,
                "body": {"error": {"code": "MailboxNotEnabledForRESTAPI", "message": "x"}},
            },
        ]
    }
    purposes, failures = read_batch(payload, ["a", "b", "c", "d"])
    assert purposes == {"a": "shared", "b": "user"}
    assert failures["c"].retryable and failures["c"].retry_after == 7.0
    assert not failures["d"].retryable and failures["d"].code == "ErrorAccessDenied"


@pytest.mark.parametrize("payload", [{"value": []}, {"responses": [{"status": 200}]}, []])
def test_malformed_batch_answers(payload: object) -> None:
    with pytest.raises(MalformedPayload):
        read_batch(payload, [])


def test_a_batch_that_leaves_out_a_sub_request_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="1 of its sub-requests"):
        read_batch({"responses": [{"id": "a", "status": 200, "body": {"userPurpose": "user"}}]}, ["a", "b"])


def test_tenants_and_organization() -> None:
    assert to_tenant({"customerId": "t9", "defaultDomainName": "x.onmicrosoft.com"}) == Org(
        "t9", "x.onmicrosoft.com"
    )
    assert to_organization({"value": [{"id": "t9", "displayName": "Contoso"}]}) == Org("t9", "Contoso")
    with pytest.raises(MalformedPayload):
        to_organization({"value": []})
    with pytest.raises(MalformedPayload):
        to_tenant({"displayName": "no id"})


def test_group_names_are_quoted_for_odata() -> None:
    assert odata_quote("O'Brien's Users") == "'O''Brien''s Users'"


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (
            "src: GET /users/{id}/mailboxSettings is forbidden (HTTP 403, ErrorAccessDenied)",
            "MailboxSettings.Read",
        ),
        (
            "src: GET /users is forbidden (HTTP 403), check the API permissions: Authorization_RequestDenied",
            "User.Read.All",
        ),
        ("src: GET /subscribedSkus is forbidden (HTTP 403)", "Organization.Read.All"),
        ("src: GET /groups is forbidden (HTTP 403)", "GroupMember.Read.All"),
        ("src: GET /contracts is forbidden (HTTP 403)", "Directory.Read.All"),
        ("refused the credentials (HTTP 400): AADSTS700016: Application not found", "admin consent"),
        ("refused the credentials (HTTP 401): AADSTS7000215: Invalid client secret", "client secret"),
    ],
)
def test_permission_hints_name_what_to_grant(message: str, needle: str) -> None:
    source = Microsoft365(SourceConfig(name="m", kind="m365", tenants=["t"]), SECRETS)
    hint = source.permission_hint(AuthFailed(message))
    assert hint is not None and needle in hint


def test_no_tenant_configured_is_a_config_error() -> None:
    source = Microsoft365(SourceConfig(name="m", kind="m365"), SECRETS)
    with pytest.raises(ConfigError, match="partner_tenant"):
        source.auth()


def test_batch_posts_may_be_retried_like_reads() -> None:
    source = Microsoft365(SourceConfig(name="m", kind="m365", tenants=["t"]), SECRETS, TEST_POLICY)
    assert "POST" in source.policy.retry_methods
    assert "POST" not in TEST_POLICY.retry_methods


# --- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def graph() -> Iterator[Any]:
    started: list[GraphFake] = []

    def make(tenants: list[dict[str, Any]], **options: Any) -> GraphFake:
        fake = GraphFake(tenants, client_id="app-id-1", client_secret="app-secret-1", **options)
        fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


def _source(fake: GraphFake, **config: Any) -> Microsoft365:
    source_config = SourceConfig(
        name=f"m365x{id(fake)}", kind="m365", base_url=fake.url, auth_url=fake.url, **config
    )
    return Microsoft365(source_config, SECRETS, TEST_POLICY)


def _collect(source: Microsoft365) -> list[Any]:
    api = source.open_api()
    try:
        return list(source.collect(api, "tenants"))
    finally:
        api.close()


def test_a_300_user_tenant_takes_at_most_25_graph_calls(graph: Any) -> None:
    tenant = graph_tenant(1, "Big Firm", 291)  # 291 staff + 9 service, shared, room and equipment accounts
    fake = graph([tenant])
    records = _collect(_source(fake, tenants=[tenant["id"]], group="Managed Users"))
    users = [r for r in records if isinstance(r, Entity)]
    assert len(users) == 300
    calls = [request for request in fake.requests if not request.path.endswith("/token")]
    assert len(calls) <= 25, Tally(request.path for request in calls)
    assert sum(request.path == "/$batch" for request in calls) == 15
    purposes = Tally(dict(user.attrs)["user_purpose"] for user in users)
    assert purposes == {"user": 294, "shared": 4, "room": 1, "equipment": 1}
    group = [r for r in records if isinstance(r, Count) and r.metric == "group_members"]
    assert group == [
        Count.of(tenant["id"], "group_members", graph_group_size(291), {"group": "Managed Users"})
    ]


def test_many_tenants_take_one_token_each_and_keep_their_own_records(graph: Any) -> None:
    tenants = [graph_tenant(n, f"Client {n}", 15 + n) for n in (1, 2, 3)]
    tenants[2]["contract"] = False
    fake = graph(tenants, partner_tenant=PARTNER_TENANT, page_max=10)
    listed = [graph_tenant_id(3), graph_tenant_id(1).upper()]  # tenant 1 is also a contract: read once
    records = _collect(_source(fake, partner_tenant=PARTNER_TENANT, tenants=listed))
    assert fake.token_requests == {PARTNER_TENANT: 1, **{graph_tenant_id(n): 1 for n in (1, 2, 3)}}
    orgs = [r for r in records if isinstance(r, Org)]
    assert orgs == [Org(graph_tenant_id(n), f"Client {n}") for n in (1, 2, 3)]
    per_tenant = Tally(r.org for r in records if isinstance(r, Entity))
    assert per_tenant == {graph_tenant_id(n): 15 + n + 9 for n in (1, 2, 3)}
    assert not any(
        isinstance(r, Count) and r.metric == "group_members" for r in records
    )  # no group configured


def test_listing_tenants_reads_contracts_without_customer_tokens(graph: Any) -> None:
    tenants = [graph_tenant(n, f"Client {n}", 3) for n in (1, 2, 3)]
    tenants[2]["contract"] = False
    fake = graph(tenants, partner_tenant=PARTNER_TENANT)
    source = _source(fake, partner_tenant=PARTNER_TENANT, tenants=[graph_tenant_id(3)])
    api = source.open_api()
    try:
        orgs = list(source.orgs(api))
    finally:
        api.close()
    assert orgs == [Org(graph_tenant_id(n), f"Client {n}") for n in (1, 2, 3)]
    assert fake.token_requests == {PARTNER_TENANT: 1, graph_tenant_id(3): 1}


def test_missing_mailbox_permission_names_it_and_the_tenant(graph: Any) -> None:
    tenant = graph_tenant(1, "Acme Dental", 5)
    tenant["roles"] = ["User.Read.All", "Organization.Read.All", "GroupMember.Read.All"]
    fake = graph([tenant])
    with pytest.raises(AuthFailed) as caught:
        _collect(_source(fake, tenants=[tenant["id"]]))
    message = str(caught.value)
    assert "tenant Acme Dental" in message or tenant["id"] in message
    assert "MailboxSettings.Read" in message


def test_missing_user_permission_names_it(graph: Any) -> None:
    tenant = graph_tenant(1, "Acme Dental", 5)
    tenant["roles"] = ["Organization.Read.All", "MailboxSettings.Read"]
    fake = graph([tenant])
    with pytest.raises(AuthFailed, match="User.Read.All"):
        _collect(_source(fake, tenants=[tenant["id"]]))


def test_a_tenant_that_never_consented_says_so(graph: Any) -> None:
    tenant = graph_tenant(1, "Acme Dental", 5)
    tenant["consented"] = False
    fake = graph([tenant])
    with pytest.raises(AuthFailed, match="admin consent"):
        _collect(_source(fake, tenants=[tenant["id"]]))


def test_throttled_sub_requests_are_asked_again(graph: Any) -> None:
    tenant = graph_tenant(1, "Acme Dental", 30)
    shared = next(u for u in tenant["users"] if u["displayName"] == "Billing")
    fake = graph([tenant])
    fake.faults.add(path=f"/users/{shared['id']}/mailboxSettings", status=429, retry_after=1, times=1)
    records = _collect(_source(fake, tenants=[tenant["id"]]))
    billing = next(r for r in records if isinstance(r, Entity) and r.external_id == shared["id"])
    assert dict(billing.attrs) == {"user_purpose": "shared", "enabled": "false", "licensed": "true"}
    asked = [r for r in fake.batch_requests if r.path == f"/users/{shared['id']}/mailboxSettings"]
    assert len(asked) == 2


class _Elsewhere(Fake):
    def __init__(self) -> None:
        super().__init__()
        self.route("GET", "/users", self.users)

    def users(self, request: Request) -> dict[str, Any]:
        return {"value": [{"id": "1"}], "@odata.nextLink": "http://attacker.example/users?$skiptoken=x"}


def test_a_next_link_to_another_host_is_refused() -> None:
    fake = _Elsewhere()
    fake.start()
    api = Api("src", build_client(fake.url, policy=TEST_POLICY))
    try:
        with pytest.raises(MalformedPayload, match="another host"):
            list(api.pages("/users", NextLink("value", "@odata.nextLink")))
    finally:
        api.close()
        fake.stop()
