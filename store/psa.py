"""PSA agreement lines as last read, and the book's contract lines they are compared with."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from collectors.records import AgreementLine
from store.models import Client, ClientOrg, Contract, Product, PsaContractLine, SourceOrg


def replace_agreement_lines(
    session: Session, source: str, lines: Iterable[AgreementLine], at: datetime
) -> int:
    """The source's whole listing, replacing the previous one in the caller's transaction."""
    session.execute(delete(PsaContractLine).where(PsaContractLine.source == source))
    rows = [
        PsaContractLine(
            source=source,
            external_id=line.external_id,
            org_external_id=line.org,
            product=line.product,
            quantity=line.quantity,
            unit_price=line.unit_price,
            unit_cost=line.unit_cost,
            start=line.start,
            end=line.end,
            billed=line.billed,
            description=line.description[:2000],
            agreement=line.agreement[:200],
            seen_at=at,
        )
        for line in lines
    ]
    session.add_all(rows)
    return len(rows)


def agreement_lines(session: Session, source: str) -> list[PsaContractLine]:
    return list(
        session.scalars(
            select(PsaContractLine)
            .where(PsaContractLine.source == source)
            .order_by(PsaContractLine.org_external_id, PsaContractLine.product, PsaContractLine.external_id)
        )
    )


def org_clients(session: Session, source: str) -> dict[str, Client]:
    """PSA company id → the MCC client it is mapped to."""
    rows = session.execute(
        select(ClientOrg.external_id, Client)
        .join(Client, Client.id == ClientOrg.client_id)
        .where(ClientOrg.source == source)
    ).all()
    return {external_id: client for external_id, client in rows}


def org_names(session: Session, source: str) -> dict[str, str]:
    rows = session.execute(
        select(SourceOrg.external_id, SourceOrg.name).where(SourceOrg.source == source)
    ).all()
    return {external_id: name for external_id, name in rows}


def products_by_code(session: Session) -> dict[str, Product]:
    return {product.code.strip().casefold(): product for product in session.scalars(select(Product))}


def contract_lines(session: Session, client_ids: Iterable[int]) -> list[Contract]:
    wanted = sorted(set(client_ids))
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Contract).where(Contract.client_id.in_(wanted)).order_by(Contract.start, Contract.id)
        )
    )


def open_on(lines: Iterable[Contract], day: date) -> Contract | None:
    for line in lines:
        if line.start <= day and (line.end is None or line.end >= day):
            return line
    return None
