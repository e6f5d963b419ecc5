"""The monthly rollup read straight into Arrow equals the same rows read through SQLAlchemy."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, insert, select

from reconcile import schemas as s
from store.db import make_engine, reading, transaction
from store.frames import _frame, columnar
from store.models import CountKey, MonthlyCount


def _seed(engine: Engine) -> None:
    with transaction(engine) as session:
        session.execute(
            insert(CountKey),
            [
                {
                    "id": i,
                    "source": "ninja",
                    "org_external_id": str(i),
                    "metric": "devices",
                    "attrs_json": "{}",
                }
                for i in range(1, 4)
            ],
        )
        session.execute(
            insert(MonthlyCount),
            [
                {
                    "key_id": key,
                    "month": date(2026, month, 1),
                    "first_day": date(2026, month, 1),
                    "qty_end": key * month,
                    "qty_peak": 2**30 + key,
                    "qty_day_sum": key * month * 30,
                    "days": 30,
                    "last_day": date(2026, month, 28),
                    "cost_cents": -5 * key,
                }
                for key in range(1, 4)
                for month in range(1, 13)
            ],
        )


def _query(first: date, last: date):  # type: ignore[no-untyped-def]
    return (
        select(
            MonthlyCount.key_id,
            MonthlyCount.month,
            MonthlyCount.qty_end,
            MonthlyCount.qty_peak,
            MonthlyCount.qty_day_sum,
            MonthlyCount.days,
            MonthlyCount.last_day,
            MonthlyCount.cost_cents,
        )
        .where(MonthlyCount.month.between(first, last))
        .order_by(MonthlyCount.key_id, MonthlyCount.month)
    )


def _both(engine: Engine, first: date, last: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    with reading(engine) as session:
        arrow = columnar(session, _query(first, last), s.MONTHLY)
        rows = _frame(session.execute(_query(first, last)), s.MONTHLY)
    return arrow, rows


def _check(engine: Engine) -> None:
    _seed(engine)
    arrow, rows = _both(engine, date(2026, 3, 1), date(2026, 5, 1))
    assert arrow.height == 9
    assert_frame_equal(arrow, rows)
    empty_arrow, empty_rows = _both(engine, date(2030, 1, 1), date(2030, 2, 1))
    assert empty_arrow.height == 0
    assert_frame_equal(empty_arrow, empty_rows)


def test_sqlite_file_reads_through_adbc_the_same_frame(engine: Engine) -> None:
    _check(engine)


@pytest.mark.postgres
def test_postgresql_reads_through_adbc_the_same_frame(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        _check(engine)
    finally:
        engine.dispose()
