"""Leakage per client per month, read from the same ledger as a period's gaps."""

from __future__ import annotations

import polars as pl

from reconcile.ledger import UNDER_BILLED
from reconcile.rounding import wide_sum
from reconcile.schemas import ENGINE, Inputs

HISTORY_COLUMNS = ["period", "client_id", "client", "category", "leakage_cents", "over_billed_cents"]


def leakage_history(inputs: Inputs, ledger: pl.LazyFrame) -> pl.DataFrame:
    """period, client_id, client, category, leakage_cents (under-billed and uncontracted monthly amounts),
    over_billed_cents (what clients were over-charged, positive); months without either are left out."""
    amount = pl.col("monthly_amount_cents")
    return (
        ledger.join(inputs.products.lazy().select("product_id", "category"), on="product_id")
        .group_by("month", "client_id", "category")
        .agg(
            wide_sum(amount.filter(pl.col("status").is_in(UNDER_BILLED))).alias("leakage_cents"),
            wide_sum(-amount.filter(pl.col("status") == "over_billed")).alias("over_billed_cents"),
        )
        .filter((pl.col("leakage_cents") != 0) | (pl.col("over_billed_cents") != 0))
        .join(inputs.clients.lazy(), on="client_id", how="left")
        .with_columns(period=pl.col("month").dt.strftime("%Y-%m"))
        .select(HISTORY_COLUMNS)
        .sort("period", "client", "category", nulls_last=True)
        .collect(engine=ENGINE)
    )
