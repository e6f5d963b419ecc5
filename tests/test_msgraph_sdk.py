"""msgraph-sdk (Microsoft's own Graph client, a test-only dependency) driven against the Graph fake over a
real socket: users paging by @odata.nextLink, subscribedSkus, a group's member count by the short
`graph.user` cast it sends, and mailboxSettings read in a JSON $batch."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.m365 import GraphFake

TENANT = {
    "id": "5c7e0000-0000-4000-8000-000000000001",
    "displayName": "Acme Dental",
    "subscribedSkus": [
        {
            "skuId": "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
            "skuPartNumber": "SPB",
            "consumedUnits": 4,
            "prepaidUnits": {"enabled": 5, "suspended": 0, "warning": 0, "lockedOut": 0},
        }
    ],
    "users": [
        {
            "id": f"0000000{n}-0000-4000-8000-000000000000",
            "displayName": f"User {n}",
            "userPrincipalName": f"user{n}@acme.example",
            "accountEnabled": True,
            "userType": "Member",
            "assignedLicenses": [],
            "mailboxSettings": {"userPurpose": "shared" if n == 0 else "user"},
        }
        for n in range(5)
    ],
    "groups": [
        {
            "id": "9f0c0000-0000-4000-8000-000000000001",
            "displayName": "Managed Users",
            "members": ["00000000-0000-4000-8000-000000000000", "00000001-0000-4000-8000-000000000000"],
        }
    ],
}


def _client(fake: GraphFake, token: str) -> Any:
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient

    class Tokens(AccessTokenProvider):
        async def get_authorization_token(
            self, uri: str, additional_authentication_context: Any = None
        ) -> str:
            return token

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return AllowedHostsValidator([])

    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(Tokens()))
    adapter.base_url = f"{fake.url}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


async def _drive(client: Any) -> dict[str, Any]:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    names: list[str] = []
    page = await client.users.get()
    while True:
        names += [user.display_name for user in page.value]
        if not page.odata_next_link:
            break
        page = await client.users.with_url(page.odata_next_link).get()
    skus = await client.subscribed_skus.get()
    eventual = RequestConfiguration()
    eventual.headers.add("ConsistencyLevel", "eventual")
    group = client.groups.by_group_id(TENANT["groups"][0]["id"])
    members = await group.transitive_members.graph_user.count.get(request_configuration=eventual)
    items = [
        BatchRequestItem(
            request_information=client.users.by_user_id(
                user["id"]
            ).mailbox_settings.to_get_request_information(),
            id=str(n),
        )
        for n, user in enumerate(TENANT["users"][:3])
    ]
    answer = await client.batch.post(BatchRequestContent({item.id: item for item in items}))
    return {
        "names": names,
        "skus": skus.value,
        "members": members,
        "batch": answer.get_response_status_codes(),
    }


def test_msgraph_sdk_reads_users_skus_group_count_and_batched_mailbox_settings() -> None:
    fake = GraphFake([TENANT], page_default=2)
    fake.start()
    try:
        token = fake.issue_token()
        fake.token_tenants[token] = TENANT["id"]
        seen = asyncio.run(_drive(_client(fake, token)))
    finally:
        fake.stop()
    assert seen["names"] == [f"User {n}" for n in range(5)]  # three pages of two
    assert [(sku.sku_part_number, sku.consumed_units, sku.prepaid_units.enabled) for sku in seen["skus"]] == [
        ("SPB", 4, 5)
    ]
    assert seen["members"] == 2
    assert any(r.path.endswith("/transitiveMembers/graph.user/$count") for r in fake.requests)
    assert seen["batch"] == {"0": 200, "1": 200, "2": 200}
    [batch] = [r for r in fake.requests if r.path.endswith("/$batch")]
    assert [item["url"].rsplit("/", 1)[1] for item in batch.json()["requests"]] == ["mailboxSettings"] * 3
