"""A period's gaps: the ledger's rows for the month, with since, back-bill, decisions and totals."""

from __future__ import annotations

from datetime import date

import polars as pl

from reconcile.ledger import UNDER_BILLED
from reconcile.outcomes import (
    OUTCOME_COLUMNS,
    gap_outcomes,
    outcome_totals,
    standing_decisions,
    undone_decisions,
)
from reconcile.periods import month_index
from reconcile.rounding import exact_sum, wide_sum
from reconcile.schemas import ENGINE, Inputs

GAP_COLUMNS = [
    "client_id",
    "client",
    "product_code",
    "product",
    "category",
    "sources",
    "billed_qty",
    "observed_qty",
    "excluded_qty",
    "billable_qty",
    "delta_qty",
    "unit_price_cents",
    "monthly_amount_cents",
    "status",
    "since",
    "back_bill_cents",
    "back_bill_months",
    "cost_cents",
    "margin_cents",
    "negative_margin",
    "decision",
    "decision_note",
    "product_id",
    "org_external_id",
    "decision_id",
    "decision_monthly_cents",
    "decision_back_bill_cents",
    *OUTCOME_COLUMNS,
]

_INDEX = (
    pl.col("month").dt.year().cast(pl.Int64) * 12 + pl.col("month").dt.month().cast(pl.Int64) - 1
).alias("idx")


def _kind() -> pl.Expr:
    return (
        pl.when(pl.col("status").is_in(UNDER_BILLED))
        .then(pl.lit("under"))
        .when(pl.col("status") == "over_billed")
        .then(pl.lit("over"))
    )


def gap_runs(ledger: pl.LazyFrame, period: date) -> pl.LazyFrame:
    """The months of each current gap's unbroken run up to `period`: client_id, product_id, month, idx,
    kind, monthly_amount_cents. A run breaks at a month with no gap of the same kind, or no row."""
    period_idx = month_index(period)
    group = ["client_id", "product_id"]
    rows = ledger.filter(pl.col("month") <= period).with_columns(_INDEX, kind=_kind())
    current = rows.filter((pl.col("idx") == period_idx) & pl.col("kind").is_not_null()).select(
        *group, pl.col("kind").alias("current_kind")
    )
    # Sorted by months back, a group's run is the prefix whose months back equal their rank: the first
    # missing or different month makes every later month's rank fall behind for good.
    candidates = (
        rows.join(current, on=group)
        .filter(pl.col("kind") == pl.col("current_kind"))
        .with_columns(months_back=period_idx - pl.col("idx"))
        .sort(*group, "months_back")
        .with_row_index("_row")
    )
    new_group = (pl.col("client_id") != pl.col("client_id").shift(1)) | (
        pl.col("product_id") != pl.col("product_id").shift(1)
    )
    start = pl.when(new_group.fill_null(True)).then(pl.col("_row")).forward_fill()
    return candidates.filter(pl.col("months_back") == (pl.col("_row") - start).cast(pl.Int64)).select(
        *group, "month", "idx", "kind", "monthly_amount_cents"
    )


def _decided_months(decisions: pl.LazyFrame) -> pl.LazyFrame:
    """Months that must not be back-billed again: written off (the decision's period and the past
    months its gap offered), or already covered by a back-bill. Undone decisions cover nothing."""
    standing = decisions.join(undone_decisions(decisions), on="decision_id", how="anti")
    written_off = standing.filter(pl.col("action") == "write_off").select(
        "client_id", "product_id", pl.col("period").alias("month_text")
    )
    covered = (
        standing.filter(pl.col("action").is_in(["back_bill", "write_off"]))
        .select("client_id", "product_id", pl.col("covered_months").alias("month_text"))
        .explode("month_text")
        .drop_nulls("month_text")
    )
    return pl.concat([written_off, covered]).unique().with_columns(already=pl.lit(True))


def back_bill_detail(ledger: pl.LazyFrame, period: date, decisions: pl.LazyFrame) -> pl.LazyFrame:
    """Every past under-billed month of a client × product billed in `period`, whether or not the gap is
    still open today: its own amount against the contract line in force that month, how many months
    back, and whether it can still be billed (not written off, not already back-billed)."""
    period_idx = month_index(period)
    current = ledger.filter(pl.col("month") == period).select("client_id", "product_id").unique()
    return (
        ledger.filter(pl.col("month") < period)
        .join(current, on=["client_id", "product_id"])
        .with_columns(_INDEX, kind=_kind())
        .filter(pl.col("kind") == "under")
        .with_columns(month_text=pl.col("month").dt.strftime("%Y-%m"), months_back=period_idx - pl.col("idx"))
        .join(_decided_months(decisions), on=["client_id", "product_id", "month_text"], how="left")
        .select(
            "client_id",
            "product_id",
            pl.col("month_text").alias("month"),
            "months_back",
            pl.col("monthly_amount_cents").alias("amount_cents"),
            back_billable=~pl.col("already").fill_null(False),
        )
    )


def latest_decisions(decisions: pl.LazyFrame, period_text: str) -> pl.LazyFrame:
    """The standing decision per client × product for the period (see reconcile.outcomes)."""
    return standing_decisions(decisions, period_text)


def period_gaps(
    inputs: Inputs,
    ledger: pl.LazyFrame,
    unmapped: pl.LazyFrame,
    period: date,
    back_bill_months: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The gaps frame (GAP_COLUMNS) for `period` and the back-bill detail behind it.

    `back_bill_cents` sums the past under-billed months that can still be billed, at most
    `back_bill_months` months back; `back_bill_months` lists them ("YYYY-MM", oldest first).
    """
    period_text = period.strftime("%Y-%m")
    group = ["client_id", "product_id"]
    runs = gap_runs(ledger, period).collect(engine=ENGINE).lazy()
    since = runs.group_by(group).agg(pl.col("month").min().dt.strftime("%Y-%m").alias("since"))
    detail = back_bill_detail(ledger, period, inputs.decisions.lazy()).collect(engine=ENGINE).lazy()
    billable = (
        detail.filter(pl.col("back_billable") & (pl.col("months_back") <= back_bill_months))
        .sort("month")
        .group_by(group)
        .agg(wide_sum("amount_cents").alias("back_bill_cents"), pl.col("month").alias("back_bill_months"))
    )
    products = inputs.products.lazy().select("product_id", "product_code", "product", "category")
    mapped = (
        ledger.filter(pl.col("month") == period)
        .collect(engine=ENGINE)
        .lazy()
        .join(since, on=group, how="left")
        .join(billable, on=group, how="left")
        .join(latest_decisions(inputs.decisions.lazy(), period_text), on=group, how="left")
        .join(inputs.clients.lazy(), on="client_id", how="left")
        .join(products, on="product_id")
        .with_columns(
            back_bill_cents=pl.col("back_bill_cents").fill_null(0),
            back_bill_months=pl.col("back_bill_months").fill_null([]),
            org_external_id=pl.lit(None, dtype=pl.String),
        )
    )
    orphans = (
        unmapped.filter(pl.col("month") == period)
        .join(inputs.source_orgs.lazy(), on=["source", "org_external_id"], how="left")
        .join(products, on="product_id")
        .select(
            pl.lit(None, dtype=pl.Int64).alias("client_id"),
            pl.coalesce("org_name", "org_external_id").alias("client"),
            "product_code",
            "product",
            "category",
            pl.col("source").alias("sources"),
            pl.lit(0, dtype=pl.Int64).alias("billed_qty"),
            "observed_qty",
            pl.lit(0, dtype=pl.Int64).alias("excluded_qty"),
            pl.col("observed_qty").alias("billable_qty"),
            pl.col("observed_qty").alias("delta_qty"),
            "unit_price_cents",
            "monthly_amount_cents",
            pl.lit("unmapped").alias("status"),
            pl.lit(None, dtype=pl.String).alias("since"),
            pl.lit(0, dtype=pl.Int64).alias("back_bill_cents"),
            pl.lit([], dtype=pl.List(pl.String)).alias("back_bill_months"),
            "cost_cents",
            pl.lit(None, dtype=pl.Int64).alias("margin_cents"),
            pl.lit(False).alias("negative_margin"),
            pl.lit(None, dtype=pl.String).alias("decision"),
            pl.lit(None, dtype=pl.String).alias("decision_note"),
            "product_id",
            "org_external_id",
            pl.lit(None, dtype=pl.Int64).alias("decision_id"),
            pl.lit(None, dtype=pl.Int64).alias("decision_monthly_cents"),
            pl.lit(None, dtype=pl.Int64).alias("decision_back_bill_cents"),
        )
    )
    decided = GAP_COLUMNS[: -len(OUTCOME_COLUMNS)]
    gaps = (
        gap_outcomes(pl.concat([mapped.select(decided), orphans], how="vertical_relaxed"))
        .sort("client", "product_code", "org_external_id", nulls_last=True)
        .collect(engine=ENGINE)
    )
    return gaps, detail.sort(*group, "month").collect(engine=ENGINE)


def totals(gaps: pl.DataFrame) -> dict[str, int]:
    """Sums over any set of gap lines (a period, one client; money in cents): open, recovered, written
    off and deferred money as reconcile.outcomes defines them. The JSON edge turns *_cents into decimal
    strings."""
    under = gaps.filter(pl.col("status").is_in(UNDER_BILLED))
    over = gaps.filter(pl.col("status") == "over_billed")
    unmapped = gaps.filter(pl.col("status") == "unmapped")
    outcomes = outcome_totals(gaps)
    monthly = outcomes["open_monthly_cents"]
    result: dict[str, int] = {
        "gaps": gaps.height,
        **outcomes,
        # leakage and back-bill are the open amounts: what no decision has dealt with yet
        "leakage_monthly_cents": monthly,
        "leakage_annual_cents": monthly * 12,
        "under_billed_monthly_cents": exact_sum(
            under.filter(pl.col("client_id").is_not_null())["monthly_amount_cents"]
        ),
        "over_billed_monthly_cents": -exact_sum(over["monthly_amount_cents"]),
        "back_bill_cents": outcomes["open_one_time_cents"],
        "unmapped_monthly_cents": exact_sum(unmapped["monthly_amount_cents"]),
        "cost_cents": exact_sum(gaps["cost_cents"]),
        "margin_cents": exact_sum(gaps["margin_cents"]),
        "negative_margin_lines": int(gaps["negative_margin"].sum()),
    }
    for status in ("under_billed", "over_billed", "match", "within_tolerance", "no_contract", "unmapped"):
        result[status] = int((gaps["status"] == status).sum())
    return result
