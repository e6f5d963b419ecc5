"""Words for people from machine values: attributes, rules, targets, block balances, audit actions, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pages.formatting import describe_payload
from pages.labels import (
    action_sentence,
    block_sentence,
    describe_attributes,
    describe_rule,
    target_label,
    when_text,
    words,
)


@pytest.mark.parametrize(
    ("attrs", "shown"),
    [
        ('{"node_class": "WINDOWS_WORKSTATION", "offline": false}', "Windows workstation · online"),
        (
            {"offline": True, "last_contact": "2026-09-01T10:00:00+00:00", "node_class": "MAC"},
            "Mac · offline",
        ),
        (
            {"user_purpose": "shared", "enabled": True, "licensed": True},
            "Shared mailbox · enabled · licensed",
        ),
        ({"user_purpose": "user", "enabled": False, "licensed": False}, "User · disabled · unlicensed"),
        ({"device_class": "esxihost"}, "ESXi host"),
        ({"platform": "darwin"}, "macOS"),
        ({"os_type": "windows", "machine_type": "laptop"}, "Windows · laptop"),
        ({"seat_type": "SharedMailbox", "billable": False}, "Shared mailbox · not billable"),
        ({"sku": ["SPB", "FLOW_FREE"]}, "Microsoft 365 Business Premium, Power Automate Free"),
        ({"product": "Microsoft 365 Business Premium (NCE)"}, "Microsoft 365 Business Premium (NCE)"),
        ({"machine_type": "unknown", "os_type": "linux"}, "Linux"),
        ({"node_class": "WINDOWS_WORKSTATION", "offline": "false"}, "Windows workstation · online"),
        ("", ""),
        ("not json", "not json"),
    ],
)
def test_attributes_read_as_words(attrs: object, shown: str) -> None:
    assert describe_attributes(attrs) == shown  # type: ignore[arg-type]


def test_words_keep_brand_spelling() -> None:
    assert words("WINDOWS_SERVER") == "Windows server"
    assert words("LINUX_SERVER") == "Linux server"
    assert words("VMWARE_VM_GUEST") == "VMware VM guest"
    assert words("rmmnetworkdevice") == "Network device"


def test_rules_read_as_words() -> None:
    assert describe_rule({"node_class": ["WINDOWS_WORKSTATION", "MAC"]}) == "Windows workstation or Mac"
    assert describe_rule({"user_purpose": "shared"}) == "shared mailbox"
    assert describe_rule({"billable": True, "seat_type": "User"}) == "billable; user"
    assert describe_rule(None) == "everything"


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        ("quickbooks", "QuickBooks Online"),
        ("qbd", "QuickBooks Desktop"),
        ("xero", "Xero"),
        ("sage", "Sage Business Cloud"),
        ("file", "a file export"),
        (None, "a file export"),
    ],
)
def test_accounting_targets_by_their_product_names(kind: str | None, shown: str) -> None:
    assert target_label(kind) == shown


def test_an_audit_payload_names_the_target_product() -> None:
    assert describe_payload({"target": "quickbooks", "remote_number": "1042"}) == (
        "QuickBooks Online · remote # 1042"
    )


@pytest.mark.parametrize(
    ("block", "used", "billable", "shown"),
    [
        (1000, 325, 0, "10.00 h block: 3.25 h used, 6.75 h left · nothing billable beyond it"),
        (1000, 1325, 325, "10.00 h block: 13.25 h used, used up · 3.25 h billable beyond it"),
        (1000, 1000, 0, "10.00 h block: 10.00 h used, used up · nothing billable beyond it"),
        (1000, 125, 1700, "10.00 h block: 1.25 h used, 8.75 h left · 17.00 h billable outside its dates"),
        (0, 0, 250, "No prepaid block: 2.50 h billable"),
    ],
)
def test_block_balance_in_one_sentence(block: int, used: int, billable: int, shown: str) -> None:
    assert block_sentence(block, used, billable) == shown


@pytest.mark.parametrize(
    ("action", "payload", "shown"),
    [
        ("decision.write_off", None, "Wrote off a gap"),
        ("invoice.pushed", {"target": "xero"}, "Pushed an invoice"),
        ("decision.bulk", {"action": "write_off"}, "Decided gaps in bulk: write off"),
        ("contracts.something_new", None, "Contracts: something new"),
        ("user.sign_in", None, "Signed in"),
    ],
)
def test_audit_actions_as_sentences(action: str, payload: dict | None, shown: str) -> None:
    assert action_sentence(action, payload) == shown


def test_times_carry_their_zone() -> None:
    assert when_text(datetime(2026, 12, 2, 15, 23, 19, tzinfo=UTC)) == "2026-12-02 15:23:19 UTC"
    cet = timezone(timedelta(hours=1))
    assert when_text(datetime(2026, 12, 2, 16, 23, 19, tzinfo=cet)) == "2026-12-02 15:23:19 UTC"
    assert when_text(datetime(2026, 12, 2, 15, 23, 19)) == "2026-12-02 15:23:19 UTC"  # stored naive = UTC
    assert when_text(None) == "—"
