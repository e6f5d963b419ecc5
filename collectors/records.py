"""The normalised records every collector yields: small frozen dataclasses defined once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


def freeze(attrs: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Attributes as a sorted tuple of string pairs, so equal attribute sets compare and hash equal."""
    return tuple(sorted((str(key), _text(value)) for key, value in (attrs or {}).items()))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Org:
    """An external organisation (NinjaOne organization, Datto site, M365 tenant, Pax8 company...)."""

    external_id: str
    name: str


@dataclass(frozen=True)
class Count:
    """A quantity the vendor reports directly (e.g. licences consumed per SKU, Pax8 subscription units).

    Counts with the same org, metric and attributes are summed. `unit_cost_cents` is the vendor's
    cost per unit where the vendor states it (Pax8), else None. `quantity` is exact: a vendor that
    sells fractions (a Pax8 subscription of 2.5 units) gives a Decimal, summed exactly per key and
    turned into whole billing units once, when stored.
    """

    org: str
    metric: str
    quantity: int | Decimal
    attrs: tuple[tuple[str, str], ...] = ()
    unit_cost_cents: int | None = None

    @classmethod
    def of(
        cls,
        org: str,
        metric: str,
        quantity: int | Decimal,
        attrs: dict[str, Any] | None = None,
        unit_cost_cents: int | None = None,
    ) -> Count:
        exact = (
            quantity if isinstance(quantity, Decimal) and quantity != quantity.to_integral_value() else None
        )
        return cls(
            str(org), metric, exact if exact is not None else int(quantity), freeze(attrs), unit_cost_cents
        )


@dataclass(frozen=True)
class Entity:
    """One countable thing (a device, user, mailbox, agent, seat). Each entity counts as one unit of
    `metric` under its `attrs`; `details` are shown to people but never used for counting."""

    org: str
    metric: str
    external_id: str
    name: str
    attrs: tuple[tuple[str, str], ...] = ()
    details: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        org: str,
        metric: str,
        external_id: str,
        name: str,
        attrs: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> Entity:
        return cls(
            str(org), metric, str(external_id), name or str(external_id), freeze(attrs), freeze(details)
        )


@dataclass(frozen=True)
class TimeEntry:
    """A time entry from a time-tracking tool (or the native timer)."""

    external_id: str
    org: str
    day: date
    person: str
    hours: Decimal
    rate_cents: int | None
    billable: bool
    note: str = ""
    vendor_invoiced: bool = False
    # The hourly rate exactly as the source gave it ("123.455"); rate_cents is it in whole cents.
    rate: Decimal | None = None


@dataclass(frozen=True)
class AgreementLine:
    """A recurring line of a client's agreement in a PSA: what the client is contracted for.

    `product` is the PSA's product identifier; `billed` is False for lines the PSA marks as not billed
    to the customer (kept so a preview can say why they were left out). Money is exact: Decimal here,
    cents once it reaches the book.
    """

    external_id: str
    org: str
    product: str
    quantity: Decimal
    unit_price: Decimal
    unit_cost: Decimal | None
    start: date | None
    end: date | None
    billed: bool = True
    description: str = ""
    agreement: str = ""


@dataclass(frozen=True)
class Notice:
    """A record the collector skipped or read with doubt, located so a person can find it at the vendor
    (e.g. "subscription 5f0c…: quantity 'many' is not a number; skipped"). Stored on the sync run."""

    message: str


Record = Org | Count | Entity | TimeEntry | AgreementLine | Notice


@dataclass
class Batch:
    """Everything one successful run of one stream produced, grouped for the writer."""

    orgs: dict[str, Org] = field(default_factory=dict)
    counts: list[Count] = field(default_factory=list)
    entities: dict[tuple[str, str], Entity] = field(default_factory=dict)
    time_entries: dict[str, TimeEntry] = field(default_factory=dict)
    agreement_lines: dict[str, AgreementLine] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)

    def add(self, record: Record) -> None:
        if isinstance(record, Org):
            self.orgs[record.external_id] = record
        elif isinstance(record, Count):
            self.counts.append(record)
        elif isinstance(record, Entity):
            self.entities[(record.metric, record.external_id)] = record
        elif isinstance(record, TimeEntry):
            self.time_entries[record.external_id] = record
        elif isinstance(record, AgreementLine):
            self.agreement_lines[record.external_id] = record
        elif isinstance(record, Notice):
            self.notices.append(record)
        else:  # pragma: no cover - a collector bug, not bad vendor data
            raise TypeError(f"not a record: {record!r}")

    @property
    def size(self) -> int:
        return (
            len(self.orgs)
            + len(self.counts)
            + len(self.entities)
            + len(self.time_entries)
            + len(self.agreement_lines)
        )
