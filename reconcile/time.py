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

    With a block of prepaid hours in force at `period_end`, open entries inside the block's dates are
    billable only as far as they are overage (the block's used hours are every billable entry inside its
    dates, invoiced or not); open entries outside the block's dates bill as usual.
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
    window = in_force.select("client_id", pl.col("start").alias("_from"), pl.col("end").alias("_to"))
    inside = (pl.col("day") >= pl.col("_from")) & (pl.col("_to").is_null() | (pl.col("day") <= pl.col("_to")))
    used = (
        window.join(billable.select("entry_id", "client_id", "day", "hours_x100"), on="client_id")
        .filter(inside)
        .unique("entry_id")
        .group_by("client_id")
        .agg(pl.col("hours_x100").sum().alias("block_used_hours_x100"))
    )
    # open entries inside a block's dates are paid for by the block up to its hours; the rest bill normally
    open_inside = (
        window.join(
            open_entries.select("entry_id", "client_id", "day", "hours_x100", "amount_cents"), on="client_id"
        )
        .filter(inside)
        .unique("entry_id")
        .group_by("client_id")
        .agg(
            pl.col("hours_x100").sum().alias("_inside_hours"),
            pl.col("amount_cents").sum().alias("_inside_cents"),
        )
    )
    overage = (pl.col("block_used_hours_x100") - pl.col("block_hours_x100")).clip(lower_bound=0)
    inside_billable = pl.min_horizontal("_inside_hours", "overage_hours_x100")
    return (
        unbilled.join(block_hours, on="client_id", how="left")
        .join(used, on="client_id", how="left")
        .join(open_inside, on="client_id", how="left")
        .with_columns(
            pl.col("block_hours_x100", "block_used_hours_x100", "_inside_hours", "_inside_cents").fill_null(0)
        )
        .with_columns(
            block_balance_hours_x100=pl.col("block_hours_x100") - pl.col("block_used_hours_x100"),
            overage_hours_x100=overage,
        )
        .with_columns(
            billable_hours_x100=pl.col("unbilled_hours_x100") - pl.col("_inside_hours") + inside_billable,
            billable_cents=pl.col("unbilled_cents")
            - pl.col("_inside_cents")
            + pl.when(pl.col("_inside_hours") > 0)
            .then(div_round(pl.col("_inside_cents") * inside_billable, pl.col("_inside_hours")))
            .otherwise(0),
        )
        .join(clients.lazy(), on="client_id", how="left")
        .select(UNBILLED_COLUMNS)
        .sort("client")
        .collect(engine=ENGINE)
    )
