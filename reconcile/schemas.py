"""The frames reconciliation reads, declared once, and the bundle of them (`Inputs`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import polars as pl

Schema = dict[str, Any]

# Reconciliation frames are a few hundred thousand rows: the in-memory engine is about twice as fast
# as the streaming default there.
ENGINE: Any = "in-memory"

KEYS: Schema = {"key_id": pl.Int64, "source": pl.String, "org_external_id": pl.String, "metric": pl.String}
KEY_ATTRS: Schema = {"key_id": pl.Int64, "attr": pl.String, "value": pl.String}
MONTHLY: Schema = {
    "key_id": pl.Int64,
    "month": pl.Date,
    "qty_end": pl.Int64,
    "qty_peak": pl.Int64,
    "qty_day_sum": pl.Int64,
    "days": pl.Int64,
    "last_day": pl.Date,
    "cost_cents": pl.Int64,
}
CLIENTS: Schema = {"client_id": pl.Int64, "client": pl.String}
ORGS: Schema = {"client_id": pl.Int64, "source": pl.String, "org_external_id": pl.String}
SOURCE_ORGS: Schema = {"source": pl.String, "org_external_id": pl.String, "org_name": pl.String}
PRODUCTS: Schema = {
    "product_id": pl.Int64,
    "product_code": pl.String,
    "product": pl.String,
    "category": pl.String,
    "unit_price_cents": pl.Int64,
    "unit_cost_cents": pl.Int64,
    "policy": pl.String,
    "tolerance_units": pl.Int64,
    "tolerance_bp": pl.Int64,
    "prorate": pl.Boolean,
}
MAPPINGS: Schema = {"mapping_id": pl.Int64, "product_id": pl.Int64, "source": pl.String, "metric": pl.String}
# An attribute filter of a mapping or an exclusion rule: the subject's `attr` must be one of the values.
FILTERS: Schema = {"rule_id": pl.Int64, "attr": pl.String, "value": pl.String}
CONTRACTS: Schema = {
    "client_id": pl.Int64,
    "product_id": pl.Int64,
    "quantity": pl.Int64,
    "unit_price_cents": pl.Int64,
    "start": pl.Date,
    "end": pl.Date,
}
EXCLUSIONS: Schema = {
    "exclusion_id": pl.Int64,
    "client_id": pl.Int64,
    "source": pl.String,
    "entity_external_id": pl.String,
    "reason": pl.String,
    # The exclusion applies to every month whose last day is on or after `start`; null: every month.
    "start": pl.Date,
}
ENTITIES: Schema = {
    "entity_id": pl.Int64,
    "source": pl.String,
    "metric": pl.String,
    "external_id": pl.String,
    "org_external_id": pl.String,
    "key_id": pl.Int64,
    "name": pl.String,
    "first_seen": pl.Date,
    "last_seen": pl.Date,
}
ENTITY_ATTRS: Schema = {"entity_id": pl.Int64, "attr": pl.String, "value": pl.String}
DECISIONS: Schema = {
    "decision_id": pl.Int64,
    "client_id": pl.Int64,
    "product_id": pl.Int64,
    "period": pl.String,
    "action": pl.String,
    "note": pl.String,
    "author": pl.String,
    "covered_months": pl.List(pl.String),
    # The gap's monthly and one-time amounts when it was decided (the decision itself changes the
    # figures: a bump makes the month match, a back-bill covers its months).
    "amount_cents": pl.Int64,
    "back_bill_cents": pl.Int64,
    # An undo is a decision that reverses an earlier one: both then stand for nothing.
    "reverses_decision_id": pl.Int64,
}
TIME_ENTRIES: Schema = {
    "entry_id": pl.Int64,
    "client_id": pl.Int64,
    "day": pl.Date,
    "hours_x100": pl.Int64,
    "rate_cents": pl.Int64,
    "billable": pl.Boolean,
    "invoiced": pl.Boolean,
    "written_off": pl.Boolean,
}
# Columns a caller may leave out: they are added as nulls (older callers, and books without them).
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "decisions": ("amount_cents", "back_bill_cents", "reverses_decision_id"),
    "exclusions": ("start",),
}
HOUR_BLOCKS: Schema = {"client_id": pl.Int64, "hours_x100": pl.Int64, "start": pl.Date, "end": pl.Date}


def empty(schema: Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def frame(rows: list[tuple[Any, ...]] | list[dict[str, Any]], schema: Schema) -> pl.DataFrame:
    """A frame with exactly `schema` from tuples (in schema order) or dicts."""
    if rows and isinstance(rows[0], dict):
        return pl.DataFrame(rows, schema=schema)
    return pl.DataFrame(rows, schema=schema, orient="row")


@dataclass(frozen=True)
class Inputs:
    """Everything reconciliation reads, as frames with the schemas above."""

    keys: pl.DataFrame = field(default_factory=lambda: empty(KEYS))
    key_attrs: pl.DataFrame = field(default_factory=lambda: empty(KEY_ATTRS))
    monthly: pl.DataFrame = field(default_factory=lambda: empty(MONTHLY))
    clients: pl.DataFrame = field(default_factory=lambda: empty(CLIENTS))
    orgs: pl.DataFrame = field(default_factory=lambda: empty(ORGS))
    source_orgs: pl.DataFrame = field(default_factory=lambda: empty(SOURCE_ORGS))
    products: pl.DataFrame = field(default_factory=lambda: empty(PRODUCTS))
    mappings: pl.DataFrame = field(default_factory=lambda: empty(MAPPINGS))
    mapping_filters: pl.DataFrame = field(default_factory=lambda: empty(FILTERS))
    contracts: pl.DataFrame = field(default_factory=lambda: empty(CONTRACTS))
    exclusions: pl.DataFrame = field(default_factory=lambda: empty(EXCLUSIONS))
    exclusion_filters: pl.DataFrame = field(default_factory=lambda: empty(FILTERS))
    entities: pl.DataFrame = field(default_factory=lambda: empty(ENTITIES))
    entity_attrs: pl.DataFrame = field(default_factory=lambda: empty(ENTITY_ATTRS))
    decisions: pl.DataFrame = field(default_factory=lambda: empty(DECISIONS))

    def __post_init__(self) -> None:
        schemas = {
            "keys": KEYS,
            "key_attrs": KEY_ATTRS,
            "monthly": MONTHLY,
            "clients": CLIENTS,
            "orgs": ORGS,
            "source_orgs": SOURCE_ORGS,
            "products": PRODUCTS,
            "mappings": MAPPINGS,
            "mapping_filters": FILTERS,
            "contracts": CONTRACTS,
            "exclusions": EXCLUSIONS,
            "exclusion_filters": FILTERS,
            "entities": ENTITIES,
            "entity_attrs": ENTITY_ATTRS,
            "decisions": DECISIONS,
        }
        for item in fields(self):
            value: pl.DataFrame = getattr(self, item.name)
            expected = schemas[item.name]
            absent = [n for n in OPTIONAL_COLUMNS.get(item.name, ()) if n not in value.columns]
            value = value.with_columns(pl.lit(None, dtype=expected[n]).alias(n) for n in absent)
            missing = [name for name in expected if name not in value.columns]
            if missing:
                raise ValueError(f"reconcile input {item.name!r} lacks column(s) {', '.join(missing)}")
            # Same names, same order, same types: casting once here keeps every join exact.
            object.__setattr__(
                self, item.name, value.select([pl.col(n).cast(t) for n, t in expected.items()])
            )
