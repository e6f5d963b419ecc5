"""Decisions on gaps and on unbilled time: each is one append-only Decision row plus one audit event,
committed together. The approver role is re-checked here, whatever the caller hid or showed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from mcc.config import Config
from mcc.errors import MccError
from mcc.money import MAX_QUANTITY, to_str
from mcc.permissions import Actor, require
from mcc.reconciliation import reconcile_period, resolve_period
from reconcile.periods import month_end, period_of
from store.audit import record_event
from store.db import transaction
from store.models import Client, ClientOrg, Contract, Decision, Entity, Exclusion, Product, TimeEntry
from store.types import utcnow

ACTIONS = ("bump", "back_bill", "write_off", "exclude", "defer")
BULK_ACTIONS = ("bump", "back_bill", "write_off", "defer")


class DecisionError(MccError):
    """A decision that cannot be taken as asked (unknown client, nothing to back-bill, bad date…)."""


@dataclass(frozen=True)
class GapFilter:
    """Which gaps a bulk decision covers; None means any."""

    status: str | None = None
    category: str | None = None
    product: str | None = None
    client: str | None = None
    max_amount_cents: int | None = None

    def apply(self, gaps: pl.DataFrame) -> pl.DataFrame:
        rows = gaps.filter(pl.col("client_id").is_not_null() & pl.col("open"))
        if self.status:
            rows = rows.filter(pl.col("status") == self.status)
        if self.category:
            rows = rows.filter(pl.col("category") == self.category)
        if self.product:
            rows = rows.filter(pl.col("product_code") == self.product)
        if self.client:
            rows = rows.filter(pl.col("client").str.to_lowercase() == self.client.lower())
        if self.max_amount_cents is not None:
            rows = rows.filter(pl.col("monthly_amount_cents").abs() <= self.max_amount_cents)
        return rows

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def find_client(session: Session, name: str) -> Client:
    """A client by name, case-insensitively; the error lists near names."""
    client = session.scalar(select(Client).where(func.lower(Client.name) == name.strip().lower()))
    if client is None:
        near = session.scalars(
            select(Client.name).where(Client.name.ilike(f"%{name.strip()[:20]}%")).limit(5)
        ).all()
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise DecisionError(f"no client named {name!r}{hint}")
    return client


def _product(session: Session, code: str) -> Product:
    product = session.scalar(select(Product).where(Product.code == code))
    if product is None:
        raise DecisionError(f"no product with code {code!r}")
    return product


def _gap_for(
    engine: Engine, config: Config | None, client_id: int, code: str, period: str
) -> dict[str, Any] | None:
    reconciliation = reconcile_period(engine, config or Config(), period)
    rows = reconciliation.gaps.filter((pl.col("client_id") == client_id) & (pl.col("product_code") == code))
    return rows.row(0, named=True) if rows.height else None


def _bump(
    session: Session, actor: Actor, decision: Decision, quantity: int, effective: date
) -> dict[str, Any]:
    lines = session.scalars(
        select(Contract).where(
            Contract.client_id == decision.client_id,
            Contract.product_id == decision.product_id,
            (Contract.end.is_(None)) | (Contract.end >= effective),
        )
    ).all()
    closed = []
    ends: dict[str, str | None] = {}  # what each closed line's end was, so an undo can put it back
    price = None
    for line in lines:
        if line.start >= effective:
            raise DecisionError(
                f"the contract line from {line.start} starts on or after {effective}; choose a later effective date"
            )
        ends[str(line.id)] = line.end.isoformat() if line.end else None
        line.end = effective - timedelta(days=1)
        price = line.unit_price_cents if line.unit_price_cents is not None else price
        closed.append(line.id)
    opened = Contract(
        client_id=decision.client_id,
        product_id=decision.product_id,
        quantity=quantity,
        unit_price_cents=price,
        start=effective,
        end=None,
        created_by=actor.username,
        decision_id=decision.id,
    )
    session.add(opened)
    session.flush()
    return {"closed_contracts": closed, "closed_ends": ends, "opened_contract": opened.id}


def _exclude(
    session: Session,
    actor: Actor,
    decision: Decision,
    entity_ids: list[str],
    where: dict[str, Any] | None,
    source: str | None,
    reason: str,
    start: date,
) -> dict[str, Any]:
    """Exclusions made on review apply from `start` on (the decision's period): earlier months keep the
    leakage they had."""
    created = []
    if entity_ids:
        orgs = select(ClientOrg.source, ClientOrg.external_id).where(
            ClientOrg.client_id == decision.client_id
        )
        known = {(s, o) for s, o in session.execute(orgs)}
        for external_id in entity_ids:
            found = [
                e
                for e in session.scalars(select(Entity).where(Entity.external_id == external_id))
                if (e.source, e.org_external_id) in known
            ]
            if not found:
                raise DecisionError(
                    f"entity {external_id!r} is not one of this client's devices, users or seats"
                )
            for source_name in sorted({e.source for e in found}):
                created.append(
                    Exclusion(
                        client_id=decision.client_id,
                        source=source_name,
                        entity_external_id=external_id,
                        reason=reason,
                        author=actor.username,
                        decision_id=decision.id,
                        start=start,
                    )
                )
    if where:
        if not source:
            raise DecisionError("an exclusion rule needs the source it applies to")
        created.append(
            Exclusion(
                client_id=decision.client_id,
                source=source,
                where=where,
                reason=reason,
                author=actor.username,
                decision_id=decision.id,
                start=start,
            )
        )
    if not created:
        raise DecisionError("exclude needs at least one entity id (or a rule)")
    session.add_all(created)
    session.flush()
    return {
        "exclusions": [e.id for e in created],
        "entities": entity_ids,
        "rule": where,
        "start": start.isoformat(),
    }


def _decide(
    session: Session,
    actor: Actor,
    *,
    client_id: int,
    product: Product,
    period: str,
    action: str,
    gap: dict[str, Any] | None,
    quantity: int | None,
    effective_date: date | None,
    note: str,
    entity_ids: list[str] | None,
    reason: str | None,
    where: dict[str, Any] | None,
    source: str | None,
    batch_id: str | None,
) -> Decision:
    client = session.get(Client, client_id)
    if client is None:
        raise DecisionError(f"no client with id {client_id}")
    first_day = resolve_period(period)
    gap = gap or {}
    back_bill_cents = int(gap.get("back_bill_cents") or 0)
    if action == "back_bill" and back_bill_cents <= 0:
        raise DecisionError(f"{client.name} / {product.code} has nothing to back-bill for {period}")
    if action == "bump":
        quantity = quantity if quantity is not None else gap.get("billable_qty")
        if quantity is None or quantity < 0:
            raise DecisionError("bump needs the approved quantity (a whole number ≥ 0)")
        if quantity > MAX_QUANTITY:
            raise DecisionError(f"bump quantity must be at most {MAX_QUANTITY:,}, got {quantity}")
        effective_date = effective_date or first_day
    if action == "exclude":
        # an exclusion applies from here on: earlier months keep their leakage (an earlier day excludes
        # those months too, for entities that were never billable)
        effective_date = effective_date or first_day
        if effective_date > month_end(first_day):
            raise DecisionError(
                f"an exclusion decided for {period} must start by {month_end(first_day)}, got {effective_date}"
            )
    snapshot = {k: v for k, v in gap.items() if k != "suggested_client"}
    decision = Decision(
        client_id=client.id,
        product_id=product.id,
        period=period_of(first_day),
        action=action,
        quantity=quantity,
        amount_cents=gap.get("monthly_amount_cents"),
        back_bill_cents=back_bill_cents if action == "back_bill" else None,
        effective_date=effective_date,
        note=note,
        author=actor.username,
        batch_id=batch_id,
        gap=snapshot,
    )
    session.add(decision)
    session.flush()
    effects: dict[str, Any] = {}
    if action == "bump":
        assert quantity is not None and effective_date is not None
        effects = _bump(session, actor, decision, quantity, effective_date)
    elif action == "exclude":
        effects = _exclude(
            session,
            actor,
            decision,
            entity_ids or [],
            where,
            source,
            reason or note or "excluded on review",
            effective_date or first_day,
        )
    record_event(
        session,
        actor=actor.username,
        action=f"decision.{action}",
        entity="decision",
        entity_id=decision.id,
        payload={
            "client": client.name,
            "product": product.code,
            "period": decision.period,
            "quantity": quantity,
            "monthly_amount": to_str(decision.amount_cents),
            "back_bill": to_str(decision.back_bill_cents),
            "back_bill_months": gap.get("back_bill_months") if action == "back_bill" else None,
            "effective_date": effective_date.isoformat() if effective_date else None,
            "note": note,
            "batch_id": batch_id,
            **effects,
        },
        decisions=[decision],
    )
    return decision


def decide(
    engine: Engine,
    actor: Actor | None,
    *,
    client_id: int,
    product_code: str,
    period: str,
    action: str,
    quantity: int | None = None,
    effective_date: date | None = None,
    note: str = "",
    entity_ids: list[str] | None = None,
    reason: str | None = None,
    batch_id: str | None = None,
    where: dict[str, Any] | None = None,
    source: str | None = None,
    gap: dict[str, Any] | None = None,
    config: Config | None = None,
) -> Decision:
    """Record one decision on the gap of `client_id` x `product_code` in `period`.

    bump closes the open contract line the day before `effective_date` (default: the period's first
    day) and opens one at `quantity` (default: the billable quantity); exclude creates exclusions for
    `entity_ids` (external ids) or a `where` rule on `source`; back_bill marks the gap's back-bill for
    the next invoice. `gap` is the gap as shown; when omitted it is reconciled afresh.
    """
    actor = require(actor, "approver", "decide gaps")
    if action not in ACTIONS:
        raise DecisionError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    period_text = period_of(resolve_period(period))
    if gap is None:
        with transaction(engine) as session:
            _product(session, product_code)  # an unknown code is reported before reconciling
        gap = _gap_for(engine, config, client_id, product_code, period_text)
    with transaction(engine) as session:
        product = _product(session, product_code)
        return _decide(
            session,
            actor,
            client_id=client_id,
            product=product,
            period=period_text,
            action=action,
            gap=gap,
            quantity=quantity,
            effective_date=effective_date,
            note=note,
            entity_ids=entity_ids,
            reason=reason,
            where=where,
            source=source,
            batch_id=batch_id,
        )


def decide_bulk(
    engine: Engine,
    actor: Actor | None,
    filter: GapFilter,
    action: str,
    note: str,
    *,
    config: Config | None = None,
    period: str | None = None,
    today: date | None = None,
) -> list[Decision]:
    """Decide every undecided gap of `period` matching `filter` with `action`: one Decision row and one
    audit event per gap, all sharing a batch id and the note, committed together (all or nothing)."""
    actor = require(actor, "approver", "decide gaps")
    if action not in BULK_ACTIONS:
        raise DecisionError(
            f"{action!r} cannot be decided in bulk; expected one of {', '.join(BULK_ACTIONS)}"
        )
    if action == "write_off" and not note.strip():
        raise DecisionError(
            "a bulk write-off needs a note saying why (it goes on every decision and the audit log)"
        )
    reconciliation = reconcile_period(engine, config or Config(), period, today=today)
    rows = filter.apply(reconciliation.gaps)
    if action == "back_bill":
        rows = rows.filter(pl.col("back_bill_cents") > 0)
    batch_id = uuid.uuid4().hex
    decisions = []
    with transaction(engine) as session:
        for gap in rows.iter_rows(named=True):
            decisions.append(
                _decide(
                    session,
                    actor,
                    client_id=gap["client_id"],
                    product=_product(session, gap["product_code"]),
                    period=reconciliation.period,
                    action=action,
                    gap=gap,
                    quantity=None,
                    effective_date=None,
                    note=note,
                    entity_ids=None,
                    reason=None,
                    where=None,
                    source=None,
                    batch_id=batch_id,
                )
            )
        record_event(
            session,
            actor=actor.username,
            action="decision.bulk",
            entity="batch",
            entity_id=batch_id,
            payload={
                "action": action,
                "period": reconciliation.period,
                "filter": filter.describe(),
                "note": note,
                "decisions": [d.id for d in decisions],
            },
        )
    return decisions


def _time_entries(session: Session, entry_ids: list[int]) -> list[TimeEntry]:
    if not entry_ids:
        raise DecisionError("no time entries given")
    entries = session.scalars(select(TimeEntry).where(TimeEntry.id.in_(entry_ids))).all()
    missing = sorted(set(entry_ids) - {e.id for e in entries})
    if missing:
        raise DecisionError(f"no time entry with id {', '.join(map(str, missing))}")
    for entry in entries:
        if entry.invoice_id is not None or entry.vendor_invoiced:
            raise DecisionError(f"time entry {entry.id} ({entry.day}, {entry.person}) is already invoiced")
        if entry.written_off_at is not None:
            raise DecisionError(f"time entry {entry.id} ({entry.day}, {entry.person}) is already written off")
    return list(entries)


def _mark_time(engine: Engine, actor: Actor | None, entry_ids: list[int], note: str, verb: str) -> int:
    """Approve (`approve`) or write off (`write_off`) unbilled time entries, with one audit event."""
    actor = require(actor, "approver", f"{verb.replace('_', ' ')} time")
    with transaction(engine) as session:
        entries = _time_entries(session, entry_ids)
        now = utcnow()
        for entry in entries:
            if verb == "approve":
                entry.approved_by, entry.approved_at = actor.username, now
            else:
                entry.written_off_by, entry.written_off_at = actor.username, now
        record_event(
            session,
            actor=actor.username,
            action=f"time.{verb}",
            entity="time_entry",
            entity_id=entries[0].id if len(entries) == 1 else None,
            payload={
                "entries": [e.id for e in entries],
                "hours": str(sum(e.hours for e in entries)),
                "note": note,
            },
        )
    return len(entries)


def approve_time(engine: Engine, actor: Actor | None, entry_ids: list[int], note: str = "") -> int:
    """Approve unbilled time entries for the next invoice; returns how many."""
    return _mark_time(engine, actor, entry_ids, note, "approve")


def write_off_time(engine: Engine, actor: Actor | None, entry_ids: list[int], note: str = "") -> int:
    """Write off unbilled time entries (they leave the unbilled list for good); returns how many."""
    return _mark_time(engine, actor, entry_ids, note, "write_off")
