"""The write handlers behind the pages' buttons and forms. Each passes the actor read afresh from the
database (never the session's idea of the roles) to the service, which re-checks the role itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from mcc import invoicing, review
from pages import common


def record_decision(
    *,
    client_id: int,
    product_code: str,
    period: str,
    action: str,
    quantity: int | None = None,
    effective_date: date | None = None,
    note: str = "",
    entity_ids: list[str] | None = None,
    gap: dict[str, Any] | None = None,
    label: str = "",
) -> Any:
    ctx = common.context()
    return common.attempt(
        lambda: review.decide(
            ctx.engine,
            common.actor(),
            client_id=client_id,
            product_code=product_code,
            period=period,
            action=action,
            quantity=quantity,
            effective_date=effective_date,
            note=note,
            entity_ids=entity_ids,
            reason=note or "excluded on review",
            gap=gap,
            config=ctx.config,
        ),
        success=f"{label}: {action.replace('_', ' ')} recorded",
    )


def approve_invoice(invoice_id: int) -> Any:
    ctx = common.context()
    return common.attempt(
        lambda: invoicing.approve(ctx.engine, common.actor(), invoice_id),
        success=f"Invoice {invoice_id} approved",
    )


def push_invoices(
    invoice_ids: list[int], progress: Callable[[invoicing.PushResult], None] | None = None
) -> Any:
    ctx = common.context()
    return common.attempt(
        lambda: invoicing.push(
            ctx.engine, ctx.config, common.actor(), invoice_ids=invoice_ids, progress=progress
        )
    )
