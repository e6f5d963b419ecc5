"""What recovering part of the gaps would bring: one-time back-bill and the higher recurring baseline."""

from __future__ import annotations

import polars as pl

from reconcile.ledger import UNDER_BILLED
from reconcile.outcomes import one_time_open
from reconcile.rounding import div_round, times, wide, wide_sum
from reconcile.schemas import ENGINE

WHAT_IF_COLUMNS = ["client_id", "client", "one_time_cents", "monthly_cents", "annual_cents"]


def what_if(
    gaps: pl.DataFrame, back_bill: pl.DataFrame, recovery_pct: int, lookback_months: int
) -> pl.DataFrame:
    """Per client: `recovery_pct` % of each gap's open monthly amount (rounded once per line), and of its
    billable past months up to `lookback_months` back while its one-time amount is open (see
    reconcile.outcomes); annual is twelve months. At 100 % and the configured look-back this is the
    period's open leakage and open back-bill."""
    if not 0 <= recovery_pct <= 100:
        raise ValueError(f"recovery must be between 0 and 100 %, got {recovery_pct}")
    if lookback_months < 0:
        raise ValueError(f"look-back must be 0 months or more, got {lookback_months}")
    # A gap that matches today can still have open past months to back-bill.
    lines = gaps.lazy().filter(
        pl.col("client_id").is_not_null()
        & (pl.col("status").is_in(UNDER_BILLED) | (pl.col("open_one_time_cents") > 0))
    )
    open_past = gaps.lazy().filter(one_time_open() & pl.col("client_id").is_not_null())
    past = (
        back_bill.lazy()
        .filter(pl.col("back_billable") & (pl.col("months_back") <= lookback_months))
        .join(open_past.select("client_id", "product_id"), on=["client_id", "product_id"], how="semi")
        .group_by("client_id", "product_id")
        .agg(wide_sum("amount_cents").alias("_past"))
    )
    pct = pl.lit(recovery_pct, dtype=pl.Int64)
    return (
        lines.join(past, on=["client_id", "product_id"], how="left")
        .with_columns(
            one_time_cents=div_round(wide(pl.col("_past").fill_null(0)) * pct, 100),
            monthly_cents=div_round(wide(pl.col("open_monthly_cents")) * pct, 100),
        )
        .group_by("client_id", "client")
        .agg(
            wide_sum("one_time_cents").alias("one_time_cents"),
            wide_sum("monthly_cents").alias("monthly_cents"),
        )
        .with_columns(annual_cents=times(pl.col("monthly_cents"), 12))
        .select(WHAT_IF_COLUMNS)
        .sort("client")
        .collect(engine=ENGINE)
    )
