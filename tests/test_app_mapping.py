"""Sources: every unmapped organisation with its suggested client on one confirmation screen; the confident
suggestions are ticked, one "Map selected" maps them all (admins only, re-checked by the service) and
each mapping is audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from pages.auth import SESSION_KEY
from store.db import reading, transaction
from store.models import AuditEvent, Client, ClientOrg, SourceOrg
from tests.app_support import prepare, signed_in, start_session, texts
from tests.app_world import SOURCES_TOML, seed_world

SUBMIT = "FormSubmitter:map_suggested-Map selected"


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    now = datetime.now(UTC)
    with transaction(engine) as session:  # a first sync brought two orgs that clearly are known clients
        session.execute(
            insert(SourceOrg),
            [
                {
                    "source": "ninja",
                    "external_id": "n-5b",
                    "name": "Client 0005 Law, Inc.",
                    "first_seen": now,
                    "last_seen": now,
                },
                {
                    "source": "huntress",
                    "external_id": "h-2b",
                    "name": "Client 0002 Law",
                    "first_seen": now,
                    "last_seen": now,
                },
            ],
        )
    prepare(engine, monkeypatch)
    return config


def _errors(at: AppTest) -> list[str]:
    """Errors on the page other than the seeded failing sync."""
    return [e.value for e in at.error if not e.value.startswith("huntress / incidents")]


def _mapped(engine: Engine) -> dict[str, str]:
    with reading(engine) as session:
        rows = session.execute(
            select(ClientOrg.external_id, Client.name)
            .join(Client, Client.id == ClientOrg.client_id)
            .where(ClientOrg.external_id.in_(["n-new", "n-5b", "h-2b"]))
        )
        return {str(org): str(name) for org, name in rows}


def _map_events(engine: Engine) -> list[tuple[str, str | None]]:
    with reading(engine) as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.entity_id)
            .where(AuditEvent.action == "org.map")
            .order_by(AuditEvent.id)
        )
        return [(actor, entity) for actor, entity in rows]


def test_every_unmapped_org_is_listed_with_confident_ones_ticked(world: Config) -> None:
    at = signed_in("admin", "pages/sources.py")
    assert not at.exception, at.exception
    assert "#### Review suggested mappings" in texts(at)
    table = at.data_editor(key="suggest_editor").value
    rows = {
        name: (tick, client, score, check)
        for name, tick, client, score, check in zip(
            table["Organisation"],
            table["Map"],
            table["Suggested client"],
            table["Score"],
            table["Check"],
            strict=True,
        )
    }
    assert rows["Client 0005 Law, Inc."] == (True, "Client 0005 Law", 100, "")
    assert rows["Client 0002 Law"] == (True, "Client 0002 Law", 100, "")
    tick, _, score, check = rows["Client 0001 Dental Annex"]
    assert not tick and score < 90 and check == "low score; near tie with another client"
    assert not at.button(key=SUBMIT).disabled


def test_map_selected_maps_every_ticked_org_and_audits_each(world: Config, engine: Engine) -> None:
    at = signed_in("admin", "pages/sources.py")
    at.button(key=SUBMIT).click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert _mapped(engine) == {"n-5b": "Client 0005 Law", "h-2b": "Client 0002 Law"}
    assert _map_events(engine) == [("admin", "ninja:n-5b"), ("admin", "huntress:h-2b")]
    assert "Mapped 2 organisations; each mapping is in the audit log." in [s.value for s in at.success]
    shown = at.dataframe[
        [f.value.columns.tolist() for f in at.dataframe].index(["Source", "Organisation", "Billed to", "Was"])
    ].value
    assert shown["Billed to"].tolist() == ["Client 0005 Law", "Client 0002 Law"]
    assert at.data_editor(key="suggest_editor").value["Organisation"].tolist() == ["Client 0001 Dental Annex"]
    at.button(key="mapped_dismiss").click().run()
    assert "Mapped 2" not in texts(at)


def test_unticking_and_ticking_change_what_is_mapped(world: Config, engine: Engine) -> None:
    at = signed_in("admin", "pages/sources.py")
    names = at.data_editor(key="suggest_editor").value["Organisation"].tolist()
    suggested = at.data_editor(key="suggest_editor").value["Suggested client"].tolist()
    annex, inc = names.index("Client 0001 Dental Annex"), names.index("Client 0005 Law, Inc.")
    at.session_state["suggest_editor"] = {
        "edited_rows": {annex: {"Map": True}, inc: {"Map": False}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key=SUBMIT).click().run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert _mapped(engine) == {"n-new": suggested[annex], "h-2b": "Client 0002 Law"}


def test_viewers_see_the_suggestions_but_cannot_map(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/sources.py", roles=["admin"])
    assert not at.exception, at.exception
    assert at.button(key=SUBMIT).disabled
    assert "Mapping organisations to clients needs the admin role." in texts(at)
    assert _mapped(engine) == {}


def _forged_map() -> None:
    import streamlit as st

    from pages import actions

    st.session_state["outcome"] = actions.map_orgs([("ninja", "n-5b", 5)])


def test_the_map_handler_refuses_a_session_that_claims_admin(world: Config, engine: Engine) -> None:
    at = AppTest.from_function(_forged_map, default_timeout=30)
    for key, value in {
        "authentication_status": True,
        "username": "approver",
        "roles": ["admin"],
        SESSION_KEY: start_session("approver"),
    }.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["outcome"] is None
    assert [e.value for e in at.error] == [
        "approver may not map organisations to clients: the 'admin' role is required"
    ]
    assert _mapped(engine) == {} and _map_events(engine) == []
