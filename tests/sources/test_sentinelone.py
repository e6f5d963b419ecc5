"""SentinelOne payloads → records without HTTP, and the console URL every customer must configure."""

from __future__ import annotations

import pytest

from collectors.sentinelone import to_agent, to_site
from collectors.sync import sync_source
from mcc.errors import ConfigError, MalformedPayload
from sandbox.sentinelone import SentinelOneFake
from tests.sources.conftest import TEST_POLICY

AGENT = {
    "id": "1384215781000000042",
    "siteId": "900001",
    "siteName": "Acme Dental",
    "computerName": "FRONTDESK-01",
    "osType": "windows",
    "machineType": "desktop",
    "isDecommissioned": False,
    "networkStatus": "connected",
    "lastActiveDate": "2026-03-01T20:05:10.000000Z",
    "agentVersion": "24.1.2.6",
}


def test_agent_counts_once_for_its_site_by_os_and_machine_type() -> None:
    agent = to_agent(AGENT)
    assert agent is not None
    assert (agent.org, agent.metric, agent.external_id, agent.name) == (
        "900001",
        "agents",
        "1384215781000000042",
        "FRONTDESK-01",
    )
    assert dict(agent.attrs) == {"os_type": "windows", "machine_type": "desktop"}
    assert dict(agent.details)["site_name"] == "Acme Dental"


def test_decommissioned_agents_are_not_counted() -> None:
    assert to_agent({**AGENT, "isDecommissioned": True}) is None


def test_missing_os_type_is_counted_as_unknown() -> None:
    agent = to_agent({key: value for key, value in AGENT.items() if key != "osType"})
    assert agent is not None and dict(agent.attrs)["os_type"] == "unknown"


@pytest.mark.parametrize("missing", ["id", "siteId"])
def test_malformed_agent_rows_name_the_problem(missing: str) -> None:
    with pytest.raises(MalformedPayload, match="agent row lacks id or siteId"):
        to_agent({key: value for key, value in AGENT.items() if key != missing})


def test_site_is_the_org() -> None:
    assert to_site({"id": "900001", "name": "Acme Dental"}).external_id == "900001"
    with pytest.raises(MalformedPayload, match="site without an id"):
        to_site({"name": "nameless"})


def test_a_source_without_a_console_url_fails_with_a_clear_error(write_config, engine, monkeypatch) -> None:
    config = write_config('[[sources]]\nname = "s1"\nkind = "sentinelone"\n')
    monkeypatch.setenv("MCC_S1_API_KEY", "s1-token-value")
    source = config.source("s1")
    collector = source.collector(source, source.secrets(), TEST_POLICY)
    with pytest.raises(ConfigError, match="set base_url to your SentinelOne console"):
        collector.open_api()
    [result] = sync_source(engine, config, "s1", policy=TEST_POLICY)
    assert not result.ok and "set base_url" in (result.error or "")


def test_console_url_may_carry_the_api_prefix(write_config, engine, monkeypatch) -> None:
    fake = SentinelOneFake(
        [{"id": "1", "name": "Only site"}], [{"id": "5", "siteId": "1", "osType": "linux"}]
    )
    url = fake.start()
    try:
        config = write_config(
            f'[[sources]]\nname = "s1"\nkind = "sentinelone"\nbase_url = "{url}/web/api/v2.1/"\n'
        )
        monkeypatch.setenv("MCC_S1_API_KEY", "s1-token")
        [result] = sync_source(engine, config, "s1", policy=TEST_POLICY)
    finally:
        fake.stop()
    assert result.ok, result.error
    assert result.records == 2
