"""Reading the audit log for people: each event with the client(s) it concerns, found from its payload or
from the decision, invoice, time entries or batch it points at, so a search for a client finds its
approvals and pushes even when the event's own payload names only an invoice id."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditEvent, Client, Decision, Invoice, TimeEntry

# How many events a text search reads before filtering (newest first): the search resolves each
# event's client in Python, so an unbounded window would read the whole log.
SEARCH_WINDOW = 20_000


@dataclass(frozen=True)
class AuditRow:
    """One event as plain values (usable after the session closes) with the clients it concerns."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    payload_text: str
    payload: dict[str, Any]
    clients: tuple[str, ...]


def _payload(event: AuditEvent) -> dict[str, Any]:
    try:
        values = json.loads(event.payload or "{}")
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def _ids(values: object) -> list[int]:
    if not isinstance(values, list):
        return []
    return [int(value) for value in values if isinstance(value, int) and not isinstance(value, bool)]


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def event_clients(session: Session, events: Iterable[AuditEvent]) -> list[AuditRow]:
    """Each event with the names of the clients it concerns (empty for sign-ins, book imports…)."""
    parsed = [(event, _payload(event)) for event in events]
    decision_ids: set[int] = set()
    invoice_ids: set[int] = set()
    entry_ids: set[int] = set()
    for event, payload in parsed:
        number = _number(event.entity_id)
        if event.entity == "decision" and number is not None:
            decision_ids.add(number)
        elif event.entity == "invoice" and number is not None:
            invoice_ids.add(number)
        elif event.entity == "time_entry":
            entry_ids.update(_ids(payload.get("entries")))
            if number is not None:
                entry_ids.add(number)
        if event.entity == "batch":
            decision_ids.update(_ids(payload.get("decisions")))
    decisions = _client_of(session, Decision, decision_ids)
    invoices = _client_of(session, Invoice, invoice_ids)
    entries = _client_of(session, TimeEntry, entry_ids)
    wanted = {cid for cid in (*decisions.values(), *invoices.values(), *entries.values()) if cid is not None}
    names = (
        dict(session.execute(select(Client.id, Client.name).where(Client.id.in_(wanted))).all())
        if wanted
        else {}
    )
    rows = []
    for event, payload in parsed:
        found: list[str] = []
        if isinstance(payload.get("client"), str):
            found.append(payload["client"])
        number = _number(event.entity_id)
        client_ids: list[int | None] = []
        if event.entity == "decision" and number is not None:
            client_ids.append(decisions.get(number))
        elif event.entity == "invoice" and number is not None:
            client_ids.append(invoices.get(number))
        elif event.entity == "time_entry":
            client_ids.extend(entries.get(entry) for entry in [*_ids(payload.get("entries")), number or 0])
        elif event.entity == "batch":
            client_ids.extend(decisions.get(decision) for decision in _ids(payload.get("decisions")))
        for client_id in client_ids:
            name = names.get(client_id) if client_id is not None else None
            if name is not None and name not in found:
                found.append(name)
        rows.append(
            AuditRow(
                event.id,
                event.at,
                event.actor,
                event.action,
                event.entity,
                event.entity_id,
                event.payload,
                payload,
                tuple(found),
            )
        )
    return rows


def _client_of(session: Session, model: Any, ids: set[int]) -> dict[int, int | None]:
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.client_id).where(model.id.in_(ids))).all())


def search_events(
    session: Session,
    *,
    since: datetime,
    actor: str = "",
    action: str = "",
    text: str = "",
    limit: int = 1000,
    describe: Any = None,
) -> list[AuditRow]:
    """The newest events since `since`, optionally by one actor, of one kind (action prefix), and
    containing `text` (case-insensitive) in the payload, the entity id, a client's name or the line
    `describe(row)` shows for it."""
    query = select(AuditEvent).where(AuditEvent.at >= since).order_by(AuditEvent.id.desc())
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    needle = text.strip().lower()
    rows = event_clients(session, session.scalars(query.limit(SEARCH_WINDOW if needle else limit)))
    if not needle:
        return rows
    matched = []
    for row in rows:
        haystack = [row.payload_text, row.entity_id or "", row.action, *row.clients]
        if describe is not None:
            haystack.append(str(describe(row)))
        if any(needle in part.lower() for part in haystack):
            matched.append(row)
            if len(matched) >= limit:
                break
    return matched
