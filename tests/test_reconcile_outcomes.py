"""Open, recovered, written-off and deferred money (reconcile.outcomes), and exclusions that apply from
a start month: tiny literal frames and named scenarios through the pure engine."""

from __future__ import annotations

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from reconcile.gaps import totals
from reconcile.history import leakage_history
from reconcile.ledger import monthly_ledger
from reconcile.outcomes import OUTCOME_COLUMNS, gap_outcomes, standing_decisions
from reconcile.periods import parse_period
from reconcile.run import reconcile_inputs
from reconcile.schemas import DECISIONS, frame
from reconcile.whatif import what_if
from tests.reconcile_seed import PureBook

GAP_IN = {
    "client_id": pl.Int64,
    "status": pl.String,
    "monthly_amount_cents": pl.Int64,
    "back_bill_cents": pl.Int64,
    "decision": pl.String,
    "decision_monthly_cents": pl.Int64,
    "decision_back_bill_cents": pl.Int64,
}
OUT = {"open": pl.Boolean, **{name: pl.Int64 for name in OUTCOME_COLUMNS[1:]}}


def test_each_decision_puts_the_gap_money_in_one_state() -> None:
    # monthly 100 now, 700 back-bill now; where the decision changed the figures, it remembers them
    gaps = pl.DataFrame(
        [
            (1, "under_billed", 100, 700, None, None, None),
            (1, "under_billed", 100, 700, "exclude", 300, 700),  # what is left after an exclusion is open
            (1, "match", 0, 700, "bump", 250, 700),  # the bump made the month match
            (1, "under_billed", 100, 0, "back_bill", 100, 700),  # the back-bill covered its months
            (1, "under_billed", 100, 0, "write_off", 100, 700),  # so did the write-off
            (1, "under_billed", 100, 700, "defer", 100, 700),
            (1, "over_billed", -40, 0, None, None, None),  # over-billing is never leakage
            (None, "unmapped", 90, 0, None, None, None),  # nor are orgs billed to nobody
            (1, "match", 0, 0, None, None, None),  # nothing to decide
            (1, "match", 0, 500, None, None, None),  # matches now, past months still billable
        ],
        schema=GAP_IN,
        orient="row",
    )
    expected = pl.DataFrame(
        # open, monthly: open, recovered, written off, deferred; one-time: the same four
        [
            (True, 100, 0, 0, 0, 700, 0, 0, 0),
            (True, 100, 0, 0, 0, 700, 0, 0, 0),
            (False, 0, 250, 0, 0, 0, 0, 0, 700),
            (False, 0, 0, 0, 100, 0, 700, 0, 0),
            (False, 0, 0, 100, 0, 0, 0, 700, 0),
            (False, 0, 0, 0, 100, 0, 0, 0, 700),
            (True, 0, 0, 0, 0, 0, 0, 0, 0),
            (True, 0, 0, 0, 0, 0, 0, 0, 0),
            (False, 0, 0, 0, 0, 0, 0, 0, 0),
            (True, 0, 0, 0, 0, 500, 0, 0, 0),
        ],
        schema=OUT,
        orient="row",
    )
    assert_frame_equal(gap_outcomes(gaps.lazy()).collect().select(OUTCOME_COLUMNS), expected)


def decisions(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    """decision_id, action, period, reverses_decision_id for client 1 × product 1."""
    return frame(
        [
            {
                "decision_id": did,
                "client_id": 1,
                "product_id": 1,
                "period": period,
                "action": action,
                "note": "",
                "author": "tester",
                "covered_months": [],
                "amount_cents": 100,
                "back_bill_cents": None,
                "reverses_decision_id": reverses,
            }
            for did, action, period, reverses in rows
        ],
        DECISIONS,
    )


def test_the_standing_decision_is_the_latest_not_undone() -> None:
    standing = standing_decisions(
        decisions(
            [
                (1, "bump", "2026-03", None),
                (2, "write_off", "2026-03", None),
                (3, "undo", "2026-03", 2),  # undoes the write-off: the bump stands again
                (4, "defer", "2026-02", None),  # another period
            ]
        ).lazy(),
        "2026-03",
    ).collect()
    assert standing.select("decision", "decision_id").rows() == [("bump", 1)]
    everything_undone = standing_decisions(
        decisions([(1, "bump", "2026-03", None), (2, "undo", "2026-03", 1)]).lazy(), "2026-03"
    ).collect()
    assert everything_undone.height == 0


def cedar() -> PureBook:
    """Cedar Clinic: 50 contracted at $45; 52, 54, 56 devices in Jan–Mar 2026."""
    book = PureBook()
    book.product("WS", 4500)
    book.mapping("WS", "ninja", "devices")
    book.client("Cedar Clinic", ninja="7")
    book.contract("Cedar Clinic", "WS", 50, date(2025, 1, 1))
    book.months("ninja", "7", "devices", {"2026-01": 52, "2026-02": 54, "2026-03": 56})
    return book


def result_of(book: PureBook, period: str = "2026-03"):  # type: ignore[no-untyped-def]
    return reconcile_inputs(book.inputs(), parse_period(period), 12)


def test_writing_off_a_gap_removes_it_from_the_open_leakage() -> None:
    book = cedar()
    before = totals(result_of(book).gaps)
    assert (before["leakage_monthly_cents"], before["back_bill_cents"]) == (6 * 4500, (2 + 4) * 4500)
    book.decision(
        "Cedar Clinic",
        "WS",
        "2026-03",
        "write_off",
        covered=["2026-01", "2026-02"],
        amount_cents=6 * 4500,
        back_bill_cents=6 * 4500,
    )
    after = totals(result_of(book).gaps)
    assert (after["leakage_monthly_cents"], after["back_bill_cents"], after["open_gaps"]) == (0, 0, 0)
    assert (after["written_off_monthly_cents"], after["written_off_one_time_cents"]) == (6 * 4500, 6 * 4500)
    # the months it was offered stay written off: next month does not bill them again
    book.count("ninja", "7", "devices", "2026-04", 56)
    april = result_of(book, "2026-04").gaps.row(0, named=True)
    assert (april["back_bill_cents"], april["back_bill_months"]) == (0, [])


def test_an_undone_write_off_gives_the_months_back() -> None:
    book = cedar()
    written_off = book.decision("Cedar Clinic", "WS", "2026-03", "write_off", covered=["2026-01", "2026-02"])
    book.decision("Cedar Clinic", "WS", "2026-03", "undo", reverses=written_off)
    gap = result_of(book).gaps.row(0, named=True)
    assert (gap["decision"], gap["open"], gap["back_bill_cents"]) == (None, True, (2 + 4) * 4500)


def test_what_if_at_full_recovery_equals_the_open_figures_after_a_bump() -> None:
    book = cedar()
    book.client("Dune Dental", ninja="8")
    book.contract("Dune Dental", "WS", 10, date(2025, 1, 1))
    book.months("ninja", "8", "devices", {"2026-01": 11, "2026-02": 11, "2026-03": 13})
    # Cedar's agreement is bumped to 56 from March: its month matches, its back-bill is deferred
    book.contract("Cedar Clinic", "WS", 6, date(2026, 3, 1))
    book.decision("Cedar Clinic", "WS", "2026-03", "bump", amount_cents=6 * 4500)
    result = result_of(book)
    summary = totals(result.gaps)
    assert summary["recovered_monthly_cents"] == 6 * 4500
    assert summary["deferred_one_time_cents"] == (2 + 4) * 4500
    assert (summary["leakage_monthly_cents"], summary["back_bill_cents"]) == (3 * 4500, 2 * 4500)
    full = what_if(result.gaps, result.back_bill, 100, 12)
    assert (int(full["monthly_cents"].sum()), int(full["one_time_cents"].sum())) == (3 * 4500, 2 * 4500)


LEDGER = ["month", "observed_qty", "excluded_qty", "billable_qty", "monthly_amount_cents"]


def birch(start: date | None) -> PureBook:
    """Birch Law: 40 seats contracted at $22; 47 counted every month, 7 of them shared mailboxes."""
    book = PureBook()
    book.product("M365", 2200, category="identity")
    book.mapping("M365", "m365", "users", licensed="true")
    book.client("Birch Law", m365="tenant-b")
    book.contract("Birch Law", "M365", 40, date(2025, 6, 1))
    for period in ("2026-01", "2026-02", "2026-03"):
        book.count("m365", "tenant-b", "users", period, 40, licensed="true", user_purpose="user")
        book.count("m365", "tenant-b", "users", period, 7, licensed="true", user_purpose="shared")
    book.exclusion("Birch Law", "m365", start=start, user_purpose="shared")
    return book


def ledger_of(book: PureBook) -> pl.DataFrame:
    ledger = monthly_ledger(book.inputs(), date(2026, 1, 1), date(2026, 3, 1))
    return ledger.sort("month").select(LEDGER).collect()


def months(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    schema = {"month": pl.Date, **{name: pl.Int64 for name in LEDGER[1:]}}
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_a_rule_exclusion_applies_from_its_start_month_on() -> None:
    assert_frame_equal(
        ledger_of(birch(date(2026, 3, 1))),
        months(
            [
                (date(2026, 1, 1), 47, 0, 47, 7 * 2200),
                (date(2026, 2, 1), 47, 0, 47, 7 * 2200),
                (date(2026, 3, 1), 47, 7, 40, 0),
            ]
        ),
    )
    # without a start it applies to every month, as a book's standing rule does
    assert ledger_of(birch(None))["excluded_qty"].to_list() == [7, 7, 7]


def test_history_keeps_the_leakage_of_months_before_an_exclusion() -> None:
    book = birch(date(2026, 3, 1))
    inputs = book.inputs()
    history = leakage_history(inputs, monthly_ledger(inputs, date(2026, 1, 1), date(2026, 3, 1)))
    assert history.select("period", "leakage_cents").rows() == [("2026-01", 7 * 2200), ("2026-02", 7 * 2200)]
    # the past months are still back-billable until a person decides them
    gap = result_of(book).gaps.row(0, named=True)
    assert (gap["status"], gap["back_bill_cents"], gap["open"]) == ("match", 2 * 7 * 2200, True)


def test_an_entity_exclusion_applies_from_its_start_month_on() -> None:
    book = PureBook()
    book.product("M365", 2200, category="identity")
    book.mapping("M365", "m365", "users", licensed="true")
    book.client("Birch Law", m365="tenant-b")
    book.contract("Birch Law", "M365", 40, date(2025, 6, 1))
    for period in ("2026-01", "2026-02", "2026-03"):
        book.count("m365", "tenant-b", "users", period, 42, licensed="true")
    for n in range(2):
        book.entity("m365", "tenant-b", "users", f"shared-{n}", key_attrs={"licensed": "true"})
        book.exclusion("Birch Law", "m365", entity=f"shared-{n}", start=date(2026, 2, 15))
    # a start inside a month applies to that month (as a contract line in force on its last day)
    assert_frame_equal(
        ledger_of(book),
        months(
            [
                (date(2026, 1, 1), 42, 0, 42, 2 * 2200),
                (date(2026, 2, 1), 42, 2, 40, 0),
                (date(2026, 3, 1), 42, 2, 40, 0),
            ]
        ),
    )
