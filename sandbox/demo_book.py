"""The demo book: products, mappings, clients with their org ids, contracts and exclusions, as the
TOML a user would import. Only sources running in the sandbox are referenced."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandbox.world import PAX8_PRODUCTS, World, WorldClient, contract_lines


@dataclass(frozen=True)
class DemoProduct:
    code: str
    name: str
    price: str
    source: str
    mappings: tuple[tuple[str, str], ...]  # (metric, inline TOML `where` table or "")
    cost: str | None = None
    policy: str = "end"
    tolerance: str = "0"
    prorate: bool = False


PRODUCTS = [
    DemoProduct(
        "WS",
        "Managed workstation",
        "45.00",
        "ninja",
        (
            ("devices", '{ node_class = "WINDOWS_WORKSTATION" }'),
            ("devices", '{ node_class = ["MAC", "LINUX_WORKSTATION"] }'),
        ),
        cost="4.10",
    ),
    DemoProduct(
        "SRV",
        "Managed server",
        "150.00",
        "ninja",
        (
            (
                "devices",
                '{ node_class = ["WINDOWS_SERVER", "LINUX_SERVER", "MAC_SERVER", "VMWARE_VM_GUEST", '
                '"HYPERV_VMM_GUEST", "VMWARE_VM_HOST", "HYPERV_VMM_HOST"] }',
            ),
        ),
        cost="12.00",
        prorate=True,
    ),
    DemoProduct(
        "USER",
        "Microsoft 365 managed user",
        "35.00",
        "m365",
        (("users", '{ licensed = "true" }'),),
        tolerance='"2%"',
    ),
    DemoProduct(
        "SAT",
        "Security awareness training (Managed Users group)",
        "3.00",
        "m365",
        (("group_members", '{ group = "Managed Users" }'),),
    ),
    DemoProduct("EDR", "Huntress managed EDR", "7.00", "huntress", (("agents", ""),), cost="3.00"),
    DemoProduct("S1", "SentinelOne Control", "6.00", "s1", (("agents", ""),), cost="2.80"),
    DemoProduct(
        "BKP",
        "Microsoft 365 backup seat",
        "4.00",
        "saas",
        (("seats", '{ billable = "true" }'),),
        prorate=True,
    ),
]
for _name, (_price, _cost) in PAX8_PRODUCTS.items():
    from sandbox.world import PAX8_CODES

    PRODUCTS.append(
        DemoProduct(
            PAX8_CODES[_name],
            _name,
            f"{_price / 100:.2f}",
            "pax8",
            (("subscriptions", f'{{ product = "{_name}" }}'),),
        )
    )


def _orgs(client: WorldClient, sources: set[str], org_ids: dict[str, Callable[[WorldClient], str]]) -> str:
    parts = [f'{name} = "{org_ids[name](client)}"' for name in sorted(sources) if name in org_ids]
    return "{ " + ", ".join(parts) + " }"


def book_toml(
    world: World,
    sources: Iterable[str],
    org_ids: dict[str, Callable[[WorldClient], str]],
    currency: str = "USD",
    psa_clients: Iterable[int] = (),
) -> str:
    """`org_ids` gives, per source name, the external org id a client has in that source; the clients
    numbered in `psa_clients` get their contracts from the PSA, so the book has none for them."""
    from_psa = set(psa_clients)
    sources = set(sources)
    out = [f'currency = "{currency}"', ""]
    products = [p for p in PRODUCTS if p.source in sources]
    for product in products:
        out += [
            "[[products]]",
            f'code = "{product.code}"',
            f'name = "{product.name}"',
            f'unit_price = "{product.price}"',
        ]
        if product.cost:
            out.append(f'unit_cost = "{product.cost}"')
        out += [f'policy = "{product.policy}"', f"tolerance = {product.tolerance}"]
        if product.prorate:
            out.append("prorate = true")
        out.append("")
    for product in products:
        for metric, where in product.mappings:
            out += [
                "[[mappings]]",
                f'product = "{product.code}"',
                f'source = "{product.source}"',
                f'metric = "{metric}"',
            ]
            if where:
                out.append(f"where = {where}")
            out.append("")
    out += [
        "[[products]]",
        'code = "TIME"',
        'name = "Technical support (hourly)"',
        'unit_price = "150.00"',
        'policy = "end"',
        "tolerance = 0",
        'category = "time"',
        "",
    ]
    codes = {p.code for p in products}
    for client in world.clients:
        out += [
            "[[clients]]",
            f'name = "{client.name}"',
            f'accounting_id = "{client.accounting_id}"',
            f"orgs = {_orgs(client, sources, org_ids)}",
            "",
        ]
    for client in world.clients:
        if client.index in from_psa:
            continue
        for code, lines in sorted(contract_lines(client, world).items()):
            if code not in codes:
                continue
            for quantity, start, end in lines:
                out += [
                    "[[contracts]]",
                    f'client = "{client.name}"',
                    f'product = "{code}"',
                    f"quantity = {quantity}",
                    f'start = "{start.isoformat()}"',
                ]
                if end is not None:
                    out.append(f'end = "{end.isoformat()}"')
                out.append("")
    if "m365" in sources:  # most clients already exclude shared mailboxes; Birch Legal does not, yet
        for client in world.clients:
            if client.index % 2 == 0:
                out += [
                    "[[exclusions]]",
                    f'client = "{client.name}"',
                    'source = "m365"',
                    'where = { user_purpose = "shared" }',
                    'reason = "shared mailboxes are not billed"',
                    "",
                ]
    for client in world.clients[:6:2]:  # prepaid 10-hour blocks, used up by this month's time
        out += [
            "[[blocks]]",
            f'client = "{client.name}"',
            "hours = 10",
            f'start = "{world.today.replace(day=1).isoformat()}"',
            "",
        ]
    return "\n".join(out).rstrip() + "\n"
