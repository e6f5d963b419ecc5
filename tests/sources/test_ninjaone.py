"""NinjaOne payloads → records, without HTTP."""

from __future__ import annotations

from pathlib import Path

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


def test_the_token_request_asks_for_the_read_only_monitoring_scope_and_the_docs_agree(
    write_config, engine, monkeypatch
) -> None:
    from collectors.sync import sync_source
    from sandbox.ninjaone import NinjaOneFake
    from tests.sources.conftest import TEST_POLICY

    fake = NinjaOneFake([{"id": 1, "name": "Acme"}], [], client_id="cid", client_secret="cs")
    url = fake.start()
    monkeypatch.setenv("MCC_NINJA_CLIENT_ID", "cid")
    monkeypatch.setenv("MCC_NINJA_CLIENT_SECRET", "cs")
    try:
        config = write_config(f'[[sources]]\nname = "ninja"\nkind = "ninjaone"\nbase_url = "{url}"\n')
        assert all(result.ok for result in sync_source(engine, config, "ninja", policy=TEST_POLICY))
    finally:
        fake.stop()
    [token] = [r for r in fake.requests if r.path == "/ws/oauth/token"]
    assert token.form()["scope"] == "monitoring"
    docs = (Path(__file__).parents[2] / "docs" / "sources" / "ninjaone.md").read_text()
    assert "`scope=monitoring`" in docs
    assert "monitoring management control" not in docs


def test_every_node_class_of_the_spec_is_documented_and_the_demo_maps_computers_and_hypervisors() -> None:
    from collectors.ninjaone import NODE_CLASSES
    from sandbox.demo_book import PRODUCTS

    docs = (Path(__file__).parents[2] / "docs" / "sources" / "ninjaone.md").read_text()
    assert [value for value in NODE_CLASSES if f"`{value}`" not in docs] == []
    mapped = " ".join(where for product in PRODUCTS for _metric, where in product.mappings)
    computers = {"WINDOWS_WORKSTATION", "MAC", "LINUX_WORKSTATION", "WINDOWS_SERVER", "LINUX_SERVER",
                 "MAC_SERVER", "VMWARE_VM_HOST", "VMWARE_VM_GUEST", "HYPERV_VMM_HOST", "HYPERV_VMM_GUEST"}  # fmt: skip
    assert computers <= set(NODE_CLASSES)
    assert sorted(value for value in computers if f'"{value}"' not in mapped) == []


def test_node_classes_no_mapping_counts_are_reported_after_a_sync(write_config, engine, monkeypatch) -> None:
    from collectors.sync import sync_source
    from sandbox.ninjaone import NinjaOneFake
    from store.db import transaction
    from store.models import Mapping, Product
    from tests.sources.conftest import TEST_POLICY

    devices = [
        {"id": n, "organizationId": 1, "nodeClass": node_class, "approvalStatus": "APPROVED"}
        for n, node_class in enumerate(
            ["WINDOWS_WORKSTATION"] * 3 + ["VMWARE_VM_GUEST"] * 2 + ["NMS_SWITCH"], 1
        )
    ]
    fake = NinjaOneFake([{"id": 1, "name": "Acme"}], devices, client_id="cid", client_secret="cs")
    url = fake.start()
    monkeypatch.setenv("MCC_NINJA_CLIENT_ID", "cid")
    monkeypatch.setenv("MCC_NINJA_CLIENT_SECRET", "cs")
    with transaction(engine) as session:
        product = Product(code="WS", name="Managed workstation", unit_price_cents=4500)
        session.add(product)
        session.flush()
        session.add(
            Mapping(
                product_id=product.id,
                source="ninja",
                metric="devices",
                where={"node_class": "WINDOWS_WORKSTATION"},
            )
        )
    try:
        config = write_config(f'[[sources]]\nname = "ninja"\nkind = "ninjaone"\nbase_url = "{url}"\n')
        [result] = sync_source(engine, config, "ninja", policy=TEST_POLICY)
    finally:
        fake.stop()
    assert result.ok, result.error
    assert [(row["value"], row["quantity"]) for row in result.uncovered] == [
        ("VMWARE_VM_GUEST", 2),
        ("NMS_SWITCH", 1),
    ]
