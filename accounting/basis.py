"""What a draft was built from, and whether that still holds: the decisions of its client and period
(by id) and the time entries on it (by id, with a fingerprint of their state). A decision recorded
later, or a change to one of those entries, makes the draft stale until it is rebuilt."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Decision, Invoice, TimeEntry

STALE_CHECKED = ("draft", "approved", "failed")  # pushing and pushed invoices are settled as they are


def time_entry_state(entry: TimeEntry) -> str:
    """A short fingerprint of everything about an entry that decides what it bills."""
    fields = [
        entry.client_id,
        entry.day.isoformat(),
        entry.person,
        str(entry.hours),
        entry.rate_cents,
        entry.billable,
        entry.note,
        entry.vendor_invoiced,
        entry.invoice_id,
        entry.approved_at.isoformat() if entry.approved_at else None,
        entry.written_off_at.isoformat() if entry.written_off_at else None,
    ]
    if entry.rate is not None:  # appended only when set, so fingerprints taken before it existed still hold
        fields.append(str(entry.rate))
    return hashlib.sha256(json.dumps(fields, default=str).encode()).hexdigest()[:16]


def draft_basis(
    session: Session,
    client_id: int,
    period: str,
    time_entry_ids: Iterable[int],
    carried: Iterable[int] = (),
) -> dict[str, Any]:
    """Every decision of the client and period, those carried in from earlier months, and the state
    of each time entry on the draft."""
    decisions = set(
        session.scalars(select(Decision.id).where(Decision.client_id == client_id, Decision.period == period))
    )
    ids = sorted(set(time_entry_ids))
    entries = session.scalars(select(TimeEntry).where(TimeEntry.id.in_(ids))).all() if ids else []
    return {
        "decisions": sorted(decisions | set(carried)),
        "time_entries": {str(entry.id): time_entry_state(entry) for entry in entries},
    }


def stale_reasons(session: Session, invoices: Iterable[Invoice]) -> dict[int, str]:
    """Why each of these invoices no longer matches what it was built from (absent: it still does)."""
    checked = [i for i in invoices if i.basis is not None and i.status in STALE_CHECKED]
    if not checked:
        return {}
    clients = {invoice.client_id for invoice in checked}
    by_gap: dict[tuple[int, str], list[Decision]] = defaultdict(list)
    undos: dict[int, list[Decision]] = defaultdict(list)  # client → its undos, of any period
    for decision in session.scalars(
        select(Decision).where(Decision.client_id.in_(clients)).order_by(Decision.id)
    ):
        by_gap[(decision.client_id, decision.period)].append(decision)
        if decision.reverses_decision_id is not None:
            undos[decision.client_id].append(decision)
    entry_ids = {int(key) for invoice in checked for key in (invoice.basis or {}).get("time_entries", {})}
    entries = (
        {e.id: e for e in session.scalars(select(TimeEntry).where(TimeEntry.id.in_(entry_ids)))}
        if entry_ids
        else {}
    )
    reasons: dict[int, str] = {}
    for invoice in checked:
        basis = invoice.basis or {}
        known = set(basis.get("decisions", []))
        later = [d for d in by_gap[(invoice.client_id, invoice.period)] if d.id not in known]
        # an undo of a decision this draft carries (a back-bill carried from an earlier period) counts too
        later += [
            d
            for d in undos[invoice.client_id]
            if d.reverses_decision_id in known and d.id not in known and d.period != invoice.period
        ]
        later.sort(key=lambda d: d.id)
        changed = [
            int(key)
            for key, state in sorted(basis.get("time_entries", {}).items(), key=lambda item: int(item[0]))
            if int(key) not in entries or time_entry_state(entries[int(key)]) != state
        ]
        parts = []
        if later:
            first = later[0]
            parts.append(
                f"{len(later)} decision(s) recorded after it was built (first: #{first.id} {first.action} "
                f"by {first.author})"
            )
        if changed:
            parts.append(
                f"time entr{'y' if len(changed) == 1 else 'ies'} {', '.join(map(str, changed))} changed"
            )
        if parts:
            reasons[invoice.id] = "; ".join(parts)
    return reasons


def stale_reason(session: Session, invoice: Invoice) -> str | None:
    return stale_reasons(session, [invoice]).get(invoice.id)
