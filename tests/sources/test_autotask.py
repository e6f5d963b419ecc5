"""Autotask payloads → contract lines without HTTP: the unit row in force decides quantity and price."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from collectors.autotask import to_lines, to_org
from mcc.errors import MalformedPayload

CONTRACT = {
    "id": 300,
    "companyID": 296,
    "contractName": "Acme recurring",
    "status": 1,
    "endDate": "2027-12-31T00:00:00",
}
SERVICES = {"11": "WS"}


def _unit(unit_id: int, month: int, units: int, price: float = 45.0) -> dict:
    return {
        "id": unit_id,
        "contractID": 300,
        "contractServiceID": 3011,
        "serviceID": 11,
        "units": units,
        "price": price,
        "startDate": f"2026-{month:02d}-01T00:00:00",
        "endDate": f"2026-{month:02d}-28T00:00:00",
    }


def test_the_row_in_force_gives_quantity_and_the_first_row_the_start() -> None:
    rows = [_unit(1, 9, 40), _unit(2, 10, 41), _unit(3, 11, 43, 46.5), _unit(4, 12, 50)]
    [line] = to_lines(CONTRACT, rows, SERVICES, date(2026, 11, 15))
    assert (line.product, line.quantity, line.unit_price) == ("WS", Decimal("43"), Decimal("46.5"))
    assert (line.start, line.end, line.org) == (date(2026, 9, 1), date(2027, 12, 31), "296")


def test_a_service_whose_last_row_has_ended_ends_with_it() -> None:
    [line] = to_lines(CONTRACT, [_unit(1, 3, 5)], SERVICES, date(2026, 11, 15))
    assert line.end == date(2026, 3, 28)


def test_a_service_that_starts_later_is_not_contracted_yet() -> None:
    assert list(to_lines(CONTRACT, [_unit(1, 12, 5)], SERVICES, date(2026, 11, 15))) == []


def test_malformed_rows_name_the_problem() -> None:
    with pytest.raises(MalformedPayload, match="names service '99'"):
        list(to_lines(CONTRACT, [{**_unit(1, 9, 1), "serviceID": 99}], SERVICES, date(2026, 11, 15)))
    with pytest.raises(MalformedPayload, match="units is not a number"):
        list(to_lines(CONTRACT, [{**_unit(1, 9, 1), "units": "many"}], SERVICES, date(2026, 11, 15)))
    with pytest.raises(MalformedPayload, match="company without an id"):
        to_org({"companyName": "x"})
