"""NinjaOne payloads → records, without HTTP."""

from __future__ import annotations

import pytest

from collectors.ninjaone import to_device, to_org
from mcc.errors import MalformedPayload


def test_device_uses_display_name_then_system_name_and_keys_on_node_class() -> None:
    raw = {
        "id": 562,
        "organizationId": 2,
        "nodeClass": "MAC",
        "approvalStatus": "APPROVED",
        "offline": True,
        "systemName": "Mac.lan",
        "lastContact": 1787880643.767,
    }
    device = to_device(raw)
    assert device is not None
    assert (device.org, device.metric, device.external_id, device.name) == ("2", "devices", "562", "Mac.lan")
    assert dict(device.attrs) == {"node_class": "MAC"}
    assert dict(device.details)["offline"] == "true"
    assert dict(device.details)["last_contact"].startswith("2026-08-28")


def test_pending_devices_are_not_counted() -> None:
    assert to_device({"id": 1, "organizationId": 1, "nodeClass": "MAC", "approvalStatus": "PENDING"}) is None


@pytest.mark.parametrize(
    "raw", [{"organizationId": 1, "nodeClass": "MAC"}, {"id": 1, "nodeClass": "MAC"}, "x", None]
)
def test_malformed_device_rows_name_the_problem(raw: object) -> None:
    with pytest.raises(MalformedPayload, match="device row lacks"):
        to_device(raw)


def test_org_name_falls_back_to_id() -> None:
    assert to_org({"id": 7}).name == "7"


@pytest.mark.parametrize("value", ["yesterday", 1e20, [1], "nan"])
def test_an_odd_timestamp_is_shown_as_sent_not_a_failed_run(value: object) -> None:
    """`lastContact` only feeds the device's details; a value that is not epoch seconds used to raise a
    bare ValueError/OverflowError and fail the whole sync with an 'unexpected error'."""
    device = to_device({"id": 7, "organizationId": 2, "nodeClass": "MAC", "lastContact": value})
    assert device is not None
    assert dict(device.details)["last_contact"] == str(value)[:40]
