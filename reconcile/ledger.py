"""The monthly ledger: for every client x product x month, contracted vs observed and what the gap is worth.

Everything else (a period's gaps, since, back-bill, history) is read from this one frame.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from reconcile.matching import rule_matches
from reconcile.rounding import MICRO, div_round, narrow, times, wide, wide_sum
from reconcile.schemas import ENGINE, Inputs

UNDER_BILLED = ("under_billed", "no_contract")
STATUSES = ("under_billed", "over_billed", "match", "within_tolerance", "no_contract", "unmapped")

LEDGER_COLUMNS = [
    "client_id",
    "product_id",
    "month",
    "sources",
    "billed_qty",
    "observed_qty",
    "excluded_qty",
    "billable_qty",
    "delta_qty",
    "unit_price_cents",
    "monthly_amount_cents",
    "status",
    "cost_cents",
    "margin_cents",
    "negative_margin",
]
UNMAPPED_COLUMNS = [
    "source",
    "org_external_id",
    "product_id",
    "month",
    "observed_qty",
    "unit_price_cents",
    "monthly_amount_cents",
    "cost_cents",
]


def key_products(inputs: Inputs) -> pl.LazyFrame:
    """(key_id, product_id): the count keys each product's mappings select; a key counts once per product
    even when two mappings of a bundle both select it."""
    pairs = rule_matches(
        inputs.keys.lazy(),
        inputs.key_attrs.lazy(),
        inputs.mappings.lazy(),
        inputs.mapping_filters.lazy(),
        subject_id="key_id",
        rule_id="mapping_id",
        on=["source", "metric"],
    )
    return (
        pairs.join(inputs.mappings.lazy().select("mapping_id", "product_id"), on="mapping_id")
        .select("key_id", "product_id")
        .unique()
    )


def key_clients(inputs: Inputs) -> pl.LazyFrame:
    """Every key with the client its org is billed to (null when the org is unmapped)."""
    return inputs.keys.lazy().join(inputs.orgs.lazy(), on=["source", "org_external_id"], how="left")


def _rules(inputs: Inputs) -> pl.LazyFrame:
    with_filters = inputs.exclusion_filters.lazy().select(pl.col("rule_id").alias("exclusion_id")).unique()
    return (
        inputs.exclusions.lazy()
        .filter(pl.col("entity_external_id").is_null())
        .join(with_filters, on="exclusion_id", how="semi")
        .select("exclusion_id", "client_id", "source")
    )


# The start of an exclusion that applies to every month.
EVER = date(1, 1, 1)


def _starts(inputs: Inputs) -> pl.LazyFrame:
    """exclusion_id, start: the first day an exclusion applies (EVER when it has no start)."""
    return inputs.exclusions.lazy().select("exclusion_id", start=pl.col("start").fill_null(EVER))


def applies(month: pl.Expr) -> pl.Expr:
    """True where the exclusion's `start` (filled) is on or before the month's last day."""
    return pl.col("start") <= month.dt.month_end()


def excluded_keys(inputs: Inputs) -> pl.LazyFrame:
    """(key_id, exclusion_id, start): whole count keys a rule excludes (its attributes are all on the key,
    e.g. user_purpose = shared), from the earliest start of the rules that select the key on."""
    subjects = (
        key_clients(inputs).filter(pl.col("client_id").is_not_null()).select("key_id", "client_id", "source")
    )
    return (
        rule_matches(
            subjects,
            inputs.key_attrs.lazy(),
            _rules(inputs),
            inputs.exclusion_filters.lazy(),
            subject_id="key_id",
            rule_id="exclusion_id",
            on=["client_id", "source"],
        )
        .join(_starts(inputs), on="exclusion_id")
        .sort("start", "exclusion_id")
        .unique("key_id", keep="first", maintain_order=True)
    )


def _single_exclusions(inputs: Inputs, entities: pl.LazyFrame) -> pl.LazyFrame:
    """(entity_id, exclusion_id): entities excluded by their external id or by a rule on their own
    attributes (not through their key)."""
    by_id = entities.join(
        inputs.exclusions.lazy()
        .filter(pl.col("entity_external_id").is_not_null())
        .select("exclusion_id", "client_id", "source", pl.col("entity_external_id").alias("external_id")),
        on=["client_id", "source", "external_id"],
    ).select("entity_id", "exclusion_id")
    by_rule = rule_matches(
        entities.select("entity_id", "client_id", "source"),
        inputs.entity_attrs.lazy(),
        _rules(inputs),
        inputs.exclusion_filters.lazy(),
        subject_id="entity_id",
        rule_id="exclusion_id",
        on=["client_id", "source"],
    )
    return pl.concat([by_id, by_rule])


def _client_entities(inputs: Inputs) -> pl.LazyFrame:
    entities = inputs.entities.lazy().join(
        key_clients(inputs).select("key_id", "client_id"), on="key_id", how="inner"
    )
    return entities.filter(pl.col("client_id").is_not_null())


def entity_exclusions(inputs: Inputs) -> pl.LazyFrame:
    """(entity_id, exclusion_id, key_excluded, start): every excluded entity, by id, by a rule on its
    own attributes, or because its whole key is excluded. One row per entity (its key's exclusion
    first, then the lowest exclusion id); `start` is when that exclusion applies from."""
    entities = _client_entities(inputs)
    by_key = entities.join(excluded_keys(inputs), on="key_id").select("entity_id", "exclusion_id")
    return (
        pl.concat(
            [
                by_key.with_columns(key_excluded=pl.lit(True)),
                _single_exclusions(inputs, entities).with_columns(key_excluded=pl.lit(False)),
            ]
        )
        .join(_starts(inputs), on="exclusion_id")
        .sort("key_excluded", "exclusion_id", descending=[True, False])
        .unique("entity_id", keep="first", maintain_order=True)
    )


def _observed(policy: pl.Expr, prorate: pl.Expr) -> pl.Expr:
    """One key's count for the month in millionths of a unit, per the product's count policy."""
    average = pl.when(pl.col("days") > 0).then(div_round(wide(pl.col("qty_day_sum")) * MICRO, pl.col("days")))
    return (
        pl.when(prorate | (policy == "average"))
        .then(average.otherwise(0))
        .when(policy == "peak")
        .then(times(pl.col("qty_peak"), MICRO))
        .otherwise(times(pl.col("qty_end"), MICRO))
    )


def _counts(inputs: Inputs, first: date, last: date) -> pl.LazyFrame:
    """Per key x product x month: observed and excluded millionths, vendor cost, client (or null)."""
    products = inputs.products.lazy().select("product_id", "policy", "prorate")
    counts = (
        inputs.monthly.lazy()
        .filter(pl.col("month").is_between(first, last))
        .join(key_products(inputs), on="key_id")
        .join(products, on="product_id")
        .with_columns(observed_micro=_observed(pl.col("policy"), pl.col("prorate")))
    )
    whole = excluded_keys(inputs).select("key_id", pl.col("start").alias("key_from"))
    # An entity excluded on its own counts from the earliest start of the exclusions that name it.
    single = (
        _single_exclusions(inputs, _client_entities(inputs))
        .join(_starts(inputs), on="exclusion_id")
        .group_by("entity_id")
        .agg(pl.col("start").min())
        .join(inputs.entities.lazy().select("entity_id", "key_id", "first_seen", "last_seen"), on="entity_id")
    )
    # An excluded entity counts against the month when it was there on the month's last counted day
    # and its exclusion applies to the month.
    present = (
        inputs.monthly.lazy()
        .filter(pl.col("month").is_between(first, last))
        .select("key_id", "month", "last_day")
        .join(single, on="key_id")
        .filter(
            (pl.col("first_seen") <= pl.col("last_day"))
            & (pl.col("last_seen") >= pl.col("last_day"))
            & applies(pl.col("month"))
        )
        .group_by("key_id", "month")
        .agg(pl.len().cast(pl.Int64).alias("excluded_entities"))
    )
    return (
        counts.join(whole, on="key_id", how="left")
        .join(present, on=["key_id", "month"], how="left")
        .with_columns(key_excluded=(pl.col("key_from") <= pl.col("month").dt.month_end()).fill_null(False))
        .with_columns(
            excluded_micro=pl.when(pl.col("key_excluded"))
            .then(pl.col("observed_micro"))
            .otherwise(
                pl.min_horizontal(
                    times(pl.col("excluded_entities").fill_null(0), MICRO), pl.col("observed_micro")
                )
            )
        )
        .join(key_clients(inputs).select("key_id", "source", "org_external_id", "client_id"), on="key_id")
    )


def _contracted(inputs: Inputs, first: date, last: date) -> pl.LazyFrame:
    """Per client x product x month: the contract lines in force on the month's last day (quantities
    summed; the price override of the latest line that has one)."""
    months = pl.LazyFrame({"month": pl.date_range(first, last, "1mo", eager=True)}).with_columns(
        month_end=pl.col("month").dt.month_end()
    )
    in_force = (
        months.join(inputs.contracts.lazy(), how="cross")
        .filter(
            (pl.col("start") <= pl.col("month_end"))
            & (pl.col("end").is_null() | (pl.col("end") >= pl.col("month_end")))
        )
        .select("client_id", "product_id", "month", "quantity", "unit_price_cents", "start")
    )
    group = ["client_id", "product_id", "month"]
    quantities = in_force.group_by(group).agg(wide_sum("quantity").alias("billed_qty"))
    prices = (
        in_force.filter(pl.col("unit_price_cents").is_not_null())
        .sort("start")
        .group_by(group)
        .agg(pl.col("unit_price_cents").last().alias("contract_price_cents"))
    )
    return quantities.join(prices, on=group, how="left")


def _cost(count: pl.Expr, total: pl.Expr) -> pl.Expr:
    return pl.when(count > 0).then(total)


def monthly_ledger(inputs: Inputs, first: date, last: date) -> pl.LazyFrame:
    """One row per client x product x month from `first` to `last` (first days of months).

    A row exists where a contract line is in force and a source feeding the product reported for the
    client that month, or where the client shows billable units. Quantities are whole units; products with
    `prorate` are priced on the exact day average (qty_day_sum / days), rounded once per line.
    """
    counts = _counts(inputs, first, last)
    observed = (
        counts.filter(pl.col("client_id").is_not_null())
        .group_by("client_id", "product_id", "month")
        .agg(
            wide_sum("observed_micro").alias("observed_micro"),
            wide_sum("excluded_micro").alias("excluded_micro"),
            wide_sum("cost_cents").alias("_cost_total"),
            pl.col("cost_cents").count().alias("_cost_count"),
        )
        .with_columns(_seen=pl.lit(True))
    )
    # The sources named on a row: those feeding the product on which the client has an org.
    sources = (
        inputs.orgs.lazy()
        .select("client_id", "source")
        .join(inputs.mappings.lazy().select("product_id", "source"), on="source")
        .unique()
        .sort("source")
        .group_by("client_id", "product_id")
        .agg(pl.col("source").str.join(",").alias("sources"))
    )
    products = inputs.products.lazy()
    group = ["client_id", "product_id", "month"]
    joined = (
        observed.join(_contracted(inputs, first, last), on=group, how="full", coalesce=True)
        .with_columns(_seen=pl.col("_seen").fill_null(False))
        .collect(engine=ENGINE)
        .lazy()
    )
    # A contract row with no matching count still shows (as observed 0) when a source feeding the
    # product reported anything for the client's org that month; otherwise nothing was observable.
    reported = (
        inputs.monthly.lazy()
        .filter(pl.col("month").is_between(first, last))
        .select("key_id", "month")
        .join(inputs.keys.lazy().select("key_id", "source", "org_external_id"), on="key_id")
    )
    observable = (
        joined.filter(pl.col("billed_qty").is_not_null() & ~pl.col("_seen"))
        .select(group)
        .join(inputs.mappings.lazy().select("product_id", "source").unique(), on="product_id")
        .join(inputs.orgs.lazy(), on=["client_id", "source"])
        .join(reported, on=["source", "org_external_id", "month"], how="semi")
        .select(group)
        .unique()
        .with_columns(_observable=pl.lit(True))
    )
    merged = (
        joined.join(observable, on=group, how="left")
        .join(sources, on=["client_id", "product_id"], how="left")
        .join(products, on="product_id")
        .with_columns(
            has_contract=pl.col("billed_qty").is_not_null(),
            billed_qty=pl.col("billed_qty").fill_null(0),
            observed_micro=pl.col("observed_micro").fill_null(0),
            excluded_micro=pl.col("excluded_micro").fill_null(0),
        )
        .with_columns(
            observed_qty=div_round(pl.col("observed_micro"), MICRO),
            excluded_qty=div_round(pl.col("excluded_micro"), MICRO),
        )
        .with_columns(billable_qty=pl.col("observed_qty") - pl.col("excluded_qty"))
        .filter(
            pl.when(pl.col("has_contract"))
            .then(pl.col("_seen") | pl.col("_observable").fill_null(False))
            .otherwise(pl.col("observed_micro") > pl.col("excluded_micro"))
        )
    )
    billable_micro = (
        pl.when(pl.col("prorate"))
        .then(pl.col("observed_micro") - pl.col("excluded_micro"))
        .otherwise(times(pl.col("billable_qty"), MICRO))
    )
    delta = wide(pl.col("delta_micro")).abs()
    tolerance = (delta <= wide(pl.col("tolerance_units")) * MICRO) | (
        delta * 10_000 <= wide(pl.col("tolerance_bp")) * pl.col("billed_qty") * MICRO
    ).fill_null(False)
    priced = (
        merged.with_columns(
            delta_micro=narrow(wide(billable_micro) - wide(pl.col("billed_qty")) * MICRO),
            delta_qty=pl.col("billable_qty") - pl.col("billed_qty"),
            unit_price_cents=pl.coalesce("contract_price_cents", "unit_price_cents"),
        )
        .with_columns(
            monthly_amount_cents=div_round(wide(pl.col("delta_micro")) * pl.col("unit_price_cents"), MICRO),
            status=pl.when(~pl.col("has_contract"))
            .then(pl.lit("no_contract"))
            .when(pl.col("delta_micro") == 0)
            .then(pl.lit("match"))
            .when(tolerance)
            .then(pl.lit("within_tolerance"))
            .when(pl.col("delta_micro") > 0)
            .then(pl.lit("under_billed"))
            .otherwise(pl.lit("over_billed")),
            cost_cents=pl.coalesce(
                _cost(pl.col("_cost_count").fill_null(0), pl.col("_cost_total")),
                times(pl.col("unit_cost_cents"), pl.col("observed_qty")),
            ),
        )
        .with_columns(
            margin_cents=narrow(
                wide(pl.col("billed_qty")) * pl.col("unit_price_cents") - wide(pl.col("cost_cents"))
            )
        )
        .with_columns(negative_margin=(pl.col("margin_cents") < 0).fill_null(False))
    )
    return priced.select(LEDGER_COLUMNS)


def unmapped_ledger(inputs: Inputs, first: date, last: date) -> pl.LazyFrame:
    """Counts from orgs billed to no client, per source org x product x month, priced at list."""
    return (
        _counts(inputs, first, last)
        .filter(pl.col("client_id").is_null())
        .group_by("source", "org_external_id", "product_id", "month")
        .agg(
            wide_sum("observed_micro").alias("observed_micro"),
            wide_sum("cost_cents").alias("_cost_total"),
            pl.col("cost_cents").count().alias("_cost_count"),
        )
        .join(inputs.products.lazy().select("product_id", "unit_price_cents"), on="product_id")
        .with_columns(observed_qty=div_round(pl.col("observed_micro"), MICRO))
        .filter(pl.col("observed_qty") > 0)
        .with_columns(
            monthly_amount_cents=times(pl.col("observed_qty"), pl.col("unit_price_cents")),
            cost_cents=_cost(pl.col("_cost_count"), pl.col("_cost_total")),
        )
        .select(UNMAPPED_COLUMNS)
    )
