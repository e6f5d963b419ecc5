"""Datto SaaS Protection payloads → records without HTTP, plus the per-customer read over the fake."""

from __future__ import annotations

import pytest

from collectors.datto_saas import SLOW_TIMEOUT, billable, to_customer, to_seat
from collectors.http import HttpPolicy
from collectors.records import Entity, Org
from mcc.errors import MalformedPayload
from sandbox.datto_saas import DattoSaasFake
from tests.sources.conftest import TEST_POLICY

DOMAIN = {
    "domain": "example0.com",
    "saasCustomerId": 5000,
    "saasCustomerName": "Example 0",
    "organizationId": 145,
    "organizationName": "Example Org",
    "seatsUsed": 15,
    "productType": "Office365",
    "externalSubscriptionId": "Classic:1234566",
    "retentionType": "ICR",
}
SEAT = {
    "mainId": "jane@example0.com",
    "name": "Jane Doe",
    "seatType": "User",
    "seatState": "Active",
    "billable": "1",
    "dateAdded": "2025-11-04T10:00:00Z",
    "remoteId": "6a1b2c3d-0000-4000-8000-000000000001",
}


def test_the_org_is_the_saas_customer_whose_id_is_an_integer_on_the_wire() -> None:
    assert to_customer(DOMAIN) == Org("5000", "Example 0")
    assert to_customer({"saasCustomerId": 7, "domain": "x.example"}).name == "x.example"
    with pytest.raises(MalformedPayload, match="without a saasCustomerId"):
        to_customer({"domain": "x.example"})


def test_seat_is_keyed_by_seat_type_and_billable_flag() -> None:
    seat = to_seat("5000", SEAT)
    assert (seat.org, seat.metric, seat.name) == ("5000", "seats", "Jane Doe")
    assert seat.external_id == "5000/6a1b2c3d-0000-4000-8000-000000000001"
    assert dict(seat.attrs) == {"seat_type": "User", "billable": "true"}
    assert dict(seat.details)["main_id"] == "jane@example0.com"


def test_seat_without_remote_id_is_keyed_by_main_id() -> None:
    seat = to_seat("5000", {**SEAT, "remoteId": None})
    assert seat.external_id == "5000/jane@example0.com"


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("", False), ("0", False), (None, False), (True, True)]
)
def test_billable_reads_the_string_flag_as_sent_live_and_as_documented(value: object, expected: bool) -> None:
    assert billable(value) is expected


def test_an_unknown_billable_flag_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="billable flag"):
        to_seat("5000", {**SEAT, "billable": "yes"})


@pytest.mark.parametrize("missing", ["mainId", "seatType"])
def test_malformed_seat_rows_name_the_customer_and_the_problem(missing: str) -> None:
    with pytest.raises(MalformedPayload, match="seat row of customer 5000 lacks mainId or seatType"):
        to_seat("5000", {key: value for key, value in SEAT.items() if key != missing})


def test_a_customer_with_two_domains_is_read_once(write_config, monkeypatch) -> None:
    domains = [
        {**DOMAIN, "domain": "a.example"},
        {**DOMAIN, "domain": "b.example"},
        {**DOMAIN, "saasCustomerId": 5001, "saasCustomerName": "Other"},
    ]
    fake = DattoSaasFake(domains, {5000: [SEAT], 5001: [{**SEAT, "remoteId": "other"}]}, "pub", "sec")
    url = fake.start()
    try:
        config = write_config(f'[[sources]]\nname = "backup"\nkind = "datto_saas"\nbase_url = "{url}"\n')
        monkeypatch.setenv("MCC_BACKUP_API_KEY", "pub")
        monkeypatch.setenv("MCC_BACKUP_API_SECRET", "sec")
        source = config.source("backup")
        collector = source.collector(source, source.secrets(), TEST_POLICY)
        api = collector.open_api()
        try:
            records = list(collector.collect(api, "seats"))
        finally:
            api.close()
    finally:
        fake.stop()
    assert [r.external_id for r in records if isinstance(r, Org)] == ["5000", "5001"]
    assert sorted(r.external_id for r in records if isinstance(r, Entity)) == [
        "5000/6a1b2c3d-0000-4000-8000-000000000001",
        "5001/other",
    ]
    assert sum(1 for request in fake.requests if request.path.endswith("/seats")) == 2


def test_the_default_timeout_is_stretched_for_datto_but_a_chosen_policy_is_kept(
    write_config, monkeypatch
) -> None:
    config = write_config('[[sources]]\nname = "backup"\nkind = "datto_saas"\n')
    monkeypatch.setenv("MCC_BACKUP_API_KEY", "pub")
    monkeypatch.setenv("MCC_BACKUP_API_SECRET", "sec")
    source = config.source("backup")
    assert source.collector(source, source.secrets()).policy.timeout == SLOW_TIMEOUT
    assert source.collector(source, source.secrets()).policy.request_deadline > SLOW_TIMEOUT
    assert source.collector(source, source.secrets(), TEST_POLICY).policy == TEST_POLICY
    assert source.url == "https://api.datto.com"
    assert HttpPolicy().timeout < SLOW_TIMEOUT
