"""Review: next/previous through clients, entities behind a count, and decisions — refused for viewers
even when the session is forged."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from store.db import reading
from store.models import Contract, Decision
from tests.app_support import prepare, signed_in, texts
from tests.app_world import SOURCES_TOML, seed_world


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def _decisions(engine: Engine) -> int:
    with reading(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Decision)) or 0)


def test_next_and_previous_walk_the_clients(world: Config) -> None:
    at = signed_in("viewer", "pages/review.py")
    assert not at.exception
    assert "## Client 0001 Law" in texts(at)
    at.button(key="review_next").click().run()
    assert not at.exception
    assert "## Client 0003 Dental" in texts(at)
    at.button(key="review_prev").click().run()
    assert "## Client 0001 Law" in texts(at)


def test_approver_bumps_a_gap(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/review.py")
    assert not at.exception
    assert "Entities to exclude" in [m.label for m in at.multiselect]
    at.radio(key="action_WS").set_value("bump")
    at.text_input(key="note_WS").input("agreed on the call")
    at.button(key="FormSubmitter:decide_WS-Record decision").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        decision = session.scalars(select(Decision)).one()
        assert (decision.action, decision.author, decision.note) == ("bump", "approver", "agreed on the call")
        assert (
            session.scalar(
                select(func.count()).select_from(Contract).where(Contract.decision_id == decision.id)
            )
            == 1
        )


def test_approver_excludes_a_shared_entity(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/review.py")
    at.radio(key="action_WS").set_value("exclude")
    at.multiselect(key="exclude_WS").set_value(["n1-0"])
    at.button(key="FormSubmitter:decide_WS-Record decision").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.run()
    tables = [str(frame.value.to_dict()) for frame in at.dataframe]
    assert any("yes: excluded on review" in table for table in tables)
    with reading(engine) as session:
        decision = session.scalars(select(Decision)).one()
        assert decision.action == "exclude"


def test_viewer_with_forged_roles_cannot_decide(world: Config, engine: Engine) -> None:
    at = signed_in("viewer", "pages/review.py", roles=["approver", "invoicer", "admin"])
    assert not at.exception
    assert at.button(key="FormSubmitter:decide_WS-Record decision").disabled
    assert "deciding on gaps needs the approver role" in texts(at)


def _forged_decision() -> None:
    from pages import actions

    actions.record_decision(
        client_id=1,
        product_code="WS",
        period=__import__("pages.common").common.period(),
        action="write_off",
        note="forged",
    )


def test_handler_refuses_a_viewer_whose_session_claims_approver(world: Config, engine: Engine) -> None:
    """The handler the Review form calls, run with a crafted session (username viewer, roles approver and
    admin): the actor comes from the database, so the service refuses and nothing is written."""
    at = AppTest.from_function(_forged_decision, default_timeout=30)
    for key, value in {
        "authentication_status": True,
        "username": "viewer",
        "roles": ["approver", "admin"],
    }.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["viewer may not decide gaps: the 'approver' role is required"]
    assert _decisions(engine) == 0
