"""Words for people from machine values: an entity's attributes ("Windows workstation · online"), an
audit action as a sentence, an accounting target's product name, a block-hour balance, a time with its
zone. Pure functions (no Streamlit), shared by the pages and tested on their own."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
TARGETS = {
    "quickbooks": "QuickBooks Online",
    "qbd": "QuickBooks Desktop",
    "xero": "Xero",
    "sage": "Sage Business Cloud",
    "file": "a file export",
}

# Words a plain title-casing gets wrong.
WORDS = {
    "windows": "Windows",
    "mac": "Mac",
    "macos": "macOS",
    "darwin": "macOS",
    "linux": "Linux",
    "vmware": "VMware",
    "vm": "VM",
    "esxihost": "ESXi host",
    "hyperv": "Hyper-V",
    "nas": "NAS",
    "rmmnetworkdevice": "network device",
    "ios": "iOS",
    "android": "Android",
}
# Microsoft 365 SKU part numbers as the admin centre names them.
SKUS = {
    "SPB": "Microsoft 365 Business Premium",
    "O365_BUSINESS_PREMIUM": "Microsoft 365 Business Standard",
    "O365_BUSINESS_ESSENTIALS": "Microsoft 365 Business Basic",
    "O365_BUSINESS": "Microsoft 365 Apps for business",
    "SPE_E3": "Microsoft 365 E3",
    "SPE_E5": "Microsoft 365 E5",
    "SPE_F1": "Microsoft 365 F3",
    "ENTERPRISEPACK": "Office 365 E3",
    "STANDARDPACK": "Office 365 E1",
    "EXCHANGESTANDARD": "Exchange Online (Plan 1)",
    "EXCHANGEENTERPRISE": "Exchange Online (Plan 2)",
    "FLOW_FREE": "Power Automate Free",
    "POWER_BI_STANDARD": "Power BI (free)",
    "TEAMS_EXPLORATORY": "Teams Exploratory",
}
PURPOSES = {
    "user": "user",
    "shared": "shared mailbox",
    "room": "room mailbox",
    "equipment": "equipment mailbox",
}
# True / False attributes: (said when true, said when false).
FLAGS = {
    "offline": ("offline", "online"),
    "enabled": ("enabled", "disabled"),
    "licensed": ("licensed", "unlicensed"),
    "billable": ("billable", "not billable"),
}
# Read first, in this order: what the thing is, then its state.
ORDER = [
    "node_class",
    "device_class",
    "os_type",
    "platform",
    "machine_type",
    "user_purpose",
    "seat_type",
    "sku",
    "product",
    "group",
    "offline",
    "enabled",
    "licensed",
    "billable",
    "severity",
]


def target_label(kind: str | None) -> str:
    """quickbooks -> 'QuickBooks Online', qbd -> 'QuickBooks Desktop', xero -> 'Xero'…"""
    if not kind:
        return TARGETS["file"]
    return TARGETS.get(kind, kind)


def phrase(value: object) -> str:
    """WINDOWS_WORKSTATION -> 'windows workstation' with brands spelled right ('Windows workstation');
    SharedMailbox -> 'shared mailbox'; esxihost -> 'ESXi host'."""
    text = _CAMEL.sub(r"\1_\2", str(value).strip())
    parts = [
        WORDS.get(part.lower(), part.lower()) for part in text.replace("-", "_").replace(" ", "_").split("_")
    ]
    return " ".join(part for part in parts if part)


def _capital(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text if first in WORDS.values() else text[:1].upper() + text[1:]


def words(value: object) -> str:
    """A machine value as a label: WINDOWS_WORKSTATION -> 'Windows workstation'; darwin -> 'macOS'."""
    return _capital(phrase(value))


def sku_label(part_number: object) -> str:
    text = str(part_number).strip()
    return SKUS.get(text.upper(), text)


def _is_timestamp(value: object) -> bool:
    return isinstance(value, str) and "T" in value and ":" in value


def _attribute(key: str, value: object) -> str | None:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"  # attribute rows store flags as text
    if value is None or value == "" or value == "unknown" or _is_timestamp(value):
        return None
    if key in FLAGS and isinstance(value, bool):
        return FLAGS[key][0] if value else FLAGS[key][1]
    if isinstance(value, bool):
        return key.replace("_", " ") if value else f"not {key.replace('_', ' ')}"
    if isinstance(value, list):
        shown = [part for part in (_attribute(key, item) for item in value) if part]
        return ", ".join(shown) or None
    if key == "sku":
        return sku_label(value)
    if key == "user_purpose":
        return PURPOSES.get(str(value).lower(), phrase(value))
    if key == "severity":
        return f"{str(value).lower()} severity"
    if key in ("product", "group"):
        return str(value)  # a distributor's or tenant's own name: keep its spelling
    return phrase(value)


def describe_attributes(attrs: str | Mapping[str, Any] | None) -> str:
    """An entity's attributes in words: {"node_class": "WINDOWS_WORKSTATION", "offline": false} ->
    'Windows workstation · online'. Timestamps are left out (they are shown in their own column)."""
    if attrs is None or attrs == "":
        return ""
    values: Any = attrs
    if isinstance(attrs, str):
        try:
            values = json.loads(attrs)
        except ValueError:
            return attrs
    if not isinstance(values, Mapping):
        return str(values)
    rank = {key: index for index, key in enumerate(ORDER)}
    keys = sorted(values, key=lambda k: (rank.get(k, len(rank)), k))
    parts = [part for key in keys if (part := _attribute(key, values[key]))]
    return _capital(" · ".join(parts))


def describe_rule(where: Mapping[str, Any] | None) -> str:
    """A mapping's or exclusion's attribute filter in words: {"node_class": ["WINDOWS_WORKSTATION",
    "MAC"]} -> 'Windows workstation or Mac'; {"user_purpose": "shared"} -> 'shared mailbox'."""
    if not where:
        return "everything"
    parts = []
    for key, value in where.items():
        options = value if isinstance(value, list) else [value]
        said = [part for part in (_attribute(key, option) for option in options) if part]
        parts.append(" or ".join(said) if said else f"{key.replace('_', ' ')} {value}")
    return "; ".join(parts)


def hours_text(hundredths: int | None) -> str:
    return "—" if hundredths is None else f"{hundredths / 100:,.2f} h"


def block_sentence(block_x100: int, used_x100: int, billable_x100: int) -> str:
    """A client's prepaid block in one line. `used` is every billable hour inside the block's dates up to
    the period end (invoiced ones too); `billable` is the unbilled time the block does not pay for: beyond
    it once it is used up, otherwise time outside its dates.

    '10.00 h block: 3.25 h used, 6.75 h left · nothing billable beyond it'
    '10.00 h block: 13.25 h used, used up · 3.25 h billable beyond it'
    """
    if block_x100 <= 0:
        return f"No prepaid block: {hours_text(billable_x100)} billable"
    left = block_x100 - used_x100
    state = f"{hours_text(left)} left" if left > 0 else "used up"
    if billable_x100 <= 0:
        beyond = "nothing billable beyond it"
    elif left > 0:
        beyond = f"{hours_text(billable_x100)} billable outside its dates"
    else:
        beyond = f"{hours_text(billable_x100)} billable beyond it"
    return f"{hours_text(block_x100)} block: {hours_text(used_x100)} used, {state} · {beyond}"


ACTIONS = {
    "decision.bump": "Bumped the agreement",
    "decision.back_bill": "Approved a one-time back-bill",
    "decision.write_off": "Wrote off a gap",
    "decision.exclude": "Excluded entities from a count",
    "decision.defer": "Deferred a gap",
    "decision.undo": "Undid a decision",
    "decision.bulk": "Decided gaps in bulk",
    "time.add": "Logged time",
    "time.approve": "Approved time for invoicing",
    "time.write_off": "Wrote off time",
    "invoice.draft_created": "Drafted an invoice",
    "invoice.draft_rebuilt": "Rebuilt a draft invoice",
    "invoice.draft_removed": "Removed an empty draft invoice",
    "invoice.line_edited": "Edited an invoice line",
    "invoice.approved": "Approved an invoice",
    "invoice.reopened_stale": "Reopened an invoice whose data changed",
    "invoice.push": "Started pushing an invoice",
    "invoice.pushed": "Pushed an invoice",
    "invoice.push_failed": "An invoice push failed",
    "book.import": "Imported the book",
    "contracts.import": "Imported contracts",
    "contracts.sync": "Applied contracts from the PSA",
    "refresh.request": "Asked for a refresh",
    "org.map": "Mapped an organisation to a client",
    "org.remap": "Moved an organisation to another client",
    "user.add": "Added a user",
    "user.disable": "Disabled a user",
    "user.password": "Changed a password",
    "user.roles": "Changed a user's roles",
    "user.sign_in": "Signed in",
    "user.sign_in_failed": "A sign-in failed",
    "user.sign_out": "Signed out",
    "user.unlock": "Unlocked a user",
}


def action_sentence(action: str, payload: Mapping[str, Any] | None = None) -> str:
    """'decision.write_off' -> 'Wrote off a gap'; a bulk decision names its action
    ('Decided gaps in bulk: write off'); anything new reads as words ('Contracts: sync')."""
    said = ACTIONS.get(action)
    if said is None:
        kind, _, verb = action.partition(".")
        said = f"{words(kind)}: {verb.replace('_', ' ')}" if verb else words(kind)
    if action == "decision.bulk" and payload and isinstance(payload.get("action"), str):
        said += f": {str(payload['action']).replace('_', ' ')}"
    return said


def when_text(at: datetime | None) -> str:
    """A stored time with its zone: '2026-12-02 15:23 UTC' (times are stored in UTC)."""
    if at is None:
        return "—"
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
