"""Review: next/previous through clients, entities behind a count, and decisions — refused for viewers
even when the session is forged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from pages.auth import SESSION_KEY
from store.db import reading, transaction
from store.models import Contract, Decision, Entity, Exclusion, Product
from tests.app_support import prepare, signed_in, start_session, texts
from tests.app_world import SOURCES_TOML, WS_WHERE, seed_world


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
    at.selectbox(key="action_WS").set_value("bump")
    at.text_input(key="note_WS").input("agreed on the call")
    at.button(key="record_WS").click().run()
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
    at.selectbox(key="action_WS").set_value("exclude")
    at.multiselect(key="exclude_WS").set_value(["n1-0"])
    at.button(key="record_WS").click().run()
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
    assert at.button(key="record_WS").disabled
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
        SESSION_KEY: start_session("viewer"),
    }.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["viewer may not decide gaps: the 'approver' role is required"]
    assert _decisions(engine) == 0


def _frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on screen with `column` (tables carry no key in AppTest)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def _add_entity(engine: Engine, external_id: str, name: str, attrs: dict[str, str], seen: datetime) -> None:
    """One more device for Client 0001 (count key 1: ninja devices of org n1)."""
    with transaction(engine) as session:
        session.add(
            Entity(
                source="ninja",
                metric="devices",
                external_id=external_id,
                org_external_id="n1",
                key_id=1,
                name=name,
                attrs=attrs,
                first_seen=seen,
                last_seen=datetime.now(UTC),
            )
        )


def test_entities_are_newest_first_and_marked_new_this_period(world: Config, engine: Engine) -> None:
    _add_entity(engine, "n1-new", "WS-0001-NEW", dict(WS_WHERE), datetime.now(UTC))
    at = signed_in("viewer", "pages/review.py")
    assert not at.exception, at.exception
    table = _frame_with(at, "New this period")
    first_seen = table["First seen"].to_list()
    assert first_seen == sorted(first_seen, reverse=True)
    assert table["Name"][0] == "WS-0001-NEW"
    assert table["First seen"][0] == datetime.now(UTC).date().isoformat()
    assert table["New this period"].to_list() == [True] + [False] * (len(table) - 1)
    assert "1 new this period" in texts(at)


def test_since_column_is_wide_enough_for_a_month(world: Config) -> None:
    at = signed_in("viewer", "pages/review.py")
    table = next(f for f in at.dataframe if "Since" in f.value.columns and "Contracted" in f.value.columns)
    config = json.loads(table.proto.columns)
    assert config["Since"]["width"] >= 80  # "2026-09" in full, not "2026-0"


def test_one_click_excludes_a_suggested_entity_with_an_edited_reason(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/review.py")
    reason = at.text_input(key="exclude_reason_ninja_n1-0")
    assert reason.value == "shared mailbox"  # prefilled from the candidate
    reason.input("front desk kiosk, not a person")
    at.button(key="exclude_one_ninja_n1-0").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        decision = session.scalars(select(Decision)).one()
        exclusion = session.scalars(select(Exclusion)).one()
        product = session.get(Product, decision.product_id)
        assert (decision.action, decision.author, product and product.code) == ("exclude", "approver", "WS")
        assert (exclusion.entity_external_id, exclusion.reason) == ("n1-0", "front desk kiosk, not a person")
    at.run()
    assert "exclude_one_ninja_n1-0" not in [b.key for b in at.button]  # no longer suggested


def test_exclude_all_candidates_of_a_kind_in_one_click(world: Config, engine: Engine) -> None:
    old = datetime.now(UTC) - timedelta(days=200)
    _add_entity(engine, "n1-room", "BOARDROOM-PC", {**WS_WHERE, "user_purpose": "shared"}, old)
    at = signed_in("approver", "pages/review.py")
    assert at.text_input(key="exclude_kind_reason_ws_shared_mailbox").value == "shared mailbox"
    at.button(key="exclude_kind_ws_shared_mailbox").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        assert _decisions(engine) == 1
        excluded = {(e.entity_external_id, e.reason) for e in session.scalars(select(Exclusion))}
    assert excluded == {("n1-0", "shared mailbox"), ("n1-room", "shared mailbox")}


def test_viewer_cannot_exclude_or_decide_in_bulk(world: Config) -> None:
    at = signed_in("viewer", "pages/review.py", roles=["approver"])
    assert at.button(key="exclude_one_ninja_n1-0").disabled
    assert at.button(key="bulk_decide").disabled


def _forged_bulk_and_exclude() -> None:
    import streamlit as st

    from mcc.review import GapFilter
    from pages import actions, common

    period = common.period()
    st.session_state["bulk"] = actions.decide_bulk(GapFilter(status="under_billed"), "write_off", "x", period)
    st.session_state["exclude"] = actions.exclude_entities(
        client_id=1, product_code="WS", period=period, entity_ids=["n1-0"], reason="forged"
    )


def test_exclude_and_bulk_handlers_refuse_a_forged_approver(world: Config, engine: Engine) -> None:
    at = AppTest.from_function(_forged_bulk_and_exclude, default_timeout=30)
    for key, value in {
        "authentication_status": True,
        "username": "viewer",
        "roles": ["approver"],
        SESSION_KEY: start_session("viewer"),
    }.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["viewer may not decide gaps: the 'approver' role is required"] * 2
    assert _decisions(engine) == 0


def test_bulk_decision_covers_the_filtered_gaps_with_one_note(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/review.py")
    assert "**6 gaps match** · $1,081.50/mo" in texts(at)
    at.text_input(key="bulk_max").input("100.00").run()
    assert "**3 gaps match** · $136.50/mo" in texts(at)  # the three $45.50 EDR gaps, not the $315 WS ones
    at.selectbox(key="bulk_action").set_value("write_off")
    at.text_input(key="bulk_note").input("too small to chase").run()
    at.button(key="bulk_decide").click().run()
    at.button(key="bulk_confirm_yes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        decisions = [
            (session.get(Product, d.product_id).code, d.action, d.note, d.author, d.batch_id)  # type: ignore[union-attr]
            for d in session.scalars(select(Decision))
        ]
    assert len(decisions) == 3
    assert {d[:4] for d in decisions} == {("EDR", "write_off", "too small to chase", "approver")}
    assert len({d[4] for d in decisions}) == 1
    at.run()
    assert "**0 gaps match**" in texts(at)


def test_bulk_bump_moves_each_contract_to_the_observed_quantity(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/review.py")
    at.selectbox(key="bulk_product").set_value("WS")
    at.selectbox(key="bulk_action").set_value("bump").run()
    assert "**3 gaps match** · $945.00/mo" in texts(at)
    at.button(key="bulk_decide").click().run()
    at.button(key="bulk_confirm_yes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        bumped = {d.client_id: d.quantity for d in session.scalars(select(Decision))}
        opened = {
            c.client_id: c.quantity
            for c in session.scalars(select(Contract).where(Contract.decision_id.is_not(None)))
        }
    assert bumped == opened and len(opened) == 3


def test_client_report_downloads_are_offered_and_built_on_click(world: Config) -> None:
    at = signed_in("viewer", "pages/review.py")
    assert {b.key for b in at.get("download_button")} == {"report_html", "report_csv"}
    at = AppTest.from_function(_build_reports, default_timeout=30)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "viewer"
    at.run()
    assert not at.exception, at.exception
    assert "Client 0001 Law" in at.session_state["html"] and "<html" in at.session_state["html"].lower()
    assert at.session_state["csv"].startswith("client,period,row,product_code")


def _build_reports() -> None:
    import streamlit as st

    from pages import actions, common

    for kind in ("html", "csv"):
        st.session_state[kind] = actions.client_report("Client 0001 Law", common.period(), kind)


def test_the_next_client_starts_from_its_own_quantities(world: Config) -> None:
    def billable(at: AppTest) -> int:
        table = next(f.value for f in at.dataframe if "Contracted" in f.value.columns)
        return int(table.loc[table["Product"] == "Managed workstation", "Billable"].iloc[0])

    at = signed_in("approver", "pages/review.py")
    first = billable(at)
    assert at.number_input(key="qty_WS").value == first
    at.button(key="review_next").click().run()
    assert not at.exception, at.exception
    assert "## Client 0003 Dental" in texts(at)
    assert billable(at) != first
    assert at.number_input(key="qty_WS").value == billable(at)
