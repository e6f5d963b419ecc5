"""The reconciliation service the CLI and pages use: reads the store, runs reconcile/, adds freshness."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from accounting.drafts import time_product
from mcc.config import Config, SourceConfig
from mcc.errors import MccError
from mcc.money import to_str
from reconcile.candidates import exclusion_candidates as candidate_reasons
from reconcile.gaps import totals as gap_totals
from reconcile.history import leakage_history
from reconcile.ledger import applies, entity_exclusions, key_clients, key_products, monthly_ledger
from reconcile.periods import add_months, month_end, parse_period, period_of
from reconcile.run import AmountOverflow, reconcile_inputs, window_start
from reconcile.time import unbilled_time
from reconcile.whatif import what_if as what_if_frame
from store.db import reading
from store.frames import last_successful_syncs, load_inputs, time_frames
from store.models import AuditEvent, Client, Exclusion, Product, SyncRun

STALE_FACTOR = 2  # data older than twice a stream's schedule is stale


class PeriodError(MccError):
    """A period given by a person is not a YYYY-MM month."""


def resolve_period(period: str | None, today: date | None = None) -> date:
    """The first day of `period` ("YYYY-MM"), or of the current calendar month."""
    if period is None:
        return (today or date.today()).replace(day=1)
    try:
        return parse_period(period)
    except ValueError as error:
        raise PeriodError(str(error)) from None


@dataclass
class Reconciliation:
    period: str
    currency: str
    data_as_of: dict[str, datetime | None]
    stale_sources: list[str]
    gaps: pl.DataFrame
    unbilled_time: pl.DataFrame
    totals: dict[str, int]
    back_bill: pl.DataFrame = field(repr=False)

    def for_client(self, name: str) -> Reconciliation:
        """The same period narrowed to one client (by name, any case), totals summed afresh."""
        wanted = pl.col("client").str.to_lowercase() == name.strip().lower()
        gaps = self.gaps.filter(wanted)
        unbilled = self.unbilled_time.filter(wanted)
        return replace(self, gaps=gaps, unbilled_time=unbilled, totals=period_totals(gaps, unbilled))

    def totals_for(self, client_id: int) -> dict[str, int]:
        """The period's totals over one client's gaps (the same definition as the whole period's)."""
        return gap_totals(self.gaps.filter(pl.col("client_id") == client_id))

    def to_json(self) -> dict[str, Any]:
        """The design's JSON shape: money as decimal strings (the `_cents` suffix dropped), quantities ints."""
        return {
            "period": self.period,
            "currency": self.currency,
            "data_as_of": {k: v.isoformat() if v else None for k, v in self.data_as_of.items()},
            "stale_sources": list(self.stale_sources),
            "gaps": [_money_row(row) for row in self.gaps.iter_rows(named=True)],
            "unbilled_time": [_money_row(row) for row in self.unbilled_time.iter_rows(named=True)],
            "totals": _money_row(self.totals),
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)


def _hours(value: int) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def _money_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name.endswith("_cents"):
            out[name.removesuffix("_cents")] = to_str(value)
        elif name.endswith("_hours_x100"):
            out[name.removesuffix("_x100")] = None if value is None else _hours(value)
        else:
            out[name] = value
    return out


def _streams(source: SourceConfig) -> list[str]:
    return list(source.collector.streams)


def freshness(
    config: Config, syncs: dict[tuple[str, str], datetime], now: datetime
) -> tuple[dict[str, datetime | None], list[str]]:
    """Per configured source: when its data was last refreshed (the latest successful stream run), and
    the sources with a stream never synced or last synced more than twice its schedule ago."""
    as_of: dict[str, datetime | None] = {}
    stale: list[str] = []
    for source in config.sources:
        if not source.enabled:
            continue
        streams = _streams(source)
        finished = [syncs.get((source.name, stream)) for stream in streams]
        known = [moment for moment in finished if moment is not None]
        as_of[source.name] = max(known) if known else None
        for stream, moment in zip(streams, finished, strict=True):
            if moment is None or now - moment > STALE_FACTOR * source.schedule_for(stream).period:
                stale.append(source.name)
                break
    return as_of, stale


def _suggest(gaps: pl.DataFrame, clients: pl.DataFrame) -> pl.DataFrame:
    """For unmapped orgs, the closest client name (shown as a suggested mapping, never applied)."""
    from rapidfuzz import fuzz, process

    names = clients["client"].to_list()
    suggestions: list[str | None] = []
    for status, name in zip(gaps["status"], gaps["client"], strict=True):
        match = (
            process.extractOne(name, names, scorer=fuzz.WRatio, score_cutoff=60)
            if status == "unmapped" and names
            else None
        )
        suggestions.append(match[0] if match else None)
    return gaps.with_columns(suggested_client=pl.Series(suggestions, dtype=pl.String))


def period_totals(gaps: pl.DataFrame, unbilled: pl.DataFrame) -> dict[str, int]:
    """The totals of `mcc reconcile` and every page: the gap money (reconcile.outcomes) and unbilled time."""
    totals = gap_totals(gaps)
    totals["unbilled_time_cents"] = int(unbilled["billable_cents"].sum())
    totals["unbilled_hours_x100"] = int(unbilled["billable_hours_x100"].sum())
    return totals


def reconcile_period(
    engine: Engine,
    config: Config,
    period: str | None = None,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> Reconciliation:
    """Gaps, unbilled time and totals for `period` (default: the current calendar month)."""
    first_day = resolve_period(period, today)
    last_day = month_end(first_day)
    with reading(engine) as session:
        inputs = load_inputs(session, window_start(first_day, config.back_bill_months), first_day)
        time = time_frames(session, last_day)
        labour = time_product(session)
        # Read inside the session: the rollback that ends it expires every loaded object.
        labour_rate = labour.unit_price_cents if labour else None
        syncs = last_successful_syncs(session)
    try:
        result = reconcile_inputs(inputs, first_day, config.back_bill_months)
    except AmountOverflow as error:
        raise MccError(f"{period_of(first_day)}: {error}") from error
    gaps = _suggest(result.gaps, inputs.clients)
    unbilled = unbilled_time(time["entries"], time["blocks"], inputs.clients, last_day, labour_rate)
    totals = period_totals(gaps, unbilled)
    as_of, stale = freshness(config, syncs, now or datetime.now(UTC))
    return Reconciliation(
        period=period_of(first_day),
        currency=config.currency,
        data_as_of=as_of,
        stale_sources=stale,
        gaps=gaps,
        unbilled_time=unbilled,
        totals=totals,
        back_bill=result.back_bill,
    )


def history(engine: Engine, config: Config, months: int = 12, *, today: date | None = None) -> pl.DataFrame:
    """Leakage and over-billing per client x category x month, for the `months` months up to this one."""
    last = resolve_period(None, today)
    first = add_months(last, -(max(months, 1) - 1))
    with reading(engine) as session:
        inputs = load_inputs(session, first, last)
    return leakage_history(inputs, monthly_ledger(inputs, first, last))


def what_if(reconciliation: Reconciliation, recovery_pct: int, lookback_months: int) -> dict[str, Any]:
    """One-time correction and recurring uplift (monthly, annual) if `recovery_pct` % of the under-billed
    gaps are recovered with `lookback_months` of back-billing; `clients` has the per-client split."""
    try:
        clients = what_if_frame(reconciliation.gaps, reconciliation.back_bill, recovery_pct, lookback_months)
    except ValueError as error:
        raise MccError(str(error)) from None
    return {
        "one_time_cents": int(clients["one_time_cents"].sum()),
        "monthly_cents": int(clients["monthly_cents"].sum()),
        "annual_cents": int(clients["annual_cents"].sum()),
        "clients": clients,
    }


ENTITY_COLUMNS = [
    "entity_id",
    "name",
    "external_id",
    "source",
    "metric",
    "attrs",
    "first_seen",
    "last_seen",
    "excluded",
    "exclusion_reason",
]


# Audited changes that never touch an entity or what it is counted toward: decisions (an exclusion they
# make is seen through the exclusions themselves) and people signing in or being managed.
_NOT_ENTITY_EVENTS = ("decision.%", "user.%")


def entity_version(engine: Engine) -> tuple[int, int, int, str]:
    """Moves whenever a client's entity views can change: a sync, an exclusion made or revoked, or an
    audited change to the book. Recording a bump, a write-off or a deferral leaves it where it was, so a
    decision does not re-read the client's entities."""
    with reading(engine) as session:
        row = session.execute(
            select(
                select(func.max(SyncRun.id)).scalar_subquery(),
                select(func.max(Exclusion.id)).scalar_subquery(),
                select(AuditEvent.id)
                .where(*(AuditEvent.action.not_like(pattern) for pattern in _NOT_ENTITY_EVENTS))
                .order_by(AuditEvent.id.desc())
                .limit(1)
                .scalar_subquery(),
                select(func.max(Exclusion.revoked_at)).scalar_subquery(),
            )
        ).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), str(row[3] or "")


@dataclass(frozen=True)
class ClientEntities:
    """One read of a client's entities for a period: what every per-client entity view is built from."""

    inputs: Any
    entities: pl.DataFrame


def client_entities(engine: Engine, client_id: int, period: str) -> ClientEntities:
    """The client's entities present on their count's last day of `period`, with exclusion flags.
    Only this client's entities are read; callers showing several products read it once and pass it on."""
    first_day = resolve_period(period)
    with reading(engine) as session:
        if session.get(Client, client_id) is None:
            raise MccError(f"no client with id {client_id}")
        inputs = load_inputs(session, first_day, first_day, entities_for=[client_id], entities_only=True)
    reference = inputs.monthly.select("key_id", "last_day")
    keys = key_clients(inputs).filter(pl.col("client_id") == client_id).select("key_id").collect()
    flags = (
        entity_exclusions(inputs)
        .filter(applies(pl.lit(first_day)))
        .join(inputs.exclusions.lazy().select("exclusion_id", "reason"), on="exclusion_id")
        .select("entity_id", excluded=pl.lit(True), exclusion_reason=pl.col("reason"))
        .collect()
    )
    by_entity: dict[int, dict[str, str]] = {}
    for entity_id, attr, value in inputs.entity_attrs.iter_rows():
        by_entity.setdefault(entity_id, {})[attr] = value
    attrs = pl.DataFrame(
        [(k, json.dumps(v, sort_keys=True)) for k, v in by_entity.items()],
        schema={"entity_id": pl.Int64, "attrs": pl.String},
        orient="row",
    )
    entities = (
        inputs.entities.join(keys, on="key_id")
        .join(reference, on="key_id")
        .filter((pl.col("first_seen") <= pl.col("last_day")) & (pl.col("last_seen") >= pl.col("last_day")))
        .join(flags, on="entity_id", how="left")
        .join(attrs, on="entity_id", how="left")
        .with_columns(excluded=pl.col("excluded").fill_null(False), attrs=pl.col("attrs").fill_null("{}"))
    )
    return ClientEntities(inputs, entities)


def _read(
    engine: Engine, client_id: int, period: str, read: ClientEntities | None
) -> tuple[Any, pl.DataFrame]:
    found = read if read is not None else client_entities(engine, client_id, period)
    return found.inputs, found.entities


def entities_behind(
    engine: Engine,
    config: Config,
    client_id: int,
    product_code: str,
    period: str,
    *,
    read: ClientEntities | None = None,
) -> pl.DataFrame:
    """The devices, users, mailboxes, agents or seats behind one client x product count for `period`."""
    with reading(engine) as session:
        product_id = session.scalar(select(Product.id).where(Product.code == product_code))
    if product_id is None:
        raise MccError(f"no product with code {product_code!r}")
    inputs, entities = _read(engine, client_id, period, read)
    feeding = key_products(inputs).filter(pl.col("product_id") == product_id).select("key_id").collect()
    return entities.join(feeding, on="key_id").select(ENTITY_COLUMNS).sort("source", "name", "external_id")


def exclusion_candidates(
    engine: Engine, config: Config, client_id: int, period: str, *, read: ClientEntities | None = None
) -> pl.DataFrame:
    """The client's entities that look non-billable and are not excluded yet, with the reason."""
    inputs, entities = _read(engine, client_id, period, read)
    offline = {source.name: source.offline_days for source in config.sources}
    reasons = candidate_reasons(
        inputs.entities, inputs.entity_attrs, offline, month_end(parse_period(period))
    )
    return (
        entities.filter(~pl.col("excluded"))
        .join(reasons, on="entity_id")
        .select("entity_id", "name", "external_id", "source", "metric", "reason", "attrs")
        .sort("source", "name", "external_id")
    )
