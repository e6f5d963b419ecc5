"""The configuration reference and the sources index stay complete as settings and kinds are added."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from collectors.registry import SOURCE_KINDS
from mcc.config import AccountingConfig, Config, SourceConfig

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    for model in (Config, SourceConfig, AccountingConfig):
        for key, field in model.model_fields.items():
            if field.exclude:
                continue
            assert key in documented, f"docs/configuration.md has no row for {model.__name__}.{key}"


def test_every_kind_is_in_the_index_and_the_reference() -> None:
    index = (DOCS / "sources" / "README.md").read_text(encoding="utf-8")
    reference = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for kind in SOURCE_KINDS:
        assert f"| `{kind}` | [" in index and f"({kind}.md)" in index, f"docs/sources/README.md lacks {kind}"
        assert f"`{kind}`" in reference, f"docs/configuration.md never names the kind {kind}"
        row = next(line for line in index.splitlines() if line.startswith(f"| `{kind}` |"))
        credentials = row.rstrip(" |").rsplit("|", 1)[-1]
        for key in SOURCE_KINDS[kind].secret_keys:
            assert f"`{key}`" in credentials, f"docs/sources/README.md: {kind} lacks the credential {key}"


def test_the_full_example_loads() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    example = text.split("## A full example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    data = tomllib.loads(example)
    # kinds still being written are checked once their collector is registered
    data["sources"] = [source for source in data["sources"] if source["kind"] in SOURCE_KINDS]
    config = Config.model_validate(data)
    assert config.accounting.realm_id == "9130350000000000"
    assert "ninja" in config.source_names


def _readme_commands(prefix: str) -> list[str]:
    """Every `mcc …` command the README shows starting with `prefix`, in code blocks or inline code."""
    text = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    found = re.findall(rf"^({re.escape(prefix)}[^\n#]*?)\s*(?:#.*)?$", text, flags=re.M)
    found += re.findall(rf"`({re.escape(prefix)}[^`]*)`", text)
    return [command.strip() for command in found]


def test_the_readme_users_add_commands_run(write_config, monkeypatch) -> None:
    """Copying the README's `mcc users add` line must add the user, not stop at a missing option."""
    from typer.testing import CliRunner

    from mcc import users
    from mcc.cli import app

    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    write_config()
    commands = list(dict.fromkeys(_readme_commands("mcc users add")))  # the same line twice adds once
    assert len(commands) >= 2
    for command in commands:
        args = shlex.split(command)[1:] + ["--password-stdin"]
        result = CliRunner().invoke(app, args, input="a long enough password\n")
        assert result.exit_code == 0, f"README: {command!r}: {result.output}"
