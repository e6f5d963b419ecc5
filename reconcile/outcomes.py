"""What a period's gap money is: open, recovered, written off or deferred — defined once, for every
page, the CLI and the reports.

Each gap has two amounts: its **monthly** amount (this month's under-billed units × price) and its
**one-time** amount (the back-bill: past under-billed months that can still be billed). The gap's
standing decision for the period (the latest one not undone) says where each amount goes:

| decision   | monthly                        | one-time                              |
|------------|--------------------------------|---------------------------------------|
| none       | open                           | open                                  |
| exclude    | open (what is left after it)   | open (what is left after it)          |
| bump       | recovered (as when decided)    | deferred                              |
| back_bill  | deferred                       | recovered (as when decided)           |
| write_off  | written off                    | written off (as when decided)         |
| defer      | deferred                       | deferred                              |

Deferred money is money the decision neither bills nor writes off: it comes back in a later period
(this month's difference becomes a back-billable past month). A bump makes the month match and a
back-bill or write-off covers its months, so those amounts are read from the decision, as it was
taken. Over-billing and unmapped orgs are reported on their own, never as leakage.
"""

from __future__ import annotations

import polars as pl

from reconcile.ledger import UNDER_BILLED
from reconcile.rounding import exact_sum

STATES = ("open", "recovered", "written_off", "deferred")
OUTCOME_COLUMNS = [
    "open",
    *(f"{state}_monthly_cents" for state in STATES),
    *(f"{state}_one_time_cents" for state in STATES),
]
# Statuses a person decides on: a gap of one of these with no standing decision is open.
DECIDABLE = (*UNDER_BILLED, "over_billed", "unmapped")
# Decisions that leave the gap's money where it was (an exclusion changes the count, not the state).
LEAVES_OPEN = ("exclude",)

MONTHLY_STATE = {
    "bump": "recovered",
    "back_bill": "deferred",
    "write_off": "written_off",
    "defer": "deferred",
}
ONE_TIME_STATE = {
    "bump": "deferred",
    "back_bill": "recovered",
    "write_off": "written_off",
    "defer": "deferred",
}
# Where the amount comes from once decided: the decision's own figure, or the gap as it is now.
FROM_DECISION_MONTHLY = ("bump",)
FROM_DECISION_ONE_TIME = ("back_bill", "write_off")


def standing_decisions(decisions: pl.LazyFrame, period_text: str) -> pl.LazyFrame:
    """The decision that stands for each client × product in `period_text`: the latest one that is
    neither an undo nor undone. Columns: client_id, product_id, decision, decision_note, decision_id,
    decision_monthly_cents, decision_back_bill_cents."""
    undone = decisions.select(pl.col("reverses_decision_id").alias("decision_id")).drop_nulls()
    return (
        decisions.filter(pl.col("period") == period_text)
        .filter(pl.col("reverses_decision_id").is_null())
        .join(undone, on="decision_id", how="anti")
        .sort("decision_id")
        .group_by("client_id", "product_id")
        .agg(
            pl.col("action").last().alias("decision"),
            pl.col("note").last().alias("decision_note"),
            pl.col("decision_id").last(),
            pl.col("amount_cents").last().alias("decision_monthly_cents"),
            pl.col("back_bill_cents").last().alias("decision_back_bill_cents"),
        )
    )


def undone_decisions(decisions: pl.LazyFrame) -> pl.LazyFrame:
    """Decisions that stand for nothing: every undo, and every decision an undo reverses."""
    undone = decisions.select(pl.col("reverses_decision_id").alias("decision_id")).drop_nulls()
    undos = decisions.filter(pl.col("reverses_decision_id").is_not_null()).select("decision_id")
    return pl.concat([undone, undos]).unique()


def monthly_open() -> pl.Expr:
    """True where the gap's monthly amount is still open (no standing decision, or an exclusion)."""
    return pl.col("decision").is_null() | pl.col("decision").is_in(LEAVES_OPEN)


def one_time_open() -> pl.Expr:
    """True where the gap's one-time (back-bill) amount is still open."""
    return monthly_open()


def _positive(column: str) -> pl.Expr:
    return pl.max_horizontal(pl.col(column).fill_null(0), pl.lit(0, dtype=pl.Int64))


def _split(
    state_of: dict[str, str], now: pl.Expr, decided: pl.Expr, from_decision: tuple[str, ...]
) -> dict[str, pl.Expr]:
    amount = pl.when(pl.col("decision").is_in(from_decision)).then(decided).otherwise(now)
    columns = {"open": pl.when(monthly_open()).then(now).otherwise(0)}
    for state in STATES[1:]:
        actions = [action for action, target in state_of.items() if target == state]
        columns[state] = pl.when(pl.col("decision").is_in(actions)).then(amount).otherwise(0)
    return columns


def gap_outcomes(gaps: pl.LazyFrame) -> pl.LazyFrame:
    """The gaps with OUTCOME_COLUMNS added: `open` (the gap still needs a decision) and each state's
    monthly and one-time cents. Reads status, monthly_amount_cents, back_bill_cents, decision,
    decision_monthly_cents and decision_back_bill_cents."""
    under = pl.col("status").is_in(UNDER_BILLED) & pl.col("client_id").is_not_null()
    monthly_now = pl.when(under).then(_positive("monthly_amount_cents")).otherwise(0)
    one_time_now = pl.col("back_bill_cents").fill_null(0)
    monthly = _split(MONTHLY_STATE, monthly_now, _positive("decision_monthly_cents"), FROM_DECISION_MONTHLY)
    one_time = _split(
        ONE_TIME_STATE, one_time_now, _positive("decision_back_bill_cents"), FROM_DECISION_ONE_TIME
    )
    needs_decision = pl.col("status").is_in(DECIDABLE) | (one_time_now > 0)
    return gaps.with_columns(
        (monthly_open() & needs_decision).alias("open"),
        *(expr.cast(pl.Int64).alias(f"{state}_monthly_cents") for state, expr in monthly.items()),
        *(expr.cast(pl.Int64).alias(f"{state}_one_time_cents") for state, expr in one_time.items()),
    )


def outcome_totals(gaps: pl.DataFrame) -> dict[str, int]:
    """Sums of the outcome columns over any set of gap rows (a period, a client): `open_gaps`, and
    `<state>_monthly_cents` / `<state>_one_time_cents` for every state."""
    result = {"open_gaps": int(gaps["open"].sum())}
    for name in OUTCOME_COLUMNS[1:]:
        result[name] = exact_sum(gaps[name])
    return result
