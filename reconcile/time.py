"""Unbilled time per client: billable hours on no invoice and not written off, and block-hour balances.

Hours are carried as hundredths (Int64 `*_x100`), money in cents.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from reconcile.rounding import div_round
from reconcile.schemas import ENGINE

UNBILLED_COLUMNS = [
    "client_id",
    "client",
    "entries",
    "unbilled_hours_x100",
    "unbilled_cents",
    "missing_rate_entries",
    "block_hours_x100",
    "block_used_hours_x100",
    "block_balance_hours_x100",
    "overage_hours_x100",
    "billable_hours_x100",
    "billable_cents",
]


def unbilled_time(
    entries: pl.DataFrame, blocks: pl.DataFrame, clients: pl.DataFrame, period_end: date
) -> pl.DataFrame:
    """One row per client with unbilled billable time up to `period_end`.

    With a block of prepaid hours in force at `period_end`, only the overage is billable: the block's
    used hours are every billable entry inside the block's dates (invoiced or not).
    """
    billable = entries.lazy().filter(
        pl.col("billable") & pl.col("client_id").is_not_null() & (pl.col("day") <= period_end)
    )
    open_entries = billable.filter(~pl.col("invoiced") & ~pl.col("written_off")).with_columns(
        amount_cents=div_round(pl.col("hours_x100") * pl.col("rate_cents").fill_null(0), 100)
    )
    unbilled = open_entries.group_by("client_id").agg(
        pl.len().cast(pl.Int64).alias("entries"),
        pl.col("hours_x100").sum().alias("unbilled_hours_x100"),
        pl.col("amount_cents").sum().alias("unbilled_cents"),
        pl.col("rate_cents").is_null().sum().cast(pl.Int64).alias("missing_rate_entries"),
    )
    in_force = blocks.lazy().filter(
        (pl.col("start") <= period_end) & (pl.col("end").is_null() | (pl.col("end") >= period_end))
    )
    block_hours = in_force.group_by("client_id").agg(pl.col("hours_x100").sum().alias("block_hours_x100"))
    used = (
        in_force.select("client_id", pl.col("start").alias("_from"), pl.col("end").alias("_to"))
        .join(billable.select("entry_id", "client_id", "day", "hours_x100"), on="client_id")
        .filter(
            (pl.col("day") >= pl.col("_from")) & (pl.col("_to").is_null() | (pl.col("day") <= pl.col("_to")))
        )
        .unique("entry_id")
        .group_by("client_id")
        .agg(pl.col("hours_x100").sum().alias("block_used_hours_x100"))
    )
    overage = (pl.col("block_used_hours_x100") - pl.col("block_hours_x100")).clip(lower_bound=0)
    return (
        unbilled.join(block_hours, on="client_id", how="left")
        .join(used, on="client_id", how="left")
        .with_columns(
            block_hours_x100=pl.col("block_hours_x100").fill_null(0),
            block_used_hours_x100=pl.col("block_used_hours_x100").fill_null(0),
        )
        .with_columns(
            block_balance_hours_x100=pl.col("block_hours_x100") - pl.col("block_used_hours_x100"),
            overage_hours_x100=overage,
        )
        .with_columns(
            billable_hours_x100=pl.when(pl.col("block_hours_x100") > 0)
            .then(pl.min_horizontal("unbilled_hours_x100", "overage_hours_x100"))
            .otherwise(pl.col("unbilled_hours_x100"))
        )
        .with_columns(
            billable_cents=pl.when(pl.col("unbilled_hours_x100") > 0)
            .then(
                div_round(
                    pl.col("unbilled_cents") * pl.col("billable_hours_x100"), pl.col("unbilled_hours_x100")
                )
            )
            .otherwise(0)
        )
        .join(clients.lazy(), on="client_id", how="left")
        .select(UNBILLED_COLUMNS)
        .sort("client")
        .collect(engine=ENGINE)
    )
