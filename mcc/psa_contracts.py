"""Contracts from the PSA: a preview of what the PSA's agreements would change in the book, applied
only when a person confirms it.

The PSA is the source of truth for the clients and products it lists; book lines stay for everything
else. A book line typed by hand that disagrees with the PSA is a conflict: shown, and left alone unless
the person applying says to take the PSA's figure.

Rules (each is visible in the preview):
- A PSA company maps to a client like any organisation (`orgs` in the book); a PSA product maps to the
  MCC product whose code equals its identifier (case-insensitive). Unmapped ones are listed.
- Lines the PSA does not bill to the customer, and fractional quantities, are listed as skipped.
- A new line starts on the PSA's effective date (never before the day after the pair's last book
  line); a changed line closes the open one on the last day of the previous month and starts on the
  first day of the current one; a line from this PSA that the PSA no longer lists ends yesterday.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from mcc.config import Config
from mcc.errors import MccError
from mcc.money import MAX_QUANTITY, MAX_UNIT_PRICE, round_cents
from mcc.permissions import Actor, require
from store.audit import record_event
from store.db import reading, transaction
from store.models import Contract, PsaContractLine
from store.psa import agreement_lines, contract_lines, open_on, org_clients, org_names, products_by_code


class PsaContractsError(MccError):
    pass


def month_start(day: date) -> date:
    return day.replace(day=1)


@dataclass(frozen=True)
class ContractChange:
    kind: str  # added | changed | closed | conflict | unchanged
    client: str
    product: str
    old_quantity: int | None
    new_quantity: int | None
    old_unit_price_cents: int | None
    new_unit_price_cents: int | None
    start: date | None
    end: date | None
    monthly_delta_cents: int
    psa_line: str | None
    note: str = ""
    client_id: int = 0
    product_id: int = 0
    contract_id: int | None = None


@dataclass
class ContractPreview:
    source: str
    today: date
    changes: list[ContractChange] = field(default_factory=list)
    unmapped_orgs: list[tuple[str, str]] = field(default_factory=list)  # (PSA company id, name)
    unmapped_products: list[tuple[str, int]] = field(default_factory=list)  # (identifier, lines)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (PSA line, reason)

    def of_kind(self, *kinds: str) -> list[ContractChange]:
        return [change for change in self.changes if change.kind in kinds]

    @property
    def pending(self) -> list[ContractChange]:
        """What applying would change (conflicts only when the PSA's figure is taken)."""
        return self.of_kind("added", "changed", "closed", "conflict")

    def summary(self) -> dict[str, Any]:
        counts = {kind: len(self.of_kind(kind)) for kind in ("added", "changed", "closed", "conflict")}
        return {
            "source": self.source,
            **counts,
            "monthly_delta": str(Decimal(sum(c.monthly_delta_cents for c in self.pending)) / 100),
            "unmapped_orgs": len(self.unmapped_orgs),
            "unmapped_products": len(self.unmapped_products),
            "skipped": len(self.skipped),
        }


def psa_sources(config: Config) -> list[str]:
    """The configured sources that list contracts (PSAs)."""
    return [
        source.name
        for source in config.sources
        if any(stream.contracts for stream in source.collector.streams.values())
    ]


def _psa_source(config: Config, name: str) -> None:
    source = config.source(name)
    if not any(stream.contracts for stream in source.collector.streams.values()):
        raise PsaContractsError(f"source {name!r} ({source.kind}) does not list contracts; pick a PSA source")


def _cents(value: Decimal, where: str) -> int:
    if abs(value) > MAX_UNIT_PRICE:
        raise PsaContractsError(f"{where}: unit price {value} is beyond {MAX_UNIT_PRICE}")
    return round_cents(value * 100)


def _origin(source: str, line: str) -> str:
    return f"psa:{source}:{line}"


def _wanted(
    preview: ContractPreview, lines: list[PsaContractLine], session: Session
) -> dict[tuple[int, int], tuple[Any, Any, int, int, PsaContractLine]]:
    """(client id, product id) → (client, product, quantity, unit price cents, first line) from the PSA."""
    clients = org_clients(session, preview.source)
    products = products_by_code(session)
    names = org_names(session, preview.source)
    unmapped_orgs: dict[str, str] = {}
    unmapped_products: dict[str, int] = defaultdict(int)
    wanted: dict[tuple[int, int], tuple[Any, Any, int, int, PsaContractLine]] = {}
    for line in lines:
        ref = f"{line.agreement} / {line.product} ({line.external_id})"
        if not line.billed:
            preview.skipped.append((ref, "not billed to the customer in the PSA"))
            continue
        if line.end is not None and line.end < preview.today:
            continue  # ended: a book line from it is closed below
        client = clients.get(line.org_external_id)
        if client is None:
            unmapped_orgs[line.org_external_id] = names.get(line.org_external_id, line.org_external_id)
            continue
        product = products.get(line.product.strip().casefold())
        if product is None:
            unmapped_products[line.product] += 1
            continue
        if line.quantity != line.quantity.to_integral_value() or not 0 <= line.quantity <= MAX_QUANTITY:
            preview.skipped.append((ref, f"quantity {line.quantity} is not a whole number of units"))
            continue
        price = _cents(line.unit_price, ref)
        key = (client.id, product.id)
        if key in wanted:
            _, _, quantity, other_price, first = wanted[key]
            if other_price != price:
                preview.skipped.append(
                    (ref, f"{product.code} is also on {first.external_id} at another price")
                )
                continue
            wanted[key] = (client, product, quantity + int(line.quantity), price, first)
        else:
            wanted[key] = (client, product, int(line.quantity), price, line)
    preview.unmapped_orgs = sorted(unmapped_orgs.items())
    preview.unmapped_products = sorted(unmapped_products.items())
    return wanted


def build_preview(session: Session, config: Config, source: str, today: date) -> ContractPreview:
    _psa_source(config, source)
    preview = ContractPreview(source=source, today=today)
    wanted = _wanted(preview, agreement_lines(session, source), session)
    clients = org_clients(session, source)
    by_pair: dict[tuple[int, int], list[Contract]] = defaultdict(list)
    for contract in contract_lines(session, {client.id for client in clients.values()}):
        by_pair[(contract.client_id, contract.product_id)].append(contract)
    client_names = {client.id: client.name for client in clients.values()}
    codes = {product.id: product.code for product in products_by_code(session).values()}
    product_prices = {product.id: product.unit_price_cents for product in products_by_code(session).values()}
    prefix = _origin(source, "")
    for key, (client, product, quantity, price, line) in sorted(wanted.items()):
        existing = by_pair.get(key, [])
        current = open_on(existing, today)
        if current is None:
            last_end = max((c.end for c in existing if c.end is not None), default=None)
            start = line.start or month_start(today)
            if last_end is not None and start <= last_end:
                start = last_end + timedelta(days=1)
            preview.changes.append(
                ContractChange(
                    "added",
                    client.name,
                    product.code,
                    None,
                    quantity,
                    None,
                    price,
                    start,
                    line.end,
                    quantity * price,
                    line.external_id,
                    client_id=client.id,
                    product_id=product.id,
                )
            )
            continue
        old_price = (
            current.unit_price_cents if current.unit_price_cents is not None else product.unit_price_cents
        )
        same = current.quantity == quantity and old_price == price and current.end == line.end
        if same:
            kind = "unchanged"
        elif (current.origin or "").startswith(prefix):
            kind = "changed"
        else:
            kind = "conflict"
        note = "" if kind != "conflict" else "the book's line was not set from this PSA"
        preview.changes.append(
            ContractChange(
                kind,
                client.name,
                product.code,
                current.quantity,
                quantity,
                old_price,
                price,
                max(month_start(today), current.start + timedelta(days=1)),
                line.end,
                quantity * price - current.quantity * old_price,
                line.external_id,
                note,
                client.id,
                product.id,
                current.id,
            )
        )
    for (client_id, product_id), existing in sorted(by_pair.items()):
        current = open_on(existing, today)
        if (
            current is None
            or (client_id, product_id) in wanted
            or not (current.origin or "").startswith(prefix)
        ):
            continue
        old_price = (
            current.unit_price_cents if current.unit_price_cents is not None else product_prices[product_id]
        )
        preview.changes.append(
            ContractChange(
                "closed",
                client_names.get(client_id, str(client_id)),
                codes.get(product_id, str(product_id)),
                current.quantity,
                None,
                old_price,
                None,
                None,
                today - timedelta(days=1),
                -current.quantity * old_price,
                (current.origin or "")[len(prefix) :],
                "the PSA no longer lists this line",
                client_id,
                product_id,
                current.id,
            )
        )
    return preview


def preview(engine: Engine, config: Config, source: str, *, today: date | None = None) -> ContractPreview:
    """What applying the PSA's last read would change, without changing anything."""
    with reading(engine) as session:
        return build_preview(session, config, source, today or date.today())


CHANGE_WORDS = (("added", "added"), ("changed", "changed"), ("closed", "closed"), ("conflict", "conflict"))


def change_notice(preview: ContractPreview) -> str | None:
    """One line for a sync's output and the worker's log, or None when the book agrees with the PSA:
    `PSA contracts changed: 3 added, 1 conflict — run `mcc contracts sync psa``. Nothing is applied."""
    parts = []
    for kind, word in CHANGE_WORDS:
        found = len(preview.of_kind(kind))
        if found:
            parts.append(f"{found} {word}{'s' if kind == 'conflict' and found > 1 else ''}")
    if not parts:
        return None
    return f"PSA contracts changed: {', '.join(parts)} — run `mcc contracts sync {preview.source}`"


def changes_found(engine: Engine, config: Config, source: str, *, today: date | None = None) -> str | None:
    """The change notice for a PSA source after a read of its contracts (None for other sources)."""
    if source not in psa_sources(config):
        return None
    return change_notice(preview(engine, config, source, today=today))


def apply(
    engine: Engine,
    config: Config,
    source: str,
    actor: Actor,
    *,
    take_psa: bool = False,
    today: date | None = None,
) -> ContractPreview:
    """Apply the preview (recomputed inside the transaction) with one audited `contracts.sync` event.

    Conflicts are applied only with `take_psa`; otherwise they stay as they are and are reported.
    """
    require(actor, "admin", "apply PSA contracts")
    day = today or date.today()
    with transaction(engine) as session:
        result = build_preview(session, config, source, day)
        applied: list[ContractChange] = []
        for change in result.changes:
            if change.kind == "unchanged" or (change.kind == "conflict" and not take_psa):
                continue
            _apply_change(session, source, change, actor)
            applied.append(change)
        record_event(
            session,
            actor=actor.username,
            action="contracts.sync",
            entity="source",
            entity_id=source,
            payload={
                **result.summary(),
                "take_psa": take_psa,
                "applied": [_change_payload(change) for change in applied],
            },
        )
    return result


def _change_payload(change: ContractChange) -> dict[str, Any]:
    payload = asdict(change)
    for key in ("start", "end"):
        payload[key] = payload[key].isoformat() if payload[key] else None
    return payload


def _apply_change(session: Session, source: str, change: ContractChange, actor: Actor) -> None:
    if change.contract_id is not None:
        current = session.get_one(Contract, change.contract_id)
        if change.kind == "closed":
            current.end = change.end
            return
        assert change.start is not None
        if change.start <= current.start:
            raise PsaContractsError(
                f"{change.client} {change.product}: the open line starts {current.start}; "
                "a change can only apply from the day after"
            )
        current.end = change.start - timedelta(days=1)
    assert change.new_quantity is not None and change.start is not None
    session.add(
        Contract(
            client_id=change.client_id,
            product_id=change.product_id,
            quantity=change.new_quantity,
            unit_price_cents=change.new_unit_price_cents,
            start=change.start,
            end=change.end,
            created_by=actor.username,
            origin=_origin(source, change.psa_line or ""),
        )
    )
