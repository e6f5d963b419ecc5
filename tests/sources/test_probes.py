"""`mcc sources test` against the fakes of vendors without a public spec: every assumed field is reported
as the account answered it, and a field the account does not send is called MISSING."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mcc import onboarding
from mcc.cli import app
from tests.sources.conftest import TEST_POLICY
from tests.sources.harness import VENDORS

UNSPECIFIED = ("huntress", "sentinelone", "datto_saas", "ebillity")


@pytest.mark.parametrize("kind", UNSPECIFIED)
def test_sources_test_reports_each_assumed_field_as_the_account_answered(
    kind: str, write_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = VENDORS[kind]
    fake = harness.make_fake()
    url = fake.start()
    try:
        extra = harness.extra_toml.format(url=url)
        config = write_config(f'[[sources]]\nname = "src"\nkind = "{kind}"\nbase_url = "{url}"\n{extra}\n')
        for key, value in harness.env.items():
            monkeypatch.setenv(f"MCC_SRC_{key}", value)
        check = onboarding.test_source(config, "src", TEST_POLICY)
    finally:
        fake.stop()
    assert check.ok, check.message
    probes = config.source("src").collector.probes
    assert probes
    for probe in probes:
        for name in probe.fields:
            assert any(
                line.startswith(f"{probe.label}: ") and repr(name) in line for line in check.assumptions
            ), name
    assert not any(secret in " ".join(check.assumptions) for secret in harness.secret_values)


def test_a_field_the_account_does_not_send_is_missing_and_printed(write_config, monkeypatch) -> None:
    harness = VENDORS["huntress"]
    fake = harness.make_fake()
    for agent in fake.agents:  # type: ignore[attr-defined]
        agent.pop("platform", None)
    url = fake.start()
    try:
        extra = harness.extra_toml.format(url=url)
        write_config(f'[[sources]]\nname = "src"\nkind = "huntress"\nbase_url = "{url}"\n{extra}\n')
        for key, value in harness.env.items():
            monkeypatch.setenv(f"MCC_SRC_{key}", value)
        result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["sources", "test", "src"])
    finally:
        fake.stop()
    assert "what src answered for each unverified assumption" in result.output, result.output
    assert "agents: MISSING 'platform'" in result.output
    assert "agents: ok 'organization_id'" in result.output


@pytest.mark.parametrize("kind", UNSPECIFIED)
def test_every_assumed_field_is_listed_under_unverified_in_the_docs(kind: str) -> None:
    from pathlib import Path

    from collectors.registry import SOURCE_KINDS

    text = (Path(__file__).parents[2] / "docs" / "sources" / f"{kind}.md").read_text()
    assert "\n## Unverified\n" in text
    unverified = text.split("\n## Unverified\n", 1)[1]
    fields = {name for probe in SOURCE_KINDS[kind].probes for name in probe.fields}
    assert sorted(name for name in fields if f"`{name}`" not in unverified) == []
