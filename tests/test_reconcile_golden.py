"""Named business scenarios with hand-computed expectations, run through the pure engine."""

from __future__ import annotations

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from reconcile.gaps import totals
from reconcile.history import leakage_history
from reconcile.ledger import monthly_ledger
from reconcile.periods import parse_period
from reconcile.run import reconcile_inputs
from reconcile.whatif import what_if
from tests.reconcile_seed import PureBook

COLUMNS = [
    "client",
    "product_code",
    "billed_qty",
    "observed_qty",
    "excluded_qty",
    "billable_qty",
    "delta_qty",
    "unit_price_cents",
    "monthly_amount_cents",
    "status",
]


def gaps_of(book: PureBook, period: str = "2026-03", back_bill_months: int = 12) -> pl.DataFrame:
    return reconcile_inputs(book.inputs(), parse_period(period), back_bill_months).gaps


def expected(rows: list[tuple[object, ...]], columns: list[str] = COLUMNS) -> pl.DataFrame:
    schema = {
        c: (pl.String if c in {"client", "product_code", "status", "since"} else pl.Int64) for c in columns
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def rmm_book() -> PureBook:
    book = PureBook()
    book.product("WS", 4500)
    book.mapping("WS", "ninja", "devices", node_class=["WINDOWS_WORKSTATION", "MAC"])
    book.client("Acme Dental", ninja="12")
    book.contract("Acme Dental", "WS", 680, date(2025, 1, 1))
    return book


def test_rmm_712_devices_against_680_contracted_at_45() -> None:
    book = rmm_book()
    book.count("ninja", "12", "devices", "2026-03", 700, node_class="WINDOWS_WORKSTATION")
    book.count("ninja", "12", "devices", "2026-03", 12, node_class="MAC")
    book.count("ninja", "12", "devices", "2026-03", 9, node_class="WINDOWS_SERVER")  # not a workstation
    gaps = gaps_of(book)
    assert_frame_equal(
        gaps.select(COLUMNS),
        expected([("Acme Dental", "WS", 680, 712, 0, 712, 32, 4500, 144_000, "under_billed")]),
    )
    assert gaps["since"].to_list() == ["2026-03"]
    assert gaps["back_bill_cents"].to_list() == [0]
    assert totals(gaps)["leakage_monthly_cents"] == 144_000
    assert totals(gaps)["leakage_annual_cents"] == 1_728_000


def m365_book() -> PureBook:
    book = PureBook()
    book.product("M365", 2200, category="identity")
    book.mapping("M365", "m365", "users", licensed="true")
    book.client("Birch Law", m365="tenant-b")
    book.contract("Birch Law", "M365", 40, date(2025, 6, 1))
    return book


def test_m365_47_users_against_40_with_7_shared_mailboxes_excluded_by_rule() -> None:
    book = m365_book()
    book.count("m365", "tenant-b", "users", "2026-03", 40, licensed="true", user_purpose="user")
    book.count("m365", "tenant-b", "users", "2026-03", 7, licensed="true", user_purpose="shared")
    book.exclusion("Birch Law", "m365", user_purpose="shared")
    assert_frame_equal(
        gaps_of(book).select(COLUMNS),
        expected([("Birch Law", "M365", 40, 47, 7, 40, 0, 2200, 0, "match")]),
    )


def test_m365_shared_mailboxes_excluded_one_by_one() -> None:
    book = m365_book()
    book.count("m365", "tenant-b", "users", "2026-03", 47, licensed="true")
    for n in range(7):
        book.entity(
            "m365", "tenant-b", "users", f"shared-{n}", key_attrs={"licensed": "true"}, user_purpose="shared"
        )
        book.exclusion("Birch Law", "m365", entity=f"shared-{n}")
    # An entity that left before the month ended no longer reduces the count.
    book.entity(
        "m365", "tenant-b", "users", "gone", key_attrs={"licensed": "true"}, last_seen=date(2026, 2, 1)
    )
    book.exclusion("Birch Law", "m365", entity="gone")
    assert_frame_equal(
        gaps_of(book).select(COLUMNS),
        expected([("Birch Law", "M365", 40, 47, 7, 40, 0, 2200, 0, "match")]),
    )


def test_rule_on_entity_attributes_not_on_the_key() -> None:
    book = m365_book()
    book.count("m365", "tenant-b", "users", "2026-03", 43, licensed="true")
    for n in range(3):
        book.entity(
            "m365", "tenant-b", "users", f"room-{n}", key_attrs={"licensed": "true"}, user_purpose="room"
        )
    book.entity("m365", "tenant-b", "users", "person", key_attrs={"licensed": "true"}, user_purpose="user")
    book.exclusion("Birch Law", "m365", user_purpose=["room", "equipment"])
    assert_frame_equal(
        gaps_of(book).select(COLUMNS),
        expected([("Birch Law", "M365", 40, 43, 3, 40, 0, 2200, 0, "match")]),
    )


def growing_book() -> PureBook:
    """A gap that grew over five months; the agreement moved from 50 at $45 to 55 at $47 on Feb 1."""
    book = PureBook()
    book.product("WS", 4500)
    book.mapping("WS", "ninja", "devices")
    book.client("Cedar Clinic", ninja="7")
    book.contract("Cedar Clinic", "WS", 50, date(2024, 1, 1), date(2026, 1, 31))
    book.contract("Cedar Clinic", "WS", 55, date(2026, 2, 1), price_cents=4700)
    book.months(
        "ninja",
        "7",
        "devices",
        {"2025-10": 50, "2025-11": 52, "2025-12": 54, "2026-01": 56, "2026-02": 58, "2026-03": 60},
    )
    return book


def test_back_bill_sums_each_month_against_the_line_in_force_that_month() -> None:
    result = reconcile_inputs(growing_book().inputs(), parse_period("2026-03"), 12)
    gap = result.gaps.row(0, named=True)
    # Nov 2x45 + Dec 4x45 + Jan 6x45 + Feb 3x47 = 90 + 180 + 270 + 141
    assert (gap["billed_qty"], gap["delta_qty"], gap["unit_price_cents"]) == (55, 5, 4700)
    assert gap["monthly_amount_cents"] == 23_500
    assert gap["since"] == "2025-11"
    assert gap["back_bill_cents"] == 68_100
    assert gap["back_bill_months"] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert_frame_equal(
        result.back_bill.select("month", "months_back", "amount_cents"),
        pl.DataFrame(
            {
                "month": ["2025-11", "2025-12", "2026-01", "2026-02"],
                "months_back": [4, 3, 2, 1],
                "amount_cents": [9000, 18000, 27000, 14100],
            }
        ),
    )


def test_back_bill_is_bounded_by_the_look_back() -> None:
    gap = gaps_of(growing_book(), back_bill_months=2).row(0, named=True)
    assert (gap["back_bill_cents"], gap["back_bill_months"]) == (41_100, ["2026-01", "2026-02"])
    assert gap["since"] == "2025-11"


def test_written_off_and_already_back_billed_months_are_not_billed_again() -> None:
    book = growing_book()
    book.decision("Cedar Clinic", "WS", "2025-12", "write_off")
    book.decision("Cedar Clinic", "WS", "2026-02", "back_bill", covered=["2025-11"])
    gap = gaps_of(book).row(0, named=True)
    assert (gap["back_bill_cents"], gap["back_bill_months"]) == (27_000 + 14_100, ["2026-01", "2026-02"])


def test_over_billed_client_is_shown_with_its_own_total() -> None:
    book = PureBook()
    book.product("AV", 2000, category="security")
    book.mapping("AV", "huntress", "agents")
    book.client("Dune Realty", huntress="345")
    book.contract("Dune Realty", "AV", 30, date(2025, 1, 1))
    book.months("huntress", "345", "agents", {"2026-01": 30, "2026-02": 25, "2026-03": 25})
    gaps = gaps_of(book)
    assert_frame_equal(
        gaps.select(COLUMNS),
        expected([("Dune Realty", "AV", 30, 25, 0, 25, -5, 2000, -10_000, "over_billed")]),
    )
    assert gaps["since"].to_list() == ["2026-02"]
    assert gaps["back_bill_cents"].to_list() == [0]
    summary = totals(gaps)
    assert (
        summary["over_billed_monthly_cents"],
        summary["leakage_monthly_cents"],
        summary["over_billed"],
    ) == (10_000, 0, 1)


def test_tolerance_in_units_and_percent() -> None:
    book = PureBook()
    book.product("U", 1000, tolerance_units=2)
    book.product("P", 1000, tolerance_bp=500)
    book.mapping("U", "s", "u")
    book.mapping("P", "s", "p")
    for name, org, units, percent in [("A", "a", 2, 105), ("B", "b", 3, 106), ("C", "c", -2, 95)]:
        book.client(name, s=org)
        book.contract(name, "U", 10, date(2025, 1, 1))
        book.contract(name, "P", 100, date(2025, 1, 1))
        book.count("s", org, "u", "2026-03", 10 + units)
        book.count("s", org, "p", "2026-03", percent)
    statuses = gaps_of(book).select("client", "product_code", "status").rows()
    assert statuses == [
        ("A", "P", "within_tolerance"),
        ("A", "U", "within_tolerance"),
        ("B", "P", "under_billed"),
        ("B", "U", "under_billed"),
        ("C", "P", "within_tolerance"),
        ("C", "U", "within_tolerance"),
    ]
    assert totals(gaps_of(book))["leakage_monthly_cents"] == 6000 + 3000


def test_rounding_at_half_a_cent_is_away_from_zero() -> None:
    book = PureBook()
    book.product("PR", 1001, prorate=True)
    book.product("AVG", 1001, policy="average")
    book.mapping("PR", "s", "pr")
    book.mapping("AVG", "s", "avg")
    for name, org, day_sum in [("Up", "u", 81), ("Down", "d", 79)]:
        book.client(name, s=org)
        book.contract(name, "PR", 40, date(2025, 1, 1))
        book.contract(name, "AVG", 40, date(2025, 1, 1))
        # 2 counted days averaging 40.5 (or 39.5) units
        book.count("s", org, "pr", "2026-03", 41, day_sum=day_sum, days=2)
        book.count("s", org, "avg", "2026-03", 41, day_sum=day_sum, days=2)
    rows = {(r["client"], r["product_code"]): r for r in gaps_of(book).iter_rows(named=True)}
    # prorated: exactly +/-0.5 unit x $10.01 = 500.5 cents, rounded once, away from zero
    assert rows[("Up", "PR")]["monthly_amount_cents"] == 501
    assert rows[("Down", "PR")]["monthly_amount_cents"] == -501
    # average policy: the average rounds to whole units first (40.5 -> 41, 39.5 -> 40)
    assert (rows[("Up", "AVG")]["observed_qty"], rows[("Up", "AVG")]["monthly_amount_cents"]) == (41, 1001)
    assert (rows[("Down", "AVG")]["observed_qty"], rows[("Down", "AVG")]["status"]) == (40, "match")


def test_peak_policy_bundles_no_contract_and_unmapped() -> None:
    book = PureBook()
    book.product("SEAT", 1500, policy="peak", category="identity")
    book.mapping("SEAT", "m365", "licenses_assigned", sku="O365_BUSINESS_PREMIUM")
    book.mapping("SEAT", "m365", "licenses_assigned", sku="SPE_E3")
    book.client("Elm Co", m365="t1")
    book.client("Fir Co", m365="t2")
    book.contract("Elm Co", "SEAT", 10, date(2025, 1, 1))
    book.count("m365", "t1", "licenses_assigned", "2026-03", 6, peak=8, sku="O365_BUSINESS_PREMIUM")
    book.count("m365", "t1", "licenses_assigned", "2026-03", 4, peak=4, sku="SPE_E3")
    book.count("m365", "t1", "licenses_assigned", "2026-03", 50, sku="EXCHANGESTANDARD")
    book.count("m365", "t2", "licenses_assigned", "2026-03", 3, sku="SPE_E3")
    book.count("m365", "t9", "licenses_assigned", "2026-03", 5, sku="SPE_E3")
    book.source_org("m365", "t9", "Grove Partners")
    gaps = gaps_of(book)
    assert_frame_equal(
        gaps.select(COLUMNS),
        expected(
            [
                ("Elm Co", "SEAT", 10, 12, 0, 12, 2, 1500, 3000, "under_billed"),
                ("Fir Co", "SEAT", 0, 3, 0, 3, 3, 1500, 4500, "no_contract"),
                ("Grove Partners", "SEAT", 0, 5, 0, 5, 5, 1500, 7500, "unmapped"),
            ]
        ),
    )
    assert gaps.filter(pl.col("status") == "unmapped")["org_external_id"].to_list() == ["t9"]
    summary = totals(gaps)
    assert (summary["leakage_monthly_cents"], summary["unmapped_monthly_cents"]) == (7500, 7500)


def test_vendor_cost_and_negative_margin() -> None:
    book = PureBook()
    book.product("BK", 1000, category="distributor")
    book.product("AV", 500, category="security", unit_cost_cents=300)
    book.mapping("BK", "pax8", "subscriptions")
    book.mapping("AV", "huntress", "agents")
    book.client("Hazel", pax8="p1", huntress="h1")
    book.contract("Hazel", "BK", 10, date(2025, 1, 1))
    book.contract("Hazel", "AV", 10, date(2025, 1, 1))
    book.count("pax8", "p1", "subscriptions", "2026-03", 10, cost_cents=12_000)
    book.count("huntress", "h1", "agents", "2026-03", 10)
    rows = gaps_of(book).select("product_code", "cost_cents", "margin_cents", "negative_margin").rows()
    assert rows == [("AV", 3000, 2000, False), ("BK", 12_000, -2000, True)]


def test_contract_without_counts_is_over_billed_only_where_the_source_reported() -> None:
    book = PureBook()
    book.product("WS", 4500)
    book.product("BACKUP", 900, category="backup")
    book.mapping("WS", "ninja", "devices")
    book.mapping("BACKUP", "datto_saas", "seats")
    book.client("Ivy", ninja="1")
    book.contract("Ivy", "WS", 5, date(2025, 1, 1))
    book.contract("Ivy", "BACKUP", 5, date(2025, 1, 1))  # no backup org mapped: not observable
    book.count("ninja", "1", "servers", "2026-03", 2)  # ninja reported for Ivy, no workstation left
    assert gaps_of(book).select("product_code", "observed_qty", "status").rows() == [("WS", 0, "over_billed")]


def test_decision_is_shown_on_its_period_only() -> None:
    book = rmm_book()
    book.months("ninja", "12", "devices", {"2026-02": 700, "2026-03": 712}, node_class="MAC")
    book.decision("Acme Dental", "WS", "2026-03", "defer", note="ask the owner")
    book.decision("Acme Dental", "WS", "2026-03", "write_off", note="goodwill")
    assert gaps_of(book).select("decision", "decision_note").rows() == [("write_off", "goodwill")]
    assert gaps_of(book, "2026-02").select("decision").rows() == [(None,)]
    assert totals(gaps_of(book))["open_gaps"] == 0


def test_history_and_what_if_from_the_same_ledger() -> None:
    book = growing_book()
    inputs = book.inputs()
    history = leakage_history(
        inputs, monthly_ledger(inputs, parse_period("2025-10"), parse_period("2026-03"))
    )
    assert history.select("period", "leakage_cents").rows() == [
        ("2025-11", 9000),
        ("2025-12", 18000),
        ("2026-01", 27000),
        ("2026-02", 14100),
        ("2026-03", 23500),
    ]
    result = reconcile_inputs(inputs, parse_period("2026-03"), 12)
    outcome = what_if(result.gaps, result.back_bill, 50, 2)
    # 50 % of (Feb 141 + Jan 270) = 205.50; 50 % of 235.00 monthly = 117.50
    assert outcome.select("one_time_cents", "monthly_cents", "annual_cents").rows() == [
        (20_550, 11_750, 141_000)
    ]
