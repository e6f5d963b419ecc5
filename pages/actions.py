"""The write handlers behind the pages' buttons and forms. Each passes the actor read afresh from the
database (never the session's idea of the roles) to the service, which re-checks the role itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from collectors import mapping
from mcc import invoicing, onboarding, report, review, undo
from mcc.permissions import require
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


def exclude_entities(
    *,
    client_id: int,
    product_code: str,
    period: str,
    entity_ids: list[str],
    reason: str,
    gap: dict[str, Any] | None = None,
    label: str = "",
) -> Any:
    """One click on a suggested exclusion: an exclude decision on the gap the entities count toward."""
    ctx = common.context()
    count = len(entity_ids)
    return common.attempt(
        lambda: review.decide(
            ctx.engine,
            common.actor(),
            client_id=client_id,
            product_code=product_code,
            period=period,
            action="exclude",
            note=reason,
            entity_ids=entity_ids,
            reason=reason.strip() or "excluded on review",
            gap=gap,
            config=ctx.config,
        ),
        success=f"{label}: {count} entit{'y' if count == 1 else 'ies'} excluded",
    )


def decide_bulk(gap_filter: review.GapFilter, action: str, note: str, period: str) -> Any:
    ctx = common.context()

    def run() -> list[Any]:
        decided = review.decide_bulk(
            ctx.engine, common.actor(), gap_filter, action, note, config=ctx.config, period=period
        )
        if not decided:
            raise review.DecisionError("no undecided gap matches these filters any more")
        return decided

    decisions = common.attempt(run)
    if decisions:
        count = len(decisions)
        st.session_state["flash"] = f"{action.replace('_', ' ')} recorded for {count} gap{'s' * (count != 1)}"
    return decisions


def test_source_connection(name: str) -> onboarding.SourceCheck | None:
    """Check one source's credentials and reach (admins only: it reads with the configured secrets)."""
    ctx = common.context()

    def run() -> onboarding.SourceCheck:
        require(common.actor(), "admin", "test a source connection")
        return onboarding.test_source(ctx.config, name)

    return common.attempt(run)


def map_orgs(choices: list[tuple[str, str, int]]) -> tuple[list[mapping.MappedOrg], list[str]] | None:
    """Bill each (source, external id) to its client in one go (admins). map_org re-checks the role and
    audits every mapping; an org that can no longer be mapped is reported, the others still land."""
    ctx = common.context()

    def run() -> tuple[list[mapping.MappedOrg], list[str]]:
        actor = common.actor()
        require(actor, "admin", "map organisations to clients")
        mapped: list[mapping.MappedOrg] = []
        failed: list[str] = []
        for source, external_id, client_id in choices:
            try:
                mapped.append(mapping.map_org(ctx.engine, actor, source, external_id, client_id))
            except mapping.MappingError as error:
                failed.append(f"{source}: {external_id}: {error}")
        return mapped, failed

    return common.attempt(run)


def client_report(client: str, period: str, format: str) -> str:
    """The client billing audit report (`mcc report client`), built when the download is clicked."""
    ctx = common.context()
    return report.client_report(ctx.reader, ctx.config, client, period, format=format)


def undo_decision(decision_id: int, label: str = "") -> Any:
    """Undo one decision (a reversing decision row); the gap is open again."""
    ctx = common.context()
    return common.attempt(
        lambda: undo.undo(ctx.engine, common.actor(), decision_id),
        success=f"{label}: undone, the gap is open again" if label else "Undone, the gap is open again",
    )


def undo_batch(batch_id: str, label: str = "") -> Any:
    """Undo every decision of one bulk batch, all or nothing."""
    ctx = common.context()
    done = common.attempt(lambda: undo.undo_batch(ctx.engine, common.actor(), batch_id))
    if done is not None:
        count = len(done.undos)
        st.session_state["flash"] = f"{label or 'Bulk decision'}: {count} gap{'s' * (count != 1)} open again"
    return done
