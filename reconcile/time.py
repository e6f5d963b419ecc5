"""Unbilled time per client: billable hours on no invoice and not written off, and block-hour balances.

Money is computed from exact time: an entry's hours in billionths (`hours_e9`) times its rate in hundredths
of a cent (`rate_e4`), rounded once per entry (one invoice line) half away from zero. Hours shown are
hundredths (`*_x100`), rounded once from the exact sum; money in cents.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from reconcile.rounding import div_round, times, wide, wide_sum
from reconcile.schemas import ENGINE

HOUR_SCALE = 1_000_000_000  # hours_e9: billionths of an hour
RATE_SCALE = 10_000  # rate_e4: hourly rate in hundredths of a cent
# hours_e9 × rate_e4 is in units of 10^-13 currency = 10^-11 cents
AMOUNT_DIVISOR = HOUR_SCALE * RATE_SCALE // 100
X100_DIVISOR = HOUR_SCALE // 100


def exact_entries(entries: pl.DataFrame) -> pl.DataFrame:
    """The entries with `hours_e9` and `rate_e4`; callers that only know hundredths and cents get them
    derived (exactly) from `hours_x100` and `rate_cents`."""
    added = []
    if "hours_e9" not in entries.columns:
        added.append(times(pl.col("hours_x100"), X100_DIVISOR).alias("hours_e9"))
    if "rate_e4" not in entries.columns:
        added.append(times(pl.col("rate_cents"), 100).alias("rate_e4"))
    return entries.with_columns(added) if added else entries


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


def block_coverage(entries: pl.DataFrame, blocks: pl.DataFrame, period_end: date) -> pl.DataFrame:
    """entry_id, covered_hours_e9, covered_hours_x100: how much of each billable entry a prepaid hour block
    pays for (exactly, and in hundredths for display).

    Blocks in force at `period_end` are pooled per client (their hours summed, their dates joined); the
    billable entries inside those dates use the pool up in date order (invoiced ones too), so an
    entry straddling the end of the pool is covered in part.
    """
    pools = (
        blocks.lazy()
        .filter((pl.col("start") <= period_end) & (pl.col("end").is_null() | (pl.col("end") >= period_end)))
        .group_by("client_id")
        .agg(
            wide_sum(times(pl.col("hours_x100"), X100_DIVISOR)).alias("_pool"),
            pl.col("start").min().alias("_from"),
            pl.when(pl.col("end").is_null().any()).then(None).otherwise(pl.col("end").max()).alias("_to"),
        )
    )
    return (
        exact_entries(entries)
        .lazy()
        .filter(pl.col("billable") & pl.col("client_id").is_not_null() & (pl.col("day") <= period_end))
        .join(pools, on="client_id")
        .filter(
            (pl.col("day") >= pl.col("_from")) & (pl.col("_to").is_null() | (pl.col("day") <= pl.col("_to")))
        )
        .sort("client_id", "day", "entry_id")
        .with_columns(_after=pl.col("hours_e9").cum_sum().over("client_id"))
        .with_columns(
            covered_hours_e9=(
                pl.min_horizontal("_after", "_pool") - (pl.col("_after") - pl.col("hours_e9"))
            ).clip(lower_bound=0)
        )
        .with_columns(covered_hours_x100=div_round(pl.col("covered_hours_e9"), X100_DIVISOR))
        .select("entry_id", "covered_hours_e9", "covered_hours_x100")
        .collect(engine=ENGINE)
    )


def unbilled_time(
    entries: pl.DataFrame,
    blocks: pl.DataFrame,
    clients: pl.DataFrame,
    period_end: date,
    default_rate_cents: int | None = None,
) -> pl.DataFrame:
    """One row per client with unbilled billable time up to `period_end`.

    An entry without its own rate is priced at `default_rate_cents` (the time product's price). Hours a
    prepaid block pays for (`block_coverage`) are not billable; the rest of each entry is, line by line
    exactly as the draft invoice bills it.
    """
    entries = exact_entries(entries)
    rate = pl.col("rate_e4").fill_null((default_rate_cents or 0) * 100)
    missing = pl.col("rate_e4").is_null().sum() if default_rate_cents is None else pl.lit(0)
    coverage = block_coverage(entries, blocks, period_end).lazy()
    open_entries = (
        entries.lazy()
        .filter(
            pl.col("billable")
            & pl.col("client_id").is_not_null()
            & (pl.col("day") <= period_end)
            & ~pl.col("invoiced")
            & ~pl.col("written_off")
        )
        .join(coverage, on="entry_id", how="left")
        .with_columns(
            amount_cents=div_round(wide(pl.col("hours_e9")) * rate, AMOUNT_DIVISOR),
            billable_e9=pl.col("hours_e9") - pl.col("covered_hours_e9").fill_null(0),
        )
        .with_columns(billable_cents=div_round(wide(pl.col("billable_e9")) * rate, AMOUNT_DIVISOR))
    )
    unbilled = open_entries.group_by("client_id").agg(
        pl.len().cast(pl.Int64).alias("entries"),
        div_round(wide_sum("hours_e9"), X100_DIVISOR).alias("unbilled_hours_x100"),
        wide_sum("amount_cents").alias("unbilled_cents"),
        missing.cast(pl.Int64).alias("missing_rate_entries"),
        div_round(wide_sum("billable_e9"), X100_DIVISOR).alias("billable_hours_x100"),
        wide_sum("billable_cents").alias("billable_cents"),
    )
    in_force = blocks.lazy().filter(
        (pl.col("start") <= period_end) & (pl.col("end").is_null() | (pl.col("end") >= period_end))
    )
    block_hours = in_force.group_by("client_id").agg(pl.col("hours_x100").sum().alias("block_hours_x100"))
    used = (
        in_force.select("client_id", pl.col("start").alias("_from"), pl.col("end").alias("_to"))
        .join(
            entries.lazy()
            .filter(pl.col("billable") & (pl.col("day") <= period_end))
            .select("entry_id", "client_id", "day", "hours_e9"),
            on="client_id",
        )
        .filter(
            (pl.col("day") >= pl.col("_from")) & (pl.col("_to").is_null() | (pl.col("day") <= pl.col("_to")))
        )
        .unique("entry_id")
        .group_by("client_id")
        .agg(div_round(wide_sum("hours_e9"), X100_DIVISOR).alias("block_used_hours_x100"))
    )
    return (
        unbilled.join(block_hours, on="client_id", how="left")
        .join(used, on="client_id", how="left")
        .with_columns(pl.col("block_hours_x100", "block_used_hours_x100").fill_null(0))
        .with_columns(
            block_balance_hours_x100=pl.col("block_hours_x100") - pl.col("block_used_hours_x100"),
            overage_hours_x100=(pl.col("block_used_hours_x100") - pl.col("block_hours_x100")).clip(
                lower_bound=0
            ),
        )
        .join(clients.lazy(), on="client_id", how="left")
        .select(UNBILLED_COLUMNS)
        .sort("client")
        .collect(engine=ENGINE)
    )
