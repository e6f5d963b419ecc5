"""Unmapped organisations: suggestions by normalised fuzzy name, mapping by hand or in bulk, audit,
and the `mcc orgs` commands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from collectors import mapping
from collectors.records import Org
from mcc.cli import app
from mcc.errors import PermissionDenied
from mcc.permissions import Actor
from store.db import reading, transaction
from store.models import AuditEvent, Client, ClientOrg, SourceOrg, TimeEntry
from store.types import utcnow

runner = CliRunner(env={"COLUMNS": "200"})
ADMIN = Actor("ann", frozenset({"admin"}))


def _seed(engine: Engine, clients: list[str], orgs: list[tuple[str, str, str]]) -> dict[str, int]:
    now = utcnow()
    with transaction(engine) as session:
        rows = [Client(name=name) for name in clients]
        session.add_all(rows)
        for source, external_id, name in orgs:
            session.add(
                SourceOrg(source=source, external_id=external_id, name=name, first_seen=now, last_seen=now)
            )
        session.flush()
        return {row.name: row.id for row in rows}


def test_normalise_drops_case_punctuation_and_legal_suffixes() -> None:
    assert mapping.normalise("Acme Dental, Inc.") == "acme dental"
    assert mapping.normalise("BIRCH & SONS LTD") == "birch and sons"
    assert mapping.normalise("The Cedar Group, L.L.C.") == "cedar group"
    assert mapping.normalise("Inc") == "inc"  # a name that is only a suffix is kept


def test_suggestions_score_names_and_flag_ties() -> None:
    clients = {
        1: ("Acme Dental", {"acme dental"}),
        2: ("Birch Legal", {"birch legal"}),
        3: ("Acme Legal", {"acme legal"}),
    }
    best = mapping.suggest_client("ACME Dental, LLC", clients)
    assert best == mapping.Suggestion(1, "Acme Dental", 100, False)
    reordered = mapping.suggest_client("Legal Birch Inc.", clients)
    assert reordered is not None and reordered.client == "Birch Legal" and reordered.score >= 90
    vague = mapping.suggest_client("Acme", clients)
    assert vague is not None and vague.ambiguous and vague.score < 90
    assert mapping.suggest_client("Anything", {}) is None


def test_unmapped_orgs_come_with_suggestions_and_orgs_mapped_elsewhere_help(
    write_config, engine: Engine
) -> None:
    config = write_config()
    ids = _seed(
        engine,
        ["Acme Dental", "Birch Legal", "Northwind Traders"],
        [
            ("ninja", "1", "Acme Dental, Inc."),
            ("ninja", "2", "Birch Legal LLC"),
            ("ninja", "3", "Zeta Bakery"),
            ("ninja", "4", "NWT Holdings"),
            ("huntress", "h-9", "NWT Holdings"),
        ],
    )
    mapping.map_org(engine, ADMIN, "huntress", "h-9", ids["Northwind Traders"])
    rows = {(row.source, row.external_id): row for row in mapping.unmapped_orgs(engine, config)}
    assert set(rows) == {("ninja", "1"), ("ninja", "2"), ("ninja", "3"), ("ninja", "4")}
    assert (rows["ninja", "1"].suggested_client, rows["ninja", "1"].score) == ("Acme Dental", 100)
    assert rows["ninja", "2"].suggested_client_id == ids["Birch Legal"]
    assert rows["ninja", "3"].score is not None and rows["ninja", "3"].score < 60
    # the same name was already mapped in another source, so that client is suggested
    assert (rows["ninja", "4"].suggested_client, rows["ninja", "4"].score) == ("Northwind Traders", 100)
    assert all(row.first_seen is not None for row in rows.values())


def test_map_org_needs_admin_is_audited_and_remaps(write_config, engine: Engine) -> None:
    write_config()
    ids = _seed(engine, ["Acme Dental", "Birch Legal"], [("ninja", "1", "Acme")])
    with transaction(engine) as session:
        session.add(
            TimeEntry(
                source="ninja",
                external_id="t1",
                org_external_id="1",
                day=utcnow().date(),
                person="p",
                hours=1,
                billable=True,
                note="",
            )
        )
    with pytest.raises(PermissionDenied, match="admin"):
        mapping.map_org(engine, Actor("al", frozenset({"approver"})), "ninja", "1", ids["Acme Dental"])
    with pytest.raises(mapping.MappingError, match="has not reported an organisation with id '7'"):
        mapping.map_org(engine, ADMIN, "ninja", "7", ids["Acme Dental"])
    first = mapping.map_org(engine, ADMIN, "ninja", "1", ids["Acme Dental"])
    assert (first.client, first.previous_client) == ("Acme Dental", None)
    moved = mapping.map_org(engine, ADMIN, "ninja", "1", ids["Birch Legal"])
    assert (moved.client, moved.previous_client) == ("Birch Legal", "Acme Dental")
    with reading(engine) as session:
        assert session.scalars(select(ClientOrg.client_id)).all() == [ids["Birch Legal"]]
        assert session.scalars(select(TimeEntry.client_id)).all() == [ids["Birch Legal"]]
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.action, e.actor, e.entity_id) for e in events] == [
            ("org.map", "ann", "ninja:1"),
            ("org.remap", "ann", "ninja:1"),
        ]
        assert json.loads(events[1].payload)["previous_client"] == "Acme Dental"


def test_accept_suggestions_maps_only_confident_unambiguous_matches(write_config, engine: Engine) -> None:
    config = write_config()
    _seed(
        engine,
        ["Acme Dental", "Acme Legal", "Birch Legal"],
        [("ninja", "1", "Acme Dental Inc"), ("ninja", "2", "Acme"), ("ninja", "3", "Birch Legal Group")],
    )
    mapped, left = mapping.accept_suggestions(engine, ADMIN, config, min_score=95)
    assert [(m.external_id, m.client) for m in mapped] == [("1", "Acme Dental")]
    assert {org.external_id for org in left} == {"2", "3"}
    mapped, left = mapping.accept_suggestions(engine, ADMIN, config, min_score=90)
    assert [(m.external_id, m.client) for m in mapped] == [("3", "Birch Legal")]
    assert [org.external_id for org in left] == ["2"]  # "Acme" fits two clients equally: never guessed


def test_suggest_mappings_for_orgs_listed_before_the_first_sync(engine: Engine) -> None:
    _seed(engine, ["Acme Dental"], [])
    rows = mapping.suggest_mappings(engine, "ninja", [Org("1", "ACME DENTAL"), Org("2", "Zed")])
    assert [(r.external_id, r.suggested_client, r.first_seen) for r in rows][0] == ("1", "Acme Dental", None)
    assert len(rows) == 2


def test_orgs_cli_lists_maps_and_accepts(write_config, engine: Engine, cli_user) -> None:
    write_config('[[sources]]\nname = "ninja"\nkind = "ninjaone"\n')
    cli_user("ann", "admin")
    _seed(
        engine,
        ["Acme Dental", "Birch Legal"],
        [("ninja", "1", "Acme Dental, Inc."), ("ninja", "2", "Birch Legal LLC"), ("ninja", "3", "Zeta")],
    )
    listed = runner.invoke(app, ["orgs", "unmapped"])
    assert listed.exit_code == 0, listed.output
    assert "Acme Dental, Inc." in listed.output and "Zeta" in listed.output and "3 unmapped" in listed.output
    as_json = json.loads(runner.invoke(app, ["orgs", "unmapped", "--format", "json"]).output)
    assert [(r["external_id"], r["suggested_client"], r["score"]) for r in as_json][:2] == [
        ("1", "Acme Dental", 100),
        ("2", "Birch Legal", 100),
    ]
    wrong = runner.invoke(app, ["orgs", "map", "ninja", "3", "Acme Dentl"])
    assert wrong.exit_code == 1 and "no client named 'Acme Dentl'; closest: 'Acme Dental'" in wrong.output
    one = runner.invoke(app, ["orgs", "map", "ninja", "3", "birch legal"])
    assert one.exit_code == 0, one.output
    assert "mapped ninja 3 (Zeta) → Birch Legal" in one.output
    bulk = runner.invoke(app, ["orgs", "map", "--accept-suggestions", "--min-score", "90"])
    assert bulk.exit_code == 0, bulk.output
    assert "2 mapped, 0 still unmapped" in bulk.output
    done = runner.invoke(app, ["orgs", "unmapped"])
    assert "every organisation is mapped" in done.output
    both = runner.invoke(app, ["orgs", "map", "ninja", "1", "X", "--accept-suggestions"])
    assert both.exit_code == 1 and "not both" in both.output
    unknown = runner.invoke(app, ["orgs", "unmapped", "--source", "nope"])
    assert unknown.exit_code == 1 and "no source named 'nope'" in unknown.output
