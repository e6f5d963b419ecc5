"""Queries that read the store and hand frames to reconcile/ (schemas in reconcile.schemas)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
from sqlalchemy import URL, Connection, Integer, Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from reconcile import schemas as s
from reconcile.schemas import Inputs
from reconcile.time import HOUR_SCALE, RATE_SCALE
from store.models import (
    Client,
    ClientOrg,
    Contract,
    CountKey,
    Decision,
    Entity,
    Exclusion,
    HourBlock,
    Mapping,
    MonthlyCount,
    Product,
    SourceOrg,
    SyncRun,
    TimeEntry,
)


def _frame(rows: Iterable[Sequence[Any]], schema: s.Schema) -> pl.DataFrame:
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def _to_schema(frame: pl.DataFrame, schema: s.Schema) -> pl.DataFrame:
    """Columns renamed in order to `schema` and cast to it (SQLite hands dates over as ISO text)."""
    frame = frame.rename(dict(zip(frame.columns, schema, strict=True)))
    return frame.select(
        pl.col(name).str.to_date("%Y-%m-%d")
        if dtype == pl.Date and frame.schema[name] == pl.String
        else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    )


def _adbc_connect(url: URL) -> Any | None:
    """An Arrow-native connection to the same database as `url`, where its ADBC driver applies."""
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        import adbc_driver_sqlite.dbapi

        return adbc_driver_sqlite.dbapi.connect(f"file:{url.database}?mode=ro")
    if backend == "postgresql":
        import adbc_driver_postgresql.dbapi

        return adbc_driver_postgresql.dbapi.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False)
        )
    return None


def columnar(session: Session, statement: Select[*tuple[Any, ...]], schema: s.Schema) -> pl.DataFrame:
    """The rows of `statement` as a frame of `schema`, read straight into Arrow (no Python row per result).

    The large reads (the monthly rollup) go through the database's ADBC driver on a connection of its
    own; an in-memory SQLite database, which no second connection can see, is read through the session.
    """
    bind = session.get_bind()
    connection = _adbc_connect(bind.engine.url if isinstance(bind, Connection) else bind.url)
    if connection is None:
        return _frame(session.execute(statement), schema)
    sql = str(statement.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    with connection:
        frame = pl.read_database(sql, connection)
    return _to_schema(frame, schema)


def attr_text(value: Any) -> str:
    """Attribute values compare as text: booleans as true/false (also when a source sends the text "True"
    or "FALSE"), whole floats as whole numbers (3.0 as "3", as a book's `3` reads), None as ''."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    return "" if value is None else str(value)


def filter_rows(rule_id: int, where: dict[str, Any] | None) -> list[tuple[int, str, str]]:
    """A `where` table ({attr: value or [values]}) as FILTERS rows."""
    rows = []
    for attr, allowed in (where or {}).items():
        for value in allowed if isinstance(allowed, list | tuple) else [allowed]:
            rows.append((rule_id, str(attr), attr_text(value)))
    return rows


def _attr_rows(owner_id: int, attrs: dict[str, Any] | str | None) -> list[tuple[int, str, str]]:
    if isinstance(attrs, str):
        attrs = json.loads(attrs) if attrs else {}
    return [(owner_id, str(k), attr_text(v)) for k, v in (attrs or {}).items()]


def book_frames(session: Session) -> dict[str, pl.DataFrame]:
    """Clients, orgs, products, mappings, contracts and active exclusions."""
    clients = _frame(session.execute(select(Client.id, Client.name)), s.CLIENTS)
    orgs = _frame(
        session.execute(select(ClientOrg.client_id, ClientOrg.source, ClientOrg.external_id)), s.ORGS
    )
    products = _frame(
        session.execute(
            select(
                Product.id,
                Product.code,
                Product.name,
                Product.category,
                Product.unit_price_cents,
                Product.unit_cost_cents,
                Product.policy,
                Product.tolerance_units,
                Product.tolerance_bp,
                Product.prorate,
            )
        ),
        s.PRODUCTS,
    )
    mapping_rows = session.execute(
        select(Mapping.id, Mapping.product_id, Mapping.source, Mapping.metric, Mapping.where)
    ).all()
    contracts = _frame(
        session.execute(
            select(
                Contract.client_id,
                Contract.product_id,
                Contract.quantity,
                Contract.unit_price_cents,
                Contract.start,
                Contract.end,
            )
        ),
        s.CONTRACTS,
    )
    exclusion_rows = session.execute(
        select(
            Exclusion.id,
            Exclusion.client_id,
            Exclusion.source,
            Exclusion.entity_external_id,
            Exclusion.reason,
            Exclusion.where,
            Exclusion.start,
        ).where(Exclusion.revoked_at.is_(None))
    ).all()
    return {
        "clients": clients,
        "orgs": orgs,
        "products": products,
        "mappings": _frame((row[:4] for row in mapping_rows), s.MAPPINGS),
        "mapping_filters": _frame(
            [f for row in mapping_rows for f in filter_rows(row[0], row[4])], s.FILTERS
        ),
        "contracts": contracts,
        "exclusions": _frame(((*row[:5], row[6]) for row in exclusion_rows), s.EXCLUSIONS),
        "exclusion_filters": _frame(
            [f for row in exclusion_rows if row[3] is None for f in filter_rows(row[0], row[5])], s.FILTERS
        ),
    }


def count_frames(session: Session, first: date, last: date) -> dict[str, pl.DataFrame]:
    """Count keys with their attributes, and the monthly rollup from `first` to `last` (first days)."""
    key_rows = session.execute(
        select(CountKey.id, CountKey.source, CountKey.org_external_id, CountKey.metric, CountKey.attrs_json)
    ).all()
    monthly = columnar(
        session,
        select(
            MonthlyCount.key_id,
            MonthlyCount.month,
            MonthlyCount.qty_end,
            MonthlyCount.qty_peak,
            MonthlyCount.qty_day_sum,
            MonthlyCount.days,
            MonthlyCount.last_day,
            MonthlyCount.cost_cents,
        ).where(MonthlyCount.month.between(first, last)),
        s.MONTHLY,
    )
    source_orgs = session.execute(select(SourceOrg.source, SourceOrg.external_id, SourceOrg.name))
    return {
        "keys": _frame((row[:4] for row in key_rows), s.KEYS),
        "key_attrs": _frame([a for row in key_rows for a in _attr_rows(row[0], row[4])], s.KEY_ATTRS),
        "monthly": monthly,
        "source_orgs": _frame(source_orgs, s.SOURCE_ORGS),
    }


def entity_frames(session: Session, client_ids: Iterable[int]) -> dict[str, pl.DataFrame]:
    """The entities of the given clients' orgs, with their attributes (first/last seen as dates)."""
    ids = sorted(set(client_ids))
    if not ids:
        return {"entities": s.empty(s.ENTITIES), "entity_attrs": s.empty(s.ENTITY_ATTRS)}
    rows = session.execute(
        select(
            Entity.id,
            Entity.source,
            Entity.metric,
            Entity.external_id,
            Entity.org_external_id,
            Entity.key_id,
            Entity.name,
            Entity.first_seen,
            Entity.last_seen,
            Entity.attrs,
        )
        .join(
            ClientOrg,
            and_(ClientOrg.source == Entity.source, ClientOrg.external_id == Entity.org_external_id),
        )
        .where(ClientOrg.client_id.in_(ids))
    ).all()
    entities = [(*row[:7], row[7].date(), row[8].date()) for row in rows]
    return {
        "entities": _frame(entities, s.ENTITIES),
        "entity_attrs": _frame([a for row in rows for a in _attr_rows(row[0], row[9])], s.ENTITY_ATTRS),
    }


def _months(gap: dict[str, Any] | None) -> list[str]:
    """The months a decision's back-bill covered, when the gap listed them (older rows hold a count)."""
    months = (gap or {}).get("back_bill_months")
    return [str(month) for month in months] if isinstance(months, list) else []


def decision_frame(session: Session) -> pl.DataFrame:
    """Every decision with the gap's amounts when decided; `reverses_decision_id` (an undo) when the
    schema has it."""
    reverses = getattr(Decision, "reverses_decision_id", None)
    rows = session.execute(
        select(
            Decision.id,
            Decision.client_id,
            Decision.product_id,
            Decision.period,
            Decision.action,
            Decision.note,
            Decision.author,
            Decision.gap,
            Decision.amount_cents,
            Decision.back_bill_cents,
            reverses if reverses is not None else literal(None, Integer),
        ).order_by(Decision.id)
    ).all()
    return _frame(
        [
            (
                *row[:7],
                _months(row[7]),
                row[8],
                row[9] if row[9] is not None else _snapshot_cents(row[7], "back_bill_cents"),
                row[10],
            )
            for row in rows
        ],
        s.DECISIONS,
    )


def _snapshot_cents(gap: dict[str, Any] | None, name: str) -> int | None:
    value = (gap or {}).get(name)
    return int(value) if value is not None else None


def load_inputs(
    session: Session,
    first: date,
    last: date,
    *,
    entities_for: Iterable[int] | None = None,
    entities_only: bool = False,
) -> Inputs:
    """Everything reconciliation reads for months `first`..`last`. Entities are read for the clients
    that have exclusions (plus `entities_for`), since only excluded entities change a count; with
    `entities_only`, for `entities_for` alone (a per-client view that never sums other clients)."""
    book = book_frames(session)
    clients = set(entities_for or ())
    if not entities_only:
        clients |= set(book["exclusions"]["client_id"].to_list())
    return Inputs(
        **book,
        **count_frames(session, first, last),
        **entity_frames(session, clients),
        decisions=decision_frame(session),
    )


def _hours_x100(hours: Decimal) -> int:
    return int((Decimal(hours) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _scaled(value: Decimal | None, scale: int) -> int | None:
    """An exact decimal in 1/scale units (hours in billionths, rates in hundredths of a cent)."""
    return (
        None if value is None else int((Decimal(value) * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    )


def _rate_e4(rate: Decimal | None, rate_cents: int | None) -> int | None:
    if rate is not None:
        return _scaled(rate, RATE_SCALE)
    return None if rate_cents is None else rate_cents * 100


def time_frames(session: Session, period_end: date) -> dict[str, pl.DataFrame]:
    """Billable time up to `period_end` that is unbilled, or inside a client's hour block; and the blocks."""
    blocks = session.execute(
        select(HourBlock.client_id, HourBlock.hours, HourBlock.start, HourBlock.end)
    ).all()
    block_clients = sorted({row[0] for row in blocks})
    unbilled = and_(
        TimeEntry.invoice_id.is_(None),
        TimeEntry.written_off_at.is_(None),
        TimeEntry.vendor_invoiced.is_(False),
    )
    rows = session.execute(
        select(
            TimeEntry.id,
            TimeEntry.client_id,
            TimeEntry.day,
            TimeEntry.hours,
            TimeEntry.rate_cents,
            TimeEntry.billable,
            TimeEntry.invoice_id,
            TimeEntry.vendor_invoiced,
            TimeEntry.written_off_at,
            TimeEntry.rate,
        ).where(
            TimeEntry.billable.is_(True),
            TimeEntry.day <= period_end,
            or_(unbilled, TimeEntry.client_id.in_(block_clients)),
        )
    ).all()
    entries = [
        (r[0], r[1], r[2], _hours_x100(r[3]), r[4], r[5], r[6] is not None or bool(r[7]), r[8] is not None)
        for r in rows
    ]
    # The exact hours and rate the money is computed from (reconcile.time); hundredths are for display.
    exact = pl.DataFrame(
        [(r[0], _scaled(r[3], HOUR_SCALE), _rate_e4(r[9], r[4])) for r in rows],
        schema={"entry_id": pl.Int64, "hours_e9": pl.Int64, "rate_e4": pl.Int64},
        orient="row",
    )
    return {
        "entries": _frame(entries, s.TIME_ENTRIES).join(
            exact, on="entry_id", how="left", maintain_order="left"
        ),
        "blocks": _frame([(r[0], _hours_x100(r[1]), r[2], r[3]) for r in blocks], s.HOUR_BLOCKS),
    }


def last_successful_syncs(session: Session) -> dict[tuple[str, str], datetime]:
    """(source, stream) -> when its last successful run finished."""
    rows = session.execute(
        select(SyncRun.source, SyncRun.stream, func.max(SyncRun.finished_at))
        .where(SyncRun.status == "ok", SyncRun.finished_at.is_not(None))
        .group_by(SyncRun.source, SyncRun.stream)
    ).all()
    result: dict[tuple[str, str], datetime] = {}
    for source, stream, value in rows:
        # func.max may hand back the stored text on SQLite rather than the column type
        finished = datetime.fromisoformat(value) if isinstance(value, str) else value
        if finished is None:
            continue
        result[(source, stream)] = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
    return result
