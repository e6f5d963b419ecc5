"""eBillity payloads → time entries without HTTP, and a sync that stores them against mapped clients."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from collectors.ebillity import to_client, to_person, to_time_entry
from collectors.sync import sync_source
from mcc.errors import MalformedPayload
from store.db import reading, transaction
from store.models import Client, ClientOrg, TimeEntry
from tests.sources.conftest import TEST_POLICY
from tests.sources.harness import VENDORS

ENTRY = {
    "TimeEntryId": 70001,
    "ClientId": 5511,
    "EmployeeId": 313598,
    "EntryDate": "2026-02-03",
    "Hours": "1.50",
    "BillRate": "125.50",
    "IsBillable": True,
    "IsBilled": False,
    "Description": "Ticket #4001: printer",
}


def test_time_entry_names_the_person_and_keeps_hours_and_rate_exact() -> None:
    entry = to_time_entry(ENTRY, {"313598": "James Mulvey"})
    assert (entry.external_id, entry.org, entry.day, entry.person) == (
        "70001",
        "5511",
        date(2026, 2, 3),
        "James Mulvey",
    )
    assert (entry.hours, entry.rate_cents, entry.billable, entry.vendor_invoiced) == (
        Decimal("1.50"),
        12550,
        True,
        False,
    )
    assert entry.note == "Ticket #4001: printer"


def test_numbers_as_json_numbers_and_odd_precision_are_kept_exact() -> None:
    """Hours are not cut to hundredths nor the rate to cents: the invoice line rounds once, at the end."""
    entry = to_time_entry({**ENTRY, "Hours": 0.125, "BillRate": 99.995})
    assert (entry.hours, entry.rate, entry.rate_cents) == (Decimal("0.125"), Decimal("99.995"), 10000)
    third = to_time_entry({**ENTRY, "Hours": "0.3333333", "BillRate": "123.455"})
    assert (third.hours, third.rate) == (Decimal("0.3333333"), Decimal("123.455"))


def test_hours_and_rates_beyond_any_real_entry_fail_the_page() -> None:
    with pytest.raises(MalformedPayload, match="Hours must be at most 10,000"):
        to_time_entry({**ENTRY, "Hours": "10000.5"})
    with pytest.raises(MalformedPayload, match="BillRate must be at most 1,000,000.00"):
        to_time_entry({**ENTRY, "BillRate": "1e9"})


def test_unknown_employee_falls_back_to_the_id_and_no_rate_stays_unknown() -> None:
    entry = to_time_entry({**ENTRY, "BillRate": None})
    assert (entry.person, entry.rate_cents) == ("313598", None)


def test_billed_and_non_billable_flags_are_read() -> None:
    entry = to_time_entry({**ENTRY, "IsBillable": False, "IsBilled": True})
    assert (entry.billable, entry.vendor_invoiced) == (False, True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TimeEntryId": None}, "lacks TimeEntryId or ClientId"),
        ({"ClientId": ""}, "lacks TimeEntryId or ClientId"),
        ({"Hours": None}, "has no Hours"),
        ({"Hours": "-1"}, "Hours must be a number ≥ 0"),
        ({"BillRate": "lots"}, "BillRate must be a number ≥ 0"),
        ({"EntryDate": "03/02/2026"}, "EntryDate is not a date"),
    ],
)
def test_malformed_time_entries_name_the_entry_and_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        to_time_entry({**ENTRY, **change})


def test_clients_and_employees() -> None:
    assert to_client({"ClientId": 5511, "ClientName": "Acme Dental"}).external_id == "5511"
    assert to_person({"EmployeeId": 313598, "FirstName": "James", "LastName": "Mulvey"}) == (
        "313598",
        "James Mulvey",
    )
    with pytest.raises(MalformedPayload, match="employee without an EmployeeId"):
        to_person({"FirstName": "x"})
    with pytest.raises(MalformedPayload, match="client without a ClientId"):
        to_client({})


def test_sync_stores_entries_for_mapped_clients_and_refreshes_uninvoiced_ones(
    write_config, engine, monkeypatch
) -> None:
    fake = VENDORS["ebillity"].make_fake()
    url = fake.start()
    try:
        config = write_config(f'[[sources]]\nname = "time"\nkind = "ebillity"\nbase_url = "{url}"\n')
        monkeypatch.setenv("MCC_TIME_API_KEY", "ebillity-TOKEN-8a7b6c")
        with transaction(engine) as session:
            client = Client(name="Acme Dental")
            session.add(client)
            session.flush()
            session.add(ClientOrg(client_id=client.id, source="time", external_id="5511"))
            acme = client.id
        [result] = sync_source(engine, config, "time", policy=TEST_POLICY)
        assert result.ok, result.error
        with transaction(engine) as session:
            first = session.scalars(select(TimeEntry).where(TimeEntry.external_id == "70000")).one()
            first.note = "edited locally"  # not invoiced: the next sync rewrites it from eBillity
        assert all(r.ok for r in sync_source(engine, config, "time", policy=TEST_POLICY))
        with reading(engine) as session:
            rows = session.scalars(select(TimeEntry).where(TimeEntry.source == "time")).all()
            by_id = {
                row.external_id: (
                    row.client_id,
                    row.org_external_id,
                    row.note,
                    row.person,
                    row.vendor_invoiced,
                )
                for row in rows
            }
    finally:
        fake.stop()
    assert len(by_id) == 115  # the five entries last changed 500 days ago are outside the read window
    client_id, org, note, person, vendor_invoiced = by_id["70000"]
    assert (client_id, org, person, vendor_invoiced) == (acme, "5511", "James Mulvey", True)
    assert note.startswith("Ticket #4000")
    assert by_id["70001"][:2] == (None, "5512")  # Birch Legal is not mapped: kept, without a client
    assert fake.requests[-1].arg("lastsyncdate") not in (None, "0")
