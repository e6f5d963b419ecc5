"""Per-vendor test harness: how to start each vendor's fake with a small world, the mcc.toml entry
and credentials that reach it, and which path is paged (where faults are injected).

Adding a vendor = one `Harness` entry in VENDORS; the conformance battery then runs against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.ninjaone import NinjaOneFake
from sandbox.server import Fake


@dataclass(frozen=True)
class Harness:
    kind: str
    make_fake: Callable[[], Fake]
    env: dict[str, str]  # credentials, keyed by the KEY part of MCC_<NAME>_<KEY>
    paged_path: str  # a path that takes several pages with the small world
    expected: dict[tuple[str, str], int]  # (org external id, metric) -> quantity summed over attributes
    extra_toml: str = ""  # kind-specific settings, e.g. auth_url = "{url}"
    secret_values: tuple[str, ...] = field(default=())  # strings that must never reach a log line
    auth_path: str = ""  # the token endpoint, for "bad credentials" checks; empty for static keys


def _ninja_world() -> NinjaOneFake:
    organizations = [{"id": 1, "name": "Acme Dental"}, {"id": 2, "name": "Birch Legal"}]
    devices = [
        {
            "id": 100 + n,
            "organizationId": 1 if n < 1200 else 2,
            "nodeClass": "WINDOWS_SERVER" if n % 10 == 0 else "WINDOWS_WORKSTATION",
            "approvalStatus": "APPROVED",
            "systemName": f"PC-{n}",
            "lastContact": 1787898261.5,
        }
        for n in range(1500)
    ]
    devices.append({"id": 9000, "organizationId": 2, "nodeClass": "MAC", "approvalStatus": "PENDING", "systemName": "new"})
    return NinjaOneFake(organizations, devices, client_id="ninja-id-7f3a", client_secret="ninja-SECRET-9d2c")


VENDORS: dict[str, Harness] = {
    "ninjaone": Harness(
        kind="ninjaone",
        make_fake=_ninja_world,
        env={"CLIENT_ID": "ninja-id-7f3a", "CLIENT_SECRET": "ninja-SECRET-9d2c"},
        paged_path="/v2/devices",
        expected={("1", "devices"): 1200, ("2", "devices"): 300},
        extra_toml='auth_url = "{url}"',
        secret_values=("ninja-SECRET-9d2c",),
        auth_path="/ws/oauth/token",
    ),
}
