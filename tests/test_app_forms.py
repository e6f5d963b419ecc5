"""The pages' forms and buttons do what they say, through the services, for the roles allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from mcc import users
from mcc.config import Config
from store.db import reading
from store.models import Contract, Invoice, TimeEntry
from tests.app_support import prepare, signed_in, texts
from tests.app_world import SOURCES_TOML, seed_world


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Config:
    config = write_config(SOURCES_TOML + f'\n[accounting]\nkind = "file"\npath = "{tmp_path / "exports"}"\n')
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def test_time_is_approved_then_drafted_approved_and_pushed(world: Config, engine: Engine) -> None:
    at = signed_in("admin", "pages/unbilled_time.py")
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Unbilled amount"] == "$2,025.00"
    with reading(engine) as session:
        entry_ids = list(session.scalars(select(TimeEntry.id).where(TimeEntry.client_id == 2)))
    from mcc import review
    from mcc.permissions import Actor

    review.approve_time(engine, Actor("admin", frozenset({"admin"})), entry_ids)
    at = signed_in("admin", "pages/invoices.py")
    at.button(key="build_drafts").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.run()
    assert "draft" in texts(at)
    at.button(key="approve_invoice").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.run()
    at.button(key="push_invoice").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        statuses = set(session.scalars(select(Invoice.status)))
    assert "pushed" in statuses


def test_viewer_cannot_build_or_push(world: Config) -> None:
    at = signed_in("viewer", "pages/invoices.py", roles=["invoicer", "admin"])
    assert at.button(key="build_drafts").disabled
    assert "needs the invoicer role" in texts(at)


def test_native_timer_adds_an_entry(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/unbilled_time.py")
    at.number_input(key="timer_hours").set_value(2.5)
    at.text_input(key="timer_note").input("Firewall upgrade")
    at.button(key="FormSubmitter:timer-Add entry").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        entry = session.scalars(select(TimeEntry).where(TimeEntry.note == "Firewall upgrade")).one()
        assert (str(entry.hours), entry.source, entry.created_by) == ("2.50", "native", "approver")


def test_what_if_moves_with_the_sliders(world: Config) -> None:
    at = signed_in("viewer", "pages/what_if.py")
    at.slider(key="whatif_recovery").set_value(100).run()
    full = {m.label: m.value for m in at.metric}
    at.slider(key="whatif_recovery").set_value(50).run()
    half = {m.label: m.value for m in at.metric}
    assert full["Monthly uplift"] == "$1,081.50" and half["Monthly uplift"] == "$540.75"
    assert full["Annual uplift"] == "$12,978.00"


def test_contract_edit_closes_the_old_line(world: Config, engine: Engine) -> None:
    at = signed_in("admin", "pages/billing_config.py")
    assert not at.exception
    with reading(engine) as session:
        before = session.scalar(select(func.count()).select_from(Contract))
    import io

    from mcc.permissions import Actor
    from store.book import import_file
    from tests.app_world import book_text  # noqa: F401  (the book the world imported)

    sheet = io.StringIO("client,product,quantity,start,end,unit_price\nClient 0001 Law,WS,18,2026-01-01,,\n")
    import_file(engine, world, sheet.getvalue().encode(), Actor("admin", frozenset({"admin"})), name="c.csv")
    at.run()
    assert not at.exception
    at.toggle(key="contracts_history").set_value(True).run()
    with reading(engine) as session:
        assert session.scalar(select(func.count()).select_from(Contract)) == before + 1


def test_admin_adds_a_user_and_others_cannot_see_the_page(world: Config, engine: Engine) -> None:
    at = signed_in("admin", "pages/users.py")
    at.text_input(key="add_username").input("dana")
    at.text_input(key="add_name").input("Dana Doe")
    at.text_input(key="add_password").input("another long password")
    at.multiselect(key="add_roles").set_value(["approver"])
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    info = users.get_user(engine, "dana")
    assert info is not None and info.roles == ("approver",)
    approver = signed_in("approver")
    with pytest.raises(ValueError):
        approver.switch_page("pages/users.py")


def test_audit_lists_events_and_verifies_the_chain(world: Config) -> None:
    at = signed_in("viewer", "pages/audit.py")
    assert not at.exception
    assert "Chain verified" in texts(at)
    at.selectbox(key="audit_action").set_value("user.").run()
    assert not at.exception


def test_refresh_now_queues_a_request(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/sources.py")
    assert "Client 0001 Dental Annex" in at.data_editor(key="suggest_editor").value["Organisation"].tolist()
    at.button(key="refresh_all").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "huntress / incidents: HTTP 401 from huntress: check MCC_HUNTRESS_API_KEY"
    ]
    assert at.session_state["refresh_request"] >= 1
    assert "Refresh of all sources: queued" in texts(at)
