"""Unbilled time and prepaid hour blocks, as frames with hand-computed answers."""

from __future__ import annotations

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from reconcile.schemas import CLIENTS, HOUR_BLOCKS, TIME_ENTRIES, frame
from reconcile.time import unbilled_time

NOVEMBER_END = date(2026, 11, 30)
CLIENTS_FRAME = frame([(1, "Acme Dental"), (2, "Birch Legal")], CLIENTS)


def _entries(*rows: tuple[int, int, date, int, int | None, bool, bool, bool]) -> pl.DataFrame:
    return frame(list(rows), TIME_ENTRIES)


def test_a_block_pays_for_time_inside_its_dates_and_time_outside_bills_as_usual() -> None:
    entries = _entries(
        (1, 1, date(2026, 10, 20), 300, 15000, True, False, False),  # before the block: billable
        (2, 1, date(2026, 11, 5), 600, 15000, True, False, False),  # inside the block
        (3, 1, date(2026, 11, 20), 600, 15000, True, False, False),  # inside: 2 h past the block's 10
        (4, 1, date(2026, 11, 21), 100, 15000, False, False, False),  # not billable: ignored
        (5, 2, date(2026, 11, 2), 125, 12000, True, False, False),  # no block: all billable
        (6, 2, date(2026, 11, 3), 200, 12000, True, True, False),  # already invoiced
        (7, 2, date(2026, 11, 4), 100, 12000, True, False, True),  # written off
        (8, 2, date(2026, 12, 1), 100, 12000, True, False, False),  # after the period
    )
    blocks = frame([(1, 1000, date(2026, 11, 1), None)], HOUR_BLOCKS)
    result = unbilled_time(entries, blocks, CLIENTS_FRAME, NOVEMBER_END)
    expected = pl.DataFrame(
        {
            "client_id": [1, 2],
            "client": ["Acme Dental", "Birch Legal"],
            "entries": [3, 1],
            "unbilled_hours_x100": [1500, 125],
            "unbilled_cents": [225000, 15000],
            "missing_rate_entries": [0, 0],
            "block_hours_x100": [1000, 0],
            "block_used_hours_x100": [1200, 0],
            "block_balance_hours_x100": [-200, 0],
            "overage_hours_x100": [200, 0],
            "billable_hours_x100": [500, 125],  # 3 h before the block + 2 h overage; 1.25 h
            "billable_cents": [75000, 15000],
        }
    )
    assert_frame_equal(result, expected, check_dtypes=False)


def test_an_unused_block_leaves_nothing_billable_inside_it() -> None:
    entries = _entries((1, 1, date(2026, 11, 5), 250, 15000, True, False, False))
    blocks = frame([(1, 1000, date(2026, 11, 1), date(2026, 12, 31))], HOUR_BLOCKS)
    row = unbilled_time(entries, blocks, CLIENTS_FRAME, NOVEMBER_END).row(0, named=True)
    assert (row["block_balance_hours_x100"], row["billable_hours_x100"], row["billable_cents"]) == (750, 0, 0)
