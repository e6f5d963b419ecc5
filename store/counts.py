"""Writing what a successful sync produced: orgs, entities, counts on change, and the daily and monthly
rollups, in one short transaction after all fetching is done."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from collectors.records import Batch
from collectors.records import Entity as EntityRecord
from mcc.money import round_cents
from store.models import (
    ClientOrg,
    CountKey,
    DailyCount,
    Entity,
    MonthlyCount,
    Observation,
    SourceOrg,
    StagedEntity,
    TimeEntry,
)

KeyTuple = tuple[str, str, str]  # org external id, metric, canonical attrs JSON


def attrs_json(attrs: Iterable[tuple[str, str]]) -> str:
    return json.dumps(dict(sorted(attrs)), sort_keys=True, separators=(",", ":"))


@dataclass
class Totals:
    """A key's exact quantity and vendor cost; stored as whole units (a part of a unit is billed as one)
    and cents rounded once, half away from zero."""

    exact_quantity: Decimal = Decimal(0)
    exact_cost_cents: Decimal | None = None

    def add(self, quantity: int | Decimal, unit_cost_cents: int | None) -> None:
        self.exact_quantity += quantity
        if unit_cost_cents is not None:
            self.exact_cost_cents = (self.exact_cost_cents or Decimal(0)) + quantity * unit_cost_cents

    @property
    def quantity(self) -> int:
        return int(self.exact_quantity.to_integral_value(rounding=ROUND_CEILING))

    @property
    def cost_cents(self) -> int | None:
        return None if self.exact_cost_cents is None else round_cents(self.exact_cost_cents)


@dataclass(frozen=True)
class WriteStats:
    orgs: int
    keys: int
    changed: int
    entities: int
    time_entries: int


def aggregate(batch: Batch) -> dict[KeyTuple, Totals]:
    """Quantity (and vendor cost) per org × metric × attributes: one per entity, plus vendor-stated counts."""
    totals: dict[KeyTuple, Totals] = defaultdict(Totals)
    for entity in batch.entities.values():
        totals[(entity.org, entity.metric, attrs_json(entity.attrs))].add(1, None)
    for count in batch.counts:
        totals[(count.org, count.metric, attrs_json(count.attrs))].add(count.quantity, count.unit_cost_cents)
    return dict(totals)


def _upsert_orgs(session: Session, source: str, batch: Batch, at: datetime, extra: Iterable[str] = ()) -> int:
    names = {org.external_id: org.name for org in batch.orgs.values()}
    referenced = [e.org for e in batch.entities.values()] + [c.org for c in batch.counts] + list(extra)
    for org in referenced + [t.org for t in batch.time_entries.values()]:
        names.setdefault(org, org)
    existing = {
        row.external_id: row
        for row in session.scalars(
            select(SourceOrg).where(SourceOrg.source == source, SourceOrg.external_id.in_(names))
        )
    }
    for external_id, name in names.items():
        row = existing.get(external_id)
        if row is None:
            session.add(
                SourceOrg(source=source, external_id=external_id, name=name, first_seen=at, last_seen=at)
            )
        else:
            row.last_seen = at
            if name != external_id:
                row.name = name
    return len(names)


def _key_ids(
    session: Session, source: str, metrics: tuple[str, ...], wanted: Iterable[KeyTuple]
) -> dict[KeyTuple, int]:
    keys = {
        (row.org_external_id, row.metric, row.attrs_json): row.id
        for row in session.scalars(
            select(CountKey).where(CountKey.source == source, CountKey.metric.in_(metrics))
        )
    }
    for key in wanted:
        if key not in keys:
            row = CountKey(source=source, org_external_id=key[0], metric=key[1], attrs_json=key[2])
            session.add(row)
            session.flush()
            keys[key] = row.id
    return keys


def _month(day: date) -> date:
    return day.replace(day=1)


def _roll_up(session: Session, values: dict[int, Totals], day: date) -> None:
    """Daily: end-of-day count and peak. Monthly: end, peak, and the day-sum (days without a sync carry the
    previous end-of-day count forward) that average and proration read."""
    ids = list(values)
    daily = {
        row.key_id: row
        for row in session.scalars(
            select(DailyCount).where(DailyCount.day == day, DailyCount.key_id.in_(ids))
        )
    }
    monthly = {
        row.key_id: row
        for row in session.scalars(
            select(MonthlyCount).where(MonthlyCount.month == _month(day), MonthlyCount.key_id.in_(ids))
        )
    }
    for key_id, totals in values.items():
        quantity, cost = totals.quantity, totals.cost_cents
        row = daily.get(key_id)
        if row is None:
            session.add(
                DailyCount(key_id=key_id, day=day, qty_end=quantity, qty_peak=quantity, cost_cents=cost)
            )
        else:
            row.qty_end, row.qty_peak, row.cost_cents = quantity, max(row.qty_peak, quantity), cost
        month = monthly.get(key_id)
        if month is None:
            session.add(
                MonthlyCount(
                    key_id=key_id,
                    month=_month(day),
                    qty_end=quantity,
                    qty_peak=quantity,
                    qty_day_sum=quantity,
                    days=1,
                    first_day=day,
                    last_day=day,
                    cost_cents=cost,
                )
            )
            continue
        if day == month.last_day:
            month.qty_day_sum += quantity - month.qty_end
        elif day > month.last_day:
            carried = (day - month.last_day).days - 1
            month.qty_day_sum += month.qty_end * carried + quantity
            month.days = (day - month.first_day).days + 1
            month.last_day = day
        else:  # a late observation for an earlier day does not rewrite the month's end
            continue
        month.qty_end, month.qty_peak, month.cost_cents = quantity, max(month.qty_peak, quantity), cost


def _observe(session: Session, values: dict[int, Totals], at: datetime, run_id: int | None) -> int:
    latest_ids = (
        select(func.max(Observation.id))
        .where(Observation.key_id.in_(list(values)))
        .group_by(Observation.key_id)
        .scalar_subquery()
    )
    last = {
        row.key_id: (row.quantity, row.cost_cents)
        for row in session.scalars(select(Observation).where(Observation.id.in_(latest_ids)))
    }
    changed = 0
    for key_id, totals in values.items():
        if last.get(key_id) != (totals.quantity, totals.cost_cents):
            session.add(
                Observation(
                    key_id=key_id,
                    observed_at=at,
                    quantity=totals.quantity,
                    cost_cents=totals.cost_cents,
                    sync_run_id=run_id,
                )
            )
            changed += 1
    return changed


def _upsert_entities(
    session: Session,
    source: str,
    metrics: tuple[str, ...],
    batch: Batch,
    keys: dict[KeyTuple, int],
    at: datetime,
) -> None:
    existing = {
        (row.metric, row.external_id): row
        for row in session.scalars(select(Entity).where(Entity.source == source, Entity.metric.in_(metrics)))
    }
    for (metric, external_id), record in batch.entities.items():
        key_id = keys[(record.org, metric, attrs_json(record.attrs))]
        attrs = {**dict(record.details), **dict(record.attrs)}
        row = existing.get((metric, external_id))
        if row is None:
            session.add(
                Entity(
                    source=source,
                    metric=metric,
                    external_id=external_id,
                    org_external_id=record.org,
                    key_id=key_id,
                    name=record.name[:200],
                    attrs=attrs,
                    first_seen=at,
                    last_seen=at,
                )
            )
        else:
            row.org_external_id, row.key_id, row.name, row.attrs, row.last_seen = (
                record.org,
                key_id,
                record.name[:200],
                attrs,
                at,
            )


def _upsert_time(session: Session, source: str, batch: Batch) -> int:
    if not batch.time_entries:
        return 0
    # A Result has keys() (its column names), so dict(result) would read it as a mapping: build it by row.
    clients = {
        external_id: client_id
        for external_id, client_id in session.execute(
            select(ClientOrg.external_id, ClientOrg.client_id).where(ClientOrg.source == source)
        )
    }
    existing = {
        row.external_id: row
        for row in session.scalars(
            select(TimeEntry).where(TimeEntry.source == source, TimeEntry.external_id.in_(batch.time_entries))
        )
    }
    for external_id, entry in batch.time_entries.items():
        row = existing.get(external_id)
        if row is not None and row.invoice_id is not None:
            continue  # already invoiced: what was billed stays as billed
        values = dict(
            org_external_id=entry.org,
            client_id=clients.get(entry.org),
            day=entry.day,
            person=entry.person[:200],
            hours=entry.hours,
            rate_cents=entry.rate_cents,
            rate=entry.rate,
            billable=entry.billable,
            note=entry.note,
            vendor_invoiced=entry.vendor_invoiced,
        )
        if row is None:
            session.add(TimeEntry(source=source, external_id=external_id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
    return len(batch.time_entries)


def apply_counts(
    session: Session,
    *,
    source: str,
    metrics: tuple[str, ...],
    values: dict[KeyTuple, Totals],
    at: datetime,
    run_id: int | None,
) -> int:
    """Record these keys' counts as of `at` (observations on change, daily and monthly rollups)."""
    keys = _key_ids(session, source, metrics, values)
    by_id = {keys[key]: totals for key, totals in values.items()}
    if not by_id:
        return 0
    changed = _observe(session, by_id, at, run_id)
    _roll_up(session, by_id, at.date())
    return changed


def _write_counts(
    session: Session,
    source: str,
    metrics: tuple[str, ...],
    totals: dict[KeyTuple, Totals],
    at: datetime,
    run_id: int | None,
    hold: frozenset[tuple[str, str]],
) -> tuple[dict[KeyTuple, int], int, int]:
    """A run's counts: every key it saw, and every key of `metrics` it no longer saw (now 0), except held
    org × metric pairs; observations on change and the rollups. Returns (key ids, keys written, changed)."""
    keys = _key_ids(session, source, metrics, totals)
    values = {
        key_id: totals.get(key, Totals())
        for key, key_id in keys.items()
        if (key[1] in metrics or key in totals) and (key[0], key[1]) not in hold
    }
    changed = 0
    if values:
        changed = _observe(session, values, at, run_id)
        _roll_up(session, values, at.date())
    return keys, len(values), changed


def write_batch(
    session: Session,
    *,
    source: str,
    metrics: tuple[str, ...],
    batch: Batch,
    at: datetime,
    run_id: int | None,
    hold: frozenset[tuple[str, str]] = frozenset(),
) -> WriteStats:
    """Everything one successful run of one stream saw. Keys of `metrics` it no longer saw drop to 0.
    Keys of a held org × metric (a suspicious drop, store/drops.py) keep their last counts."""
    orgs = _upsert_orgs(session, source, batch, at)
    totals = aggregate(batch)
    keys, written, changed = _write_counts(session, source, metrics, totals, at, run_id, hold)
    _upsert_entities(session, source, metrics, batch, keys, at)
    time_entries = _upsert_time(session, source, batch)
    return WriteStats(
        orgs=orgs, keys=written, changed=changed, entities=len(batch.entities), time_entries=time_entries
    )


def stage_entities(session: Session, run_id: int, entities: Iterable[EntityRecord]) -> int:
    """Hold a bounded batch of a running sync's entities under its run. An entity read again later in the
    run replaces its earlier row (the last reading wins, as within one batch)."""
    rows = {(record.metric, record.external_id): record for record in entities}
    if not rows:
        return 0
    for metric in {metric for metric, _ in rows}:
        ids = [external_id for m, external_id in rows if m == metric]
        session.execute(
            delete(StagedEntity).where(
                StagedEntity.run_id == run_id,
                StagedEntity.metric == metric,
                StagedEntity.external_id.in_(ids),
            )
        )
    session.execute(
        insert(StagedEntity),
        [
            {
                "run_id": run_id,
                "metric": metric,
                "external_id": external_id,
                "org_external_id": record.org,
                "key_attrs_json": attrs_json(record.attrs),
                "name": record.name[:200],
                "attrs": {**dict(record.details), **dict(record.attrs)},
            }
            for (metric, external_id), record in rows.items()
        ],
    )
    return len(rows)


def drop_staged(session: Session, run_id: int) -> None:
    session.execute(delete(StagedEntity).where(StagedEntity.run_id == run_id))


def staged_totals(session: Session, run_id: int, batch: Batch) -> dict[KeyTuple, Totals]:
    """What `aggregate` gives for the whole run: one per staged entity, plus the vendor-stated counts."""
    totals: dict[KeyTuple, Totals] = defaultdict(Totals)
    grouped = session.execute(
        select(
            StagedEntity.org_external_id,
            StagedEntity.metric,
            StagedEntity.key_attrs_json,
            func.count(),
        )
        .where(StagedEntity.run_id == run_id)
        .group_by(StagedEntity.org_external_id, StagedEntity.metric, StagedEntity.key_attrs_json)
    )
    for org, metric, key_attrs, units in grouped:
        totals[(org, metric, key_attrs)].add(units, None)
    for entity in batch.entities.values():  # not staged yet
        totals[(entity.org, entity.metric, attrs_json(entity.attrs))].add(1, None)
    for count in batch.counts:
        totals[(count.org, count.metric, attrs_json(count.attrs))].add(count.quantity, count.unit_cost_cents)
    return dict(totals)


def _apply_staged(
    session: Session, source: str, run_id: int, keys: dict[KeyTuple, int], at: datetime, chunk: int
) -> int:
    """Entities from the run's staged rows, a bounded chunk at a time so memory stays flat."""
    applied, after = 0, 0
    while True:
        staged = list(
            session.scalars(
                select(StagedEntity)
                .where(StagedEntity.run_id == run_id, StagedEntity.id > after)
                .order_by(StagedEntity.id)
                .limit(chunk)
            )
        )
        if not staged:
            return applied
        after = staged[-1].id
        existing = {
            (row.metric, row.external_id): row
            for metric in {record.metric for record in staged}
            for row in session.scalars(
                select(Entity).where(
                    Entity.source == source,
                    Entity.metric == metric,
                    Entity.external_id.in_([s.external_id for s in staged if s.metric == metric]),
                )
            )
        }
        for record in staged:
            key_id = keys[(record.org_external_id, record.metric, record.key_attrs_json)]
            row = existing.get((record.metric, record.external_id))
            if row is None:
                session.add(
                    Entity(
                        source=source,
                        metric=record.metric,
                        external_id=record.external_id,
                        org_external_id=record.org_external_id,
                        key_id=key_id,
                        name=record.name,
                        attrs=record.attrs,
                        first_seen=at,
                        last_seen=at,
                    )
                )
            else:
                row.org_external_id, row.key_id, row.name, row.attrs, row.last_seen = (
                    record.org_external_id,
                    key_id,
                    record.name,
                    record.attrs,
                    at,
                )
        applied += len(staged)
        session.flush()
        session.expunge_all()  # what is flushed need not stay in memory


def write_staged(
    session: Session,
    *,
    source: str,
    metrics: tuple[str, ...],
    batch: Batch,
    totals: dict[KeyTuple, Totals],
    at: datetime,
    run_id: int,
    hold: frozenset[tuple[str, str]] = frozenset(),
    chunk: int = 5000,
) -> WriteStats:
    """`write_batch` for a run whose entities were staged (`stage_entities`) while it read: the same store
    afterwards, with the staged rows applied and then deleted. `batch` holds the rest of the run (orgs,
    vendor-stated counts, time entries) and no entities; `totals` is `staged_totals` of the run."""
    assert not batch.entities, "stage a run's entities before its switch-over"
    staged_orgs = session.scalars(
        select(StagedEntity.org_external_id).where(StagedEntity.run_id == run_id).distinct()
    )
    orgs = _upsert_orgs(session, source, batch, at, extra=staged_orgs)
    keys, written, changed = _write_counts(session, source, metrics, totals, at, run_id, hold)
    session.flush()
    entities = _apply_staged(session, source, run_id, keys, at, chunk)
    time_entries = _upsert_time(session, source, batch)
    drop_staged(session, run_id)
    return WriteStats(orgs=orgs, keys=written, changed=changed, entities=entities, time_entries=time_entries)


def history_rows(
    key_id: int, series: list[tuple[date, int, int | None]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Daily and monthly rollup rows (as dicts for a bulk insert) for a run of past end-of-day counts
    `(day, quantity, cost_cents)` of a key that has none yet; days without a count carry the previous
    one forward, as the live rollup does."""
    daily: list[dict[str, Any]] = []
    months: dict[date, dict[str, Any]] = {}
    for day, quantity, cost in sorted(series, key=lambda item: item[0]):
        daily.append(
            {"key_id": key_id, "day": day, "qty_end": quantity, "qty_peak": quantity, "cost_cents": cost}
        )
        month = months.get(_month(day))
        if month is None:
            months[_month(day)] = {
                "key_id": key_id,
                "month": _month(day),
                "qty_end": quantity,
                "qty_peak": quantity,
                "qty_day_sum": quantity,
                "days": 1,
                "first_day": day,
                "last_day": day,
                "cost_cents": cost,
            }
            continue
        month["qty_day_sum"] += month["qty_end"] * ((day - month["last_day"]).days - 1) + quantity
        month["days"], month["last_day"] = (day - month["first_day"]).days + 1, day
        month["qty_end"], month["qty_peak"], month["cost_cents"] = (
            quantity,
            max(month["qty_peak"], quantity),
            cost,
        )
    return daily, list(months.values())
