"""Huntress payloads → records without HTTP, and the account's 60-per-minute sliding window."""

from __future__ import annotations

import time

import httpx
import pytest

from collectors.http import shared_limiter
from collectors.huntress import to_agent, to_incident, to_org
from mcc.errors import MalformedPayload
from sandbox.huntress import HuntressFake

AGENT = {
    "id": 1,
    "account_id": 5,
    "organization_id": 7,
    "platform": "windows",
    "hostname": "laptop01",
    "os": "Windows 8 Pro",
    "version": "0.11.3",
    "last_callback_at": "2022-03-01T20:05:10Z",
}
INCIDENT = {
    "id": 1,
    "account_id": 5,
    "agent_id": 12,
    "organization_id": 4,
    "platform": "windows",
    "severity": "low",
    "status": "sent",
    "subject": "LOW - Incident on laptop01 (Test)",
    "sent_at": "2022-03-01T21:00:00Z",
}


def test_agent_counts_once_for_its_organization_by_platform() -> None:
    agent = to_agent(AGENT)
    assert (agent.org, agent.metric, agent.external_id, agent.name) == ("7", "agents", "1", "laptop01")
    assert dict(agent.attrs) == {"platform": "windows"}
    assert dict(agent.details)["last_callback_at"] == "2022-03-01T20:05:10Z"


def test_agent_without_hostname_is_named_by_id() -> None:
    assert to_agent({**AGENT, "hostname": None}).name == "1"


@pytest.mark.parametrize("missing", ["id", "organization_id", "platform"])
def test_malformed_agent_rows_name_the_problem(missing: str) -> None:
    with pytest.raises(MalformedPayload, match="agent row lacks"):
        to_agent({key: value for key, value in AGENT.items() if key != missing})


@pytest.mark.parametrize("status", ["sent", "auto_remediating"])
def test_open_incidents_are_entities_keyed_by_severity(status: str) -> None:
    incident = to_incident({**INCIDENT, "status": status})
    assert incident is not None
    assert (incident.org, incident.metric, incident.external_id) == ("4", "incidents", "1")
    assert dict(incident.attrs) == {"severity": "low"}
    assert dict(incident.details)["status"] == status


@pytest.mark.parametrize("status", ["closed", "dismissed", "partner_dismissed", "deleting"])
def test_closed_incidents_are_not_counted(status: str) -> None:
    assert to_incident({**INCIDENT, "status": status}) is None


def test_malformed_incident_names_the_problem() -> None:
    with pytest.raises(MalformedPayload, match="incident report lacks"):
        to_incident({"id": 3, "status": "sent"})
    with pytest.raises(MalformedPayload):
        to_incident(["not", "a", "report"])


def test_org_name_falls_back_to_id() -> None:
    assert to_org({"id": 9}).name == "9"
    with pytest.raises(MalformedPayload, match="organization without an id"):
        to_org({"name": "x"})


def test_fake_answers_429_beyond_its_per_minute_window() -> None:
    fake = HuntressFake([{"id": 1, "name": "A"}], [], api_key="k", api_secret="s", requests_per_minute=3)
    fake.start()
    try:
        with httpx.Client(base_url=fake.url, auth=("k", "s")) as client:
            statuses = [client.get("/v1/organizations").status_code for _ in range(4)]
            assert client.get("/v1/agents", auth=("k", "wrong")).status_code == 401
    finally:
        fake.stop()
    assert statuses == [200, 200, 200, 429]
    assert fake.rate_limited == 1


def test_client_limiter_never_lets_a_burst_exceed_the_minute() -> None:
    """After a full minute's requests in a burst, the next one must wait for the window to slide; a token
    bucket would refill one token a second later and Huntress would answer that request with 429."""
    limiter = shared_limiter("huntress:limiter-test", 60)
    assert all(limiter.try_acquire("x", blocking=False) for _ in range(60))
    time.sleep(1.2)
    assert limiter.try_acquire("x", blocking=False) is False
