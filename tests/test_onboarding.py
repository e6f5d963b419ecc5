"""`mcc init` and `mcc sources list|test` against the NinjaOne fake over a real socket."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectors.http import HttpPolicy
from collectors.ninjaone import NinjaOne
from collectors.registry import SOURCE_KINDS
from mcc import onboarding
from mcc.cli import app
from mcc.config import Config, load_config
from sandbox.ninjaone import NinjaOneFake
from tests.sources.harness import VENDORS

runner = CliRunner(env={"COLUMNS": "250"})
FAST = HttpPolicy(
    timeout=2.0, connect_timeout=1.0, retries=1, backoff_factor=0.01, max_wait=0.5, total_wait=3.0
)
SECRET = VENDORS["ninjaone"].env["CLIENT_SECRET"]


@dataclass
class Ninja:
    fake: NinjaOneFake
    config: Config


@pytest.fixture
def ninja(write_config, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ninja]:
    harness = VENDORS["ninjaone"]
    fake = harness.make_fake()
    assert isinstance(fake, NinjaOneFake)
    url = fake.start()
    config = write_config(
        f'[[sources]]\nname = "ninja-eu"\nkind = "ninjaone"\nbase_url = "{url}"\n{harness.extra_toml.format(url=url)}\n'
    )
    for key, value in harness.env.items():
        monkeypatch.setenv(f"MCC_NINJA_EU_{key}", value)
    monkeypatch.setattr(onboarding, "CHECK_POLICY", FAST)
    yield Ninja(fake, config)
    fake.stop()


# --- mcc init -----------------------------------------------------------------------------------


def test_init_writes_a_loadable_commented_file_and_prints_the_env_vars(tmp_path: Path) -> None:
    path = tmp_path / "mcc.toml"
    result = runner.invoke(
        app, ["init", "--path", str(path), "--source", "ninjaone:ninja", "--accounting", "quickbooks"]
    )
    assert result.exit_code == 0, result.output
    config = load_config(path)
    assert [(s.name, s.kind) for s in config.sources] == [("ninja", "ninjaone")]
    assert config.accounting.kind == "quickbooks"
    text = path.read_text()
    assert "https://eu.ninjarmm.com" in text and "https://oc.ninjarmm.com" in text  # regional hosts
    assert '# schedule = "every 30 minutes"' in text  # the default schedule, as a comment
    assert "# realm_id =" in text
    for name in (
        "MCC_NINJA_CLIENT_ID",
        "MCC_NINJA_CLIENT_SECRET",
        "MCC_QUICKBOOKS_CLIENT_ID",
        "MCC_QUICKBOOKS_CLIENT_SECRET",
        "MCC_QUICKBOOKS_REFRESH_TOKEN",
        "MCC_COOKIE_KEY",
        "MCC_SECRET_KEY",
        "MCC_AUDIT_KEY",
    ):
        assert name in result.output
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in result.output


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    path = tmp_path / "mcc.toml"
    path.write_text("# my own settings\n")
    result = runner.invoke(app, ["init", "--path", str(path), "--source", "ninjaone"])
    assert result.exit_code == 1
    assert "already exists" in result.output and "--force" in result.output
    assert path.read_text() == "# my own settings\n"
    forced = runner.invoke(app, ["init", "--path", str(path), "--source", "ninjaone", "--force"])
    assert forced.exit_code == 0, forced.output
    assert load_config(path).source_names == ["ninjaone"]


def test_init_without_sources_and_no_terminal_writes_a_file_without_questions(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "mcc.toml"
    result = runner.invoke(app, ["init", "--path", str(path)])
    assert result.exit_code == 0, result.output
    config = load_config(path)
    assert config.sources == [] and config.accounting.kind == "file"
    assert '# kind = "ninjaone"' in path.read_text()  # every kind offered, commented out


def test_init_asks_when_interactive(tmp_path: Path) -> None:
    path = tmp_path / "mcc.toml"
    result = runner.invoke(
        app, ["init", "--path", str(path), "--interactive"], input="ninjaone\nninja-eu\nxero\n"
    )
    assert result.exit_code == 0, result.output
    config = load_config(path)
    assert [(s.name, s.kind) for s in config.sources] == [("ninja-eu", "ninjaone")]
    assert config.accounting.kind == "xero"
    assert "MCC_NINJA_EU_CLIENT_SECRET" in result.output and "MCC_XERO_CLIENT_ID" in result.output


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--source", "nosuchvendor"], "unknown kind 'nosuchvendor'"),
        (["--source", "ninjaone:9bad"], "must start with a letter"),
        (["--source", "ninjaone", "--source", "ninjaone"], "two sources would be named 'ninjaone'"),
        (["--accounting", "abacus"], "--accounting 'abacus'"),
    ],
)
def test_init_rejects_bad_choices(tmp_path: Path, arguments: list[str], words: str) -> None:
    path = tmp_path / "mcc.toml"
    result = runner.invoke(app, ["init", "--path", str(path), *arguments])
    assert result.exit_code == 1
    assert words in result.output
    assert not path.exists()


@pytest.mark.parametrize("accounting", onboarding.ACCOUNTING_KINDS)
def test_every_kind_renders_a_loadable_file(tmp_path: Path, accounting: str) -> None:
    choices = [onboarding.SourceChoice(kind, f"my-{kind}") for kind in sorted(SOURCE_KINDS)]
    text = onboarding.render_config(choices, accounting)
    path = tmp_path / "mcc.toml"
    path.write_text(text)
    config = load_config(path)
    assert config.source_names == [f"my-{kind}" for kind in sorted(SOURCE_KINDS)]
    assert config.accounting.kind == accounting
    for line in text.splitlines():
        if line.startswith("# ") and " = " in line and not line.startswith("# REQUIRED"):
            # every commented setting is itself valid TOML, so uncommenting it works
            tomllib.loads(line.removeprefix("# ").split("  #")[0])


# --- mcc sources test ---------------------------------------------------------------------------


def test_sources_test_reads_the_organisations(ninja: Ninja) -> None:
    check = onboarding.test_source(ninja.config, "ninja-eu")
    assert check.ok, check.message
    assert (check.orgs_seen, check.sample_orgs) == (2, ("Acme Dental", "Birch Legal"))
    assert check.hint is None and not check.more_orgs
    assert not any(request.path == "/v2/devices" for request in ninja.fake.requests)  # one cheap read

    result = runner.invoke(app, ["sources", "test"])
    assert result.exit_code == 0, result.output
    assert "ok   ninja-eu (ninjaone" in result.output
    assert "2 organisation(s) seen: Acme Dental, Birch Legal" in result.output


def test_many_organisations_stop_after_the_first_pages(ninja: Ninja) -> None:
    ninja.fake.organizations = [{"id": n, "name": f"Client {n:04d}"} for n in range(1, 1201)]
    check = onboarding.test_source(ninja.config, "ninja-eu")
    assert check.ok and check.more_orgs
    assert check.orgs_seen == 500 * onboarding.CHECK_PAGES
    assert check.sample_orgs[0] == "Client 0001" and len(check.sample_orgs) == onboarding.SAMPLE_SIZE
    assert f"{500 * onboarding.CHECK_PAGES}+ organisation(s)" in check.message


def test_rejected_credentials_name_the_env_vars_and_never_print_the_secret(
    ninja: Ninja, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-SECRET-5e1f77ab"
    monkeypatch.setenv("MCC_NINJA_EU_CLIENT_SECRET", wrong)
    # a vendor that echoes what it was sent
    ninja.fake.faults.add(
        path="/ws/oauth/token",
        status=401,
        body={"error": "invalid_client", "error_description": f"unknown client secret {wrong}"},
        times=-1,
    )
    result = runner.invoke(app, ["sources", "test"])
    assert result.exit_code == 1
    assert "credentials rejected: check MCC_NINJA_EU_CLIENT_ID / MCC_NINJA_EU_CLIENT_SECRET" in result.output
    assert wrong not in result.output and SECRET not in result.output
    check = onboarding.test_source(ninja.config, "ninja-eu")
    assert not check.ok and wrong not in f"{check.message} {check.hint}"


def test_forbidden_read_says_which_permission_and_hides_echoed_secrets(ninja: Ninja) -> None:
    ninja.fake.faults.add(
        path="/v2/organizations",
        status=403,
        body={"resultCode": "403", "errorMessage": f"client ninja-id-7f3a/{SECRET} lacks scope"},
        times=-1,
    )
    result = runner.invoke(app, ["sources", "test", "ninja-eu"])
    assert result.exit_code == 1
    assert "the API user lacks permission for /v2/organizations" in result.output
    assert "hint: give the NinjaOne API credentials read access" in result.output
    assert SECRET not in result.output


def test_forbidden_read_uses_the_vendor_hint(ninja: Ninja, monkeypatch: pytest.MonkeyPatch) -> None:
    def permission_hint(error_text: str) -> str | None:
        return "add the Monitoring scope to the API client app" if "403" in error_text else None

    monkeypatch.setattr(NinjaOne, "permission_hint", staticmethod(permission_hint), raising=False)
    ninja.fake.faults.add(path="/v2/organizations", status=403, times=-1)
    check = onboarding.test_source(ninja.config, "ninja-eu")
    assert not check.ok
    assert check.message == "the API user lacks permission for /v2/organizations"
    assert check.hint == "add the Monitoring scope to the API client app"


def test_missing_env_vars_are_named(ninja: Ninja, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCC_NINJA_EU_CLIENT_SECRET")
    result = runner.invoke(app, ["sources", "test"])
    assert result.exit_code == 1
    assert "missing environment variable(s): MCC_NINJA_EU_CLIENT_SECRET" in result.output
    assert not ninja.fake.requests  # nothing was sent
    check = onboarding.test_source(ninja.config, "ninja-eu")
    assert check.missing_env == ("MCC_NINJA_EU_CLIENT_SECRET",)


def test_secrets_dir_counts_as_set(ninja: Ninja, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MCC_NINJA_EU_CLIENT_SECRET")
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "MCC_NINJA_EU_CLIENT_SECRET").write_text(SECRET)
    monkeypatch.setenv("MCC_SECRETS_DIR", str(folder))
    assert onboarding.test_source(ninja.config, "ninja-eu").ok


def test_unreachable_host_points_at_base_url(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config('[[sources]]\nname = "ninja"\nkind = "ninjaone"\nbase_url = "http://127.0.0.1:9"\n')
    monkeypatch.setenv("MCC_NINJA_CLIENT_ID", "id")
    monkeypatch.setenv("MCC_NINJA_CLIENT_SECRET", "secret-value")
    check = onboarding.test_source(config, "ninja", policy=FAST)
    assert not check.ok
    assert "could not connect" in check.message
    assert check.hint is not None and "check base_url (http://127.0.0.1:9)" in check.hint


def test_unknown_source_and_empty_config(write_config) -> None:
    write_config()
    result = runner.invoke(app, ["sources", "test"])
    assert result.exit_code == 1 and "no sources in" in result.output
    write_config('[[sources]]\nname = "ninja"\nkind = "ninjaone"\n')
    result = runner.invoke(app, ["sources", "test", "datto"])
    assert result.exit_code == 1 and "no source named 'datto'" in result.output


# --- mcc sources list ---------------------------------------------------------------------------


def test_sources_list_shows_hosts_schedules_and_which_env_vars_are_set(
    ninja: Ninja, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MCC_NINJA_EU_CLIENT_ID")
    monkeypatch.setenv("MCC_COOKIE_KEY", "too-short-a-key")
    monkeypatch.setenv("MCC_AUDIT_KEY", "short-audit")
    result = runner.invoke(app, ["sources", "list"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "ninja-eu" in output and "ninjaone" in output and "rmm" in output
    assert ninja.fake.url in output
    assert "devices: every 30 minutes" in output
    assert "MCC_NINJA_EU_CLIENT_ID (missing)" in output
    assert "MCC_NINJA_EU_CLIENT_SECRET (set)" in output
    assert SECRET not in output
    assert "MCC_COOKIE_KEY (set, but shorter than 32 bytes)" in output
    assert "too-short-a-key" not in output
    assert "MCC_AUDIT_KEY (set, but shorter than 32 bytes)" in output and "short-audit" not in output


def test_a_refused_scope_is_named(ninja: Ninja) -> None:
    ninja.fake.faults.add(path="/ws/oauth/token", status=400, body={"error": "invalid_scope"}, times=-1)
    check = onboarding.test_source(ninja.config, "ninja-eu")
    assert not check.ok
    assert check.message == "the NinjaOne API client lacks a scope MCC asks for"
    assert check.hint == "see docs/sources/ninjaone.md for the scopes to grant"


# --- every vendor with a fake -------------------------------------------------------------------


@pytest.fixture(params=sorted(VENDORS))
def any_vendor(request: pytest.FixtureRequest, write_config, monkeypatch: pytest.MonkeyPatch):
    harness = VENDORS[request.param]
    fake = harness.make_fake()
    url = fake.start()
    config = write_config(
        f'[[sources]]\nname = "src"\nkind = "{harness.kind}"\nbase_url = "{url}"\n{harness.extra_toml.format(url=url)}\n'
    )
    for key, value in harness.env.items():
        monkeypatch.setenv(f"MCC_SRC_{key}", value)
    yield harness, config
    fake.stop()


def test_every_vendor_connects_and_lists_organisations(any_vendor) -> None:
    harness, config = any_vendor
    check = onboarding.test_source(config, "src", policy=FAST)
    assert check.ok, check.message
    assert check.orgs_seen >= 1 and check.sample_orgs


def test_every_vendor_explains_wrong_credentials_without_echoing_them(
    any_vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, config = any_vendor
    wrong = {key: f"wrong-{key}-4d9e1c" for key in harness.env}
    for key, value in wrong.items():
        monkeypatch.setenv(f"MCC_SRC_{key}", value)
    check = onboarding.test_source(config, "src", policy=FAST)
    assert not check.ok
    assert check.message.startswith(("credentials rejected", "the API user lacks permission")), check.message
    shown = f"{check.message} {check.hint}"
    assert not any(value in shown for value in (*wrong.values(), *harness.secret_values))


def test_a_kind_without_host_or_credentials_has_nothing_to_check(write_config) -> None:
    kind = next(
        (
            k
            for k, c in SOURCE_KINDS.items()
            if not c.secret_keys and not c.default_base_url and not c.reads_folder
        ),
        None,
    )
    if kind is None:
        pytest.skip("every installed kind has a host or credentials")
    config = write_config(f'[[sources]]\nname = "timer"\nkind = "{kind}"\n')
    check = onboarding.test_source(config, "timer")
    assert check.ok and "nothing to connect to" in check.message
    listed = runner.invoke(app, ["sources", "list"])
    assert "(none)" in listed.output and "required" not in listed.output
