"""Text for people from stored machine text: an audit event's payload as one readable line, and a sync
error cut to its first meaningful line. Pure functions (no Streamlit), shared by the pages."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from mcc.money import fmt
from pages.labels import target_label

# Identifiers and bookkeeping that say nothing to a person reading the log (the raw payload is a click away).
HIDDEN = {
    "client_id",
    "line_id",
    "idempotency_key",
    "batch_id",
    "revision",
    "opened_contract",
    "closed_ends",
    "file",
    "kind",
}
# Shown as the bare value: the reader knows a client name or a day when they see one.
BARE = {"client", "org", "product", "period", "day", "person", "name", "email", "filter", "target"}
# Read first, in this order; the rest follow alphabetically (the log stores keys sorted).
FIRST = [
    "action",
    "org",
    "client",
    "name",
    "email",
    "product",
    "period",
    "day",
    "person",
    "hours",
    "quantity",
    "monthly_amount",
    "back_bill",
    "back_bill_months",
    "effective_date",
    "total_cents",
    "target",
]
LAST = ["note", "reason", "error"]
# Amounts stored as decimal strings ("45.00") rather than cents.
DECIMAL_MONEY = {"monthly_amount", "back_bill", "amount", "unit_price", "price"}
LABELS = {
    "back_bill": "back-bill",
    "back_bill_months": "back-bill months",
    "monthly_amount": "monthly",
    "effective_date": "effective",
    "remote_number": "remote #",
    "remote_id": "remote id",
    "status_before": "was",
    "failed_attempts": "failed attempts",
    "locked_until": "locked until",
    "closed_contracts": "contract lines closed",
    "time_entries": "time entries",
    "rate": "rate",
    "total_before": "total before",
    "remote_total": "remote total",
}
COUNT_NOUNS = {
    "entries": "entry",
    "decisions": "decision",
    "time_entries": "time entry",
    "lines": "line",
    "closed_contracts": "contract line closed",
}
_CHANGE = re.compile(r"^([a-z]+)_(added|removed|updated|closed|revoked)$")
_BODY = re.compile(r":\s*[\[{<]")  # where a vendor's JSON or HTML body starts inside an error line
SHORT_ERROR = 90


def short_error(text: str | None, source: str | None = None, limit: int = SHORT_ERROR) -> str:
    """The first line of an error without the response body it quotes: 'GET /sites failed with HTTP 503'."""
    if not text:
        return ""
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    if source and line.startswith(f"{source}: "):
        line = line.removeprefix(f"{source}: ")
    body = _BODY.search(line)
    if body and body.start() > 0:
        line = line[: body.start()].rstrip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _label(key: str) -> str:
    key = key.removesuffix("_cents").replace("_cents_", "_")
    return LABELS.get(key, key.replace("_", " "))


def _money(value: object, money: Callable[[int], str]) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return money(value)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return money(int(amount * 100)) if amount.is_finite() else None


def _scalar(key: str, value: object, money: Callable[[int], str]) -> str:
    """One value, without its key: money as money, hours with an h, lists joined."""
    bare = key.removesuffix("_cents").replace("_cents_", "_")
    if key.endswith("_cents") or "_cents_" in key or bare in DECIMAL_MONEY:
        shown = _money(value, money)
        if shown is not None:
            return shown
    if bare == "hours":
        return f"{value} h"
    if isinstance(value, list):
        return ", ".join(_scalar(key, item, money) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(
            f"{_label(k)} {_scalar(k, v, money)}" for k, v in value.items() if v not in (None, "")
        )
    return str(value)


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _change(key: str, before: object, after: object, money: Callable[[int], str]) -> str:
    """before/after: only what changed ('quantity 2 → 3 · unit price $45.00 → $50.00')."""
    if isinstance(before, dict) and isinstance(after, dict):
        parts = [
            f"{_label(k)} {_scalar(k, before.get(k), money)} → {_scalar(k, after.get(k), money)}"
            for k in after
            if before.get(k) != after.get(k) and k not in HIDDEN
        ]
        return " · ".join(parts) or "no change"
    return f"{_scalar(key, before, money)} → {_scalar(key, after, money)}"


def _part(key: str, value: object, money: Callable[[int], str]) -> str | None:
    if key in HIDDEN or _empty(value):
        return None
    label = _label(key)
    if key == "definite" and isinstance(value, bool):
        return "definite failure" if value else "outcome unknown"
    if isinstance(value, bool):
        return label if value else f"not {label}"
    changed = _CHANGE.match(key)
    if changed and isinstance(value, int):
        noun, verb = changed.groups()
        return f"{value} {noun.removesuffix('s') if value == 1 else noun} {verb}" if value else None
    if isinstance(value, list) and value and all(isinstance(item, (int, dict)) for item in value):
        count = len(value)
        return f"{count} {COUNT_NOUNS.get(key, label) if count == 1 else label}"
    if key in DECIMAL_MONEY and _money(value, money) == money(0):
        return None  # a bump's back-bill of 0.00 says nothing
    if key in ("note", "reason"):
        return f"“{value}”"
    if key == "previous_client":
        return f"was {value}"
    if key == "source" and value == "*":
        return "all sources"
    text = _scalar(key, value, money)
    if key == "error":
        return f"error: {short_error(text)}"
    if key == "action":
        return text.replace("_", " ")
    if key == "target":
        return target_label(text)
    if key in BARE or key == "hours":
        return text
    return f"{label} {text}"


def describe_payload(payload: str | dict[str, Any] | None, money: Callable[[int], str] = fmt) -> str:
    """An audit payload as one line for people: 'Cedar Valley Veterinary · 2026-11-22 · Sam Tech · 2.50 h ·
    rate $150.00 · billable · “On-site visit”' — money as money, no internal ids, empty values left out."""
    if payload is None:
        return ""
    values: Any = payload
    if isinstance(payload, str):
        try:
            values = json.loads(payload)
        except ValueError:
            return payload
    if not isinstance(values, dict):
        return str(values)
    values = dict(values)
    parts: list[str] = []
    if isinstance(values.get("org"), str) and isinstance(values.get("client"), str):
        parts.append(f"{values.pop('org')} → {values.pop('client')}")
    if "before" in values and "after" in values:
        parts.append(_change("before", values.pop("before"), values.pop("after"), money))
    rank = {key: index for index, key in enumerate(FIRST)}
    last = {key: index for index, key in enumerate(LAST)}
    order = sorted(values, key=lambda k: (k in last, last.get(k, 0), rank.get(k, len(rank)), k))
    parts.extend(part for key in order if (part := _part(key, values[key], money)) is not None)
    return " · ".join(parts)


# What Streamlit's Markdown (and the HTML we hand it) would read as markup in one line of text: emphasis
# (* and _ at a word's edge), links and images ([), code (`), strikethrough (~), LaTeX ($), HTML tags and
# entities (< > &name;), `:red[...]` colours and `:material/...:` icons (a colon before a letter), escapes.
_MARKUP = re.compile(r"[\\`*\[\]<>~$]|:(?=[A-Za-z])|&(?=#?[A-Za-z0-9]+;)|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md(value: object) -> str:
    """Any stored or typed text (a client name, an error naming one) made safe to show through
    st.markdown, captions, titles, alerts and labels, with or without unsafe_allow_html: each markup
    character becomes a numeric character reference, which both Markdown and HTML show as itself."""
    return _MARKUP.sub(lambda match: f"&#{ord(match.group())};", str(value))
