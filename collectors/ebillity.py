"""eBillity (Open API, `restservice/thirdparty`): time entries per eBillity client, with the employee's name.

Only the employees endpoint is publicly documented; the clients and time-entry endpoints and their field
names follow its conventions and are marked `# Unverified:` below (see docs/sources/ebillity.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from collectors.base import Source, Stream
from collectors.http import Api, HeaderAuth
from collectors.paging import Single
from collectors.probes import Probe
from collectors.records import Org, Record, TimeEntry
from collectors.registry import register
from mcc.errors import MalformedPayload
from mcc.money import HOUR_PLACES, MAX_HOURS, MAX_UNIT_PRICE, RATE_PLACES, round_cents, trimmed

BASE = "/restservice/thirdparty"
# Reads are incremental by modification time (`lastsyncdate`). Without a saved cursor each run asks for
# everything changed in this window: entries older than it were stored by earlier runs.
LOOKBACK = timedelta(days=400)


def to_client(raw: Any) -> Org:
    # Unverified: client rows as {"ClientId": 5511, "ClientName": "Acme Dental", ...}.
    if not isinstance(raw, dict) or raw.get("ClientId") in (None, ""):
        raise MalformedPayload(f"ebillity: client without a ClientId: {str(raw)[:120]}")
    name = raw.get("ClientName") or raw.get("CompanyName") or raw["ClientId"]
    return Org(str(raw["ClientId"]), str(name))


def to_person(raw: Any) -> tuple[str, str]:
    """An employee row (documented shape) → (EmployeeId, "First Last")."""
    if not isinstance(raw, dict) or raw.get("EmployeeId") in (None, ""):
        raise MalformedPayload(f"ebillity: employee without an EmployeeId: {str(raw)[:120]}")
    name = " ".join(str(raw.get(key) or "").strip() for key in ("FirstName", "LastName")).strip()
    return str(raw["EmployeeId"]), name or str(raw["EmployeeId"])


def _decimal(raw: dict[str, Any], field: str) -> Decimal | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if isinstance(value, bool) or not number.is_finite() or number < 0:
        raise MalformedPayload(
            f"ebillity: time entry {raw.get('TimeEntryId')} {field} must be a number ≥ 0, got {value!r}"
        )
    return number


def _day(raw: dict[str, Any]) -> date:
    value = raw.get("EntryDate")
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise MalformedPayload(
            f"ebillity: time entry {raw.get('TimeEntryId')} EntryDate is not a date: {value!r}"
        ) from None


def to_time_entry(raw: Any, people: dict[str, str] | None = None) -> TimeEntry:
    """A time entry row → a TimeEntry of its eBillity client; the person is named from the employee list.

    Unverified: fields `TimeEntryId`, `ClientId`, `EmployeeId`, `EntryDate` (YYYY-MM-DD), `Hours` (decimal
    hours), `BillRate` (currency units per hour), `IsBillable`, `IsBilled`, `Description`.
    """
    if not isinstance(raw, dict) or any(raw.get(key) in (None, "") for key in ("TimeEntryId", "ClientId")):
        raise MalformedPayload(f"ebillity: time entry lacks TimeEntryId or ClientId: {str(raw)[:160]}")
    hours = _decimal(raw, "Hours")
    if hours is None:
        raise MalformedPayload(f"ebillity: time entry {raw['TimeEntryId']} has no Hours")
    if hours > MAX_HOURS:
        raise MalformedPayload(
            f"ebillity: time entry {raw['TimeEntryId']} Hours must be at most {MAX_HOURS:,}, got {hours}"
        )
    rate = _decimal(raw, "BillRate")
    if rate is not None and rate > MAX_UNIT_PRICE:
        raise MalformedPayload(
            f"ebillity: time entry {raw['TimeEntryId']} BillRate must be at most {MAX_UNIT_PRICE:,}, got {rate}"
        )
    exact_rate = None if rate is None else trimmed(rate, RATE_PLACES)
    employee = str(raw.get("EmployeeId") or "")
    person = (people or {}).get(employee) or str(raw.get("EmployeeName") or employee or "unknown")
    return TimeEntry(
        external_id=str(raw["TimeEntryId"]),
        org=str(raw["ClientId"]),
        day=_day(raw),
        person=person,
        # Exact hours and rate: the one rounding is the line's amount, on the invoice.
        hours=trimmed(hours, HOUR_PLACES),
        rate_cents=None if exact_rate is None else round_cents(exact_rate * 100),
        rate=exact_rate,
        billable=bool(raw.get("IsBillable", True)),
        note=str(raw.get("Description") or ""),
        vendor_invoiced=bool(raw.get("IsBilled", False)),
    )


@register
class Ebillity(Source):
    kind = "ebillity"
    probes = (
        Probe("clients", f"{BASE}/clients", "Clients", ("ClientId", "ClientName", "CompanyName")),
        Probe("employees", f"{BASE}/employees", "Employees", ("EmployeeId", "FirstName", "LastName"),
              {"lastsyncdate": 0}),
        Probe("time entries", f"{BASE}/timeentries", "TimeEntries", ("TimeEntryId", "ClientId", "EmployeeId",
              "EmployeeName", "EntryDate", "Hours", "BillRate", "IsBillable", "IsBilled", "Description"),
              {"lastsyncdate": 0}),
    )  # fmt: skip
    category = "time"
    title = "eBillity"
    default_base_url = "https://api.ebillity.com"
    secret_keys = ("API_KEY",)  # the firm's auth token from the eBillity portal
    streams = {"time": Stream("every 15 minutes", time_entries=True)}
    # Unverified: eBillity publishes no request limit.
    requests_per_minute = 60

    def auth(self) -> httpx.Auth:
        return HeaderAuth("Authorization", f"Bearer {self.secret('API_KEY')}")

    def orgs(self, api: Api) -> Iterator[Org]:
        # Unverified: GET thirdparty/clients → {"ServerTime": ..., "Clients": [...]}.
        for raw in api.pages(f"{BASE}/clients", Single("Clients")):
            yield to_client(raw)

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        yield from self.orgs(api)
        # Unverified: `lastsyncdate` in epoch seconds (the documented ServerTime is in milliseconds; were
        # the parameter milliseconds too, seconds would read a superset, never miss entries).
        since = {"lastsyncdate": int((datetime.now(UTC) - LOOKBACK).timestamp())}
        employees = api.pages(f"{BASE}/employees", Single("Employees"), {"lastsyncdate": 0})
        people = dict(to_person(raw) for raw in employees)
        # Unverified: GET thirdparty/timeentries?lastsyncdate=<epoch> → {"ServerTime": ..., "TimeEntries": [...]}.
        for raw in api.pages(f"{BASE}/timeentries", Single("TimeEntries"), since):
            yield to_time_entry(raw, people)
