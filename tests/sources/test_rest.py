"""`kind = "rest"`: the three worked examples in docs/sources/rest.md, copied as written, read their
fakes over real sockets; every paginator style stops where it should; a bad declaration names its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors.rest import Capped, parse_spec, to_records
from collectors.sync import sync_source
from mcc.config import load_config
from mcc.errors import ConfigError, MalformedPayload
from sandbox.rest_examples import acronis_world, auvik_world, itglue_world
from tests.sources.conftest import TEST_POLICY

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources" / "rest.md"
EXAMPLES = {
    "acronis": (acronis_world, {"CLIENT_ID": "acronis-id-1a", "CLIENT_SECRET": "acronis-SECRET-2b"}),
    "auvik": (auvik_world, {"USERNAME": "api@msp.example", "PASSWORD": "auvik-KEY-3c4d"}),
    "itglue": (itglue_world, {"API_KEY": "itglue-KEY-5e6f"}),
}


def doc_example(name: str) -> str:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return next(block for block in blocks if f'name = "{name}"' in block)


def example_toml(name: str, url: str) -> str:
    return re.sub(r'base_url = "[^"]+"', f'base_url = "{url}"', doc_example(name))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_worked_example_reads_its_vendor(name: str, write_config, engine, monkeypatch) -> None:
    make, env = EXAMPLES[name]
    fake = make()
    url = fake.start()
    try:
        config = write_config(example_toml(name, url))
        for key, value in env.items():
            monkeypatch.setenv(f"MCC_{name.upper()}_{key}", value)
        results = sync_source(engine, config, name, policy=TEST_POLICY)
        assert all(result.ok for result in results), [result.error for result in results]
        assert sum(1 for request in fake.requests if not request.path.endswith("/token")) >= 2  # it paged
        from sqlalchemy import select

        from store.db import reading
        from store.models import CountKey, MonthlyCount

        with reading(engine) as session:
            rows = session.execute(
                select(CountKey.org_external_id, CountKey.attrs_json, MonthlyCount.qty_end)
                .join(MonthlyCount, MonthlyCount.key_id == CountKey.id)
                .where(CountKey.source == name)
            ).all()
        total = sum(row.qty_end for row in rows)
        expected = {"acronis": 230 - 23, "auvik": 150, "itglue": 120 - 10}[name]
        assert total == expected
    finally:
        fake.stop()


def test_dry_run_shows_the_first_page_as_counted(write_config, monkeypatch) -> None:
    from typer.testing import CliRunner

    from mcc.cli import app

    fake = itglue_world()
    url = fake.start()
    try:
        write_config(example_toml("itglue", url))
        monkeypatch.setenv("MCC_ITGLUE_API_KEY", "itglue-KEY-5e6f")
        result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["sources", "test", "itglue", "--dry-run"])
        assert result.exit_code == 0, result.output
        assert "configurations" in result.output and "configuration_type=Managed Workstation" in result.output
        assert len([r for r in fake.requests if r.path == "/configurations"]) == 1
    finally:
        fake.stop()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('paginator = { type = "guess" }', "rest.paginator"),
        ('auth = { type = "header" }', "rest.auth.header.header"),
        ("max_pages = 0", "rest.max_pages"),
        ("shoe_size = 9", "rest.shoe_size"),
    ],
)
def test_a_bad_declaration_names_the_key(change: str, message: str, tmp_path: Path) -> None:
    text = doc_example("itglue")
    key = change.split(" ", 1)[0]
    text = (
        re.sub(rf"^{key} = .*$", change, text, flags=re.M)
        if re.search(rf"^{key} = ", text, re.M)
        else text.replace("[sources.rest]\n", f"[sources.rest]\n{change}\n")
    )
    path = tmp_path / "mcc.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_a_capped_paginator_stops_an_endless_api() -> None:
    from collectors.paging import Single
    from mcc.errors import SourceError

    class Endless(Single):
        def next(self, payload, items, url, params):  # type: ignore[no-untyped-def]
            return url, params

    capped = Capped(Endless(), 3, "tool")
    assert capped.next({}, [], "/x", {}) and capped.next({}, [], "/x", {})
    with pytest.raises(SourceError, match="more than 3 pages"):
        capped.next({}, [], "/x", {})


def test_records_without_the_organisation_field_name_it() -> None:
    spec = parse_spec(
        {
            "path": "/x",
            "auth": {"type": "bearer"},
            "paginator": {"type": "single"},
            "org": "tenant",
            "metrics": [{"name": "seats", "quantity": "count", "where": {"active": True}}],
        },
        "tool",
    )
    [count] = list(to_records({"tenant": 7, "count": 12, "active": True}, spec, "tool"))
    assert (count.org, count.metric, count.quantity) == ("7", "seats", 12)
    assert list(to_records({"tenant": 7, "count": 12, "active": False}, spec, "tool")) == []
    with pytest.raises(MalformedPayload, match="no 'tenant'"):
        list(to_records({"count": 1}, spec, "tool"))
    with pytest.raises(MalformedPayload, match="not a whole number"):
        list(to_records({"tenant": 7, "count": 1.5, "active": True}, spec, "tool"))
