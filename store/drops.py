"""Counts that collapse are not believed blindly. A run in which an org × metric that had counts reports
none (or loses more than a configurable share) keeps the last good counts for it, and is held as
`suspicious` with the numbers until a person confirms the drop or the next run reports the same."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collectors.records import AgreementLine
from store.counts import KeyTuple, Totals, apply_counts
from store.models import CountKey, Observation, PsaContractLine, SyncRun

DEFAULT_DROP_SHARE = 0.5
Group = tuple[str, str]  # org external id, metric


@dataclass(frozen=True)
class Drop:
    org: str
    metric: str
    before: int
    after: int

    def describe(self) -> str:
        return f"{self.metric} of org {self.org}: {self.before:,} → {self.after:,}"


@dataclass(frozen=True)
class Held:
    """What a run held back: the drops, and the per-key counts to apply if a person confirms them."""

    drops: list[Drop]
    keys: list[tuple[str, str, str, int, int | None]]  # org, metric, attrs JSON, quantity, cost cents

    @property
    def groups(self) -> frozenset[Group]:
        return frozenset((drop.org, drop.metric) for drop in self.drops)

    def message(self, source: str, run_id: int, share: float) -> str:
        listed = "; ".join(drop.describe() for drop in self.drops[:10])
        more = f" and {len(self.drops) - 10} more" if len(self.drops) > 10 else ""
        return (
            f"{source}: suspicious drop, kept the last good counts: {listed}{more} (more than "
            f"{share:.0%} gone, or all of it). Confirm it on Sources or with `mcc sources confirm-drop "
            f"{run_id}`; the next run reporting the same also confirms it"
        )

    def to_json(self) -> str:
        return json.dumps(
            {"drops": [drop.__dict__ for drop in self.drops], "keys": [list(key) for key in self.keys]},
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str) -> Held:
        data = json.loads(text)
        return Held(
            [Drop(**drop) for drop in data["drops"]],
            [(k[0], k[1], k[2], int(k[3]), None if k[4] is None else int(k[4])) for k in data["keys"]],
        )


def last_counts(
    session: Session, source: str, metrics: tuple[str, ...]
) -> dict[KeyTuple, tuple[int, int | None]]:
    """The latest stored count (and cost) of every key of these metrics."""
    latest = (
        select(func.max(Observation.id))
        .join(CountKey, CountKey.id == Observation.key_id)
        .where(CountKey.source == source, CountKey.metric.in_(metrics))
        .group_by(Observation.key_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            CountKey.org_external_id,
            CountKey.metric,
            CountKey.attrs_json,
            Observation.quantity,
            Observation.cost_cents,
        )
        .join(Observation, Observation.key_id == CountKey.id)
        .where(Observation.id.in_(latest))
    ).all()
    return {(org, metric, attrs): (quantity, cost) for org, metric, attrs, quantity, cost in rows}


def collapsed(before: dict[Group, int], after: dict[Group, int], share: float) -> list[Drop]:
    """Each org × metric that had a count and now has none, or lost more than `share` of it."""
    return [
        Drop(org, metric, had, after.get((org, metric), 0))
        for (org, metric), had in sorted(before.items())
        if had > 0 and (after.get((org, metric), 0) == 0 or had - after.get((org, metric), 0) > share * had)
    ]


def find_line_drops(
    session: Session, source: str, lines: Iterable[AgreementLine], share: float
) -> Held | None:
    """The same rule for a PSA's agreement lines (per company): an empty listing never wipes them."""
    before: dict[Group, int] = defaultdict(int)
    for org in session.scalars(
        select(PsaContractLine.org_external_id).where(PsaContractLine.source == source)
    ):
        before[(org, "contract_lines")] += 1
    after: dict[Group, int] = defaultdict(int)
    for line in lines:
        after[(line.org, "contract_lines")] += 1
    drops = collapsed(before, after, share)
    return Held(drops, []) if drops else None


def find_drops(
    session: Session, source: str, metrics: tuple[str, ...], totals: dict[KeyTuple, Totals], share: float
) -> Held | None:
    """Compare this run's totals with the last good counts per org × metric (summed over attributes, so a
    device that changes class is not a drop). None when nothing collapsed."""
    if not metrics:
        return None
    before_keys = last_counts(session, source, metrics)
    before: dict[Group, int] = defaultdict(int)
    after: dict[Group, int] = defaultdict(int)
    for (org, metric, _), (quantity, _cost) in before_keys.items():
        before[(org, metric)] += quantity
    for (org, metric, _), total in totals.items():
        if metric in metrics:
            after[(org, metric)] += total.quantity
    drops = collapsed(before, after, share)
    if not drops:
        return None
    groups = {(drop.org, drop.metric) for drop in drops}
    keys = sorted({key for key in [*before_keys, *totals] if (key[0], key[1]) in groups})
    return Held(
        drops,
        [
            (
                org,
                metric,
                attrs,
                totals[(org, metric, attrs)].quantity,
                totals[(org, metric, attrs)].cost_cents,
            )
            if (org, metric, attrs) in totals
            else (org, metric, attrs, 0, None)
            for org, metric, attrs in keys
        ],
    )


def previous_agrees(session: Session, source: str, stream: str, run_id: int, held: Held) -> bool:
    """The run before this one was held for the same drops, to the same counts (or a person confirmed
    them and nothing was left to write, as for PSA agreement lines): two runs agree."""
    previous = session.scalar(
        select(SyncRun)
        .where(
            SyncRun.source == source,
            SyncRun.stream == stream,
            SyncRun.id < run_id,
            SyncRun.status.in_(("ok", "suspicious")),
        )
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    if previous is None or previous.drops is None:
        return False
    if previous.status != "suspicious" and previous.drop_confirmed_by is None:
        return False
    earlier = Held.from_json(previous.drops)
    return {(d.org, d.metric, d.after) for d in earlier.drops} == {
        (d.org, d.metric, d.after) for d in held.drops
    }


def later_run(session: Session, run: SyncRun) -> SyncRun | None:
    """A later completed run of the same stream (its counts are newer than the held ones)."""
    return session.scalar(
        select(SyncRun)
        .where(
            SyncRun.source == run.source,
            SyncRun.stream == run.stream,
            SyncRun.id > run.id,
            SyncRun.status.in_(("ok", "suspicious")),
        )
        .limit(1)
    )


def apply_held(session: Session, run: SyncRun, metrics: tuple[str, ...], at: datetime) -> Held:
    """Write a suspicious run's held counts (a person confirmed the drop)."""
    assert run.drops is not None
    held = Held.from_json(run.drops)
    apply_counts(
        session,
        source=run.source,
        metrics=metrics,
        values={
            (org, metric, attrs): Totals(Decimal(quantity), None if cost is None else Decimal(cost))
            for org, metric, attrs, quantity, cost in held.keys
        },
        at=at,
        run_id=run.id,
    )
    return held


@dataclass(frozen=True)
class SuspiciousRun:
    run_id: int
    source: str
    stream: str
    finished_at: datetime | None
    drops: list[Drop]


def open_suspicious_runs(session: Session) -> list[SuspiciousRun]:
    """Held runs no person has confirmed and no later run has settled: what Sources and Review show."""
    latest = (
        select(func.max(SyncRun.id))
        .where(SyncRun.status.in_(("ok", "suspicious")))
        .group_by(SyncRun.source, SyncRun.stream)
        .scalar_subquery()
    )
    runs = session.scalars(
        select(SyncRun).where(SyncRun.id.in_(latest), SyncRun.status == "suspicious").order_by(SyncRun.id)
    ).all()
    return [
        SuspiciousRun(run.id, run.source, run.stream, run.finished_at, Held.from_json(run.drops).drops)
        for run in runs
        if run.drops is not None
    ]


def as_payload(held: Held) -> dict[str, Any]:
    return {"drops": [drop.__dict__ for drop in held.drops]}
