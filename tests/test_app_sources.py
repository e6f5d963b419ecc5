"""Sources page: per-source Refresh and Test connection cards; the test runs mcc.onboarding.test_source
against the NinjaOne fake over a real socket, shows what it found, never a secret, and is admin-only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from collectors.http import HttpPolicy
from mcc import onboarding
from mcc.config import Config
from pages.auth import SESSION_KEY
from sandbox.server import Fake
from tests.app_support import prepare, signed_in, start_session, texts
from tests.app_world import SOURCES_TOML, seed_world
from tests.sources.harness import VENDORS

FAST = HttpPolicy(
    timeout=2.0, connect_timeout=1.0, retries=1, backoff_factor=0.01, max_wait=0.5, total_wait=3.0
)
NINJA = VENDORS["ninjaone"]
STARTED: list[Fake] = []  # the fake each test's world reads, for tests that inject faults


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Iterator[Config]:
    fake = NINJA.make_fake()
    url = fake.start()
    STARTED.append(fake)
    toml = SOURCES_TOML.replace(
        'kind = "ninjaone"\nbase_url = "http://127.0.0.1:9"',
        f'kind = "ninjaone"\nbase_url = "{url}"\n{NINJA.extra_toml.format(url=url)}',
    )
    assert toml != SOURCES_TOML
    config = write_config(toml)
    for key, value in NINJA.env.items():
        monkeypatch.setenv(f"MCC_NINJA_{key}", value)
    monkeypatch.setattr(onboarding, "CHECK_POLICY", FAST)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    yield config
    fake.stop()


def test_every_source_has_a_refresh_and_a_test_button(world: Config) -> None:
    at = signed_in("admin", "pages/sources.py")
    assert not at.exception, at.exception
    keys = {b.key for b in at.button}
    assert {"refresh_all", "refresh_ninja", "refresh_huntress", "test_ninja", "test_huntress"} <= keys
    assert "**ninja**" in texts(at) and "**huntress**" in texts(at)  # the full name, not on a narrow button


def test_admin_tests_a_connection_and_sees_the_organisations(world: Config) -> None:
    at = signed_in("admin", "pages/sources.py")
    at.button(key="test_ninja").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    message = [s.value for s in at.success][0]
    assert re.fullmatch(r"ninja \(ninjaone\): connected; \d+\+? organisation\(s\) seen: .+", message), message
    assert "**Organisations seen:** " in shown
    for secret in (*NINJA.env.values(), *NINJA.secret_values):
        assert secret not in shown
    at.button(key="source_check_dismiss").click().run()
    assert "Organisations seen" not in texts(at)


def test_a_failing_check_shows_the_message_and_the_hint(world: Config) -> None:
    at = signed_in("admin", "pages/sources.py")
    at.button(key="test_huntress").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(
        e.startswith("huntress (huntress): missing environment variable(s): MCC_HUNTRESS_") for e in errors
    )
    assert "**Missing:** `MCC_HUNTRESS_API_KEY`" in texts(at)
    assert any("docs/sources/huntress.md" in i.value for i in at.info)


def test_only_admins_may_test_a_connection(world: Config) -> None:
    at = signed_in("approver", "pages/sources.py", roles=["admin"])
    assert at.button(key="test_ninja").disabled
    assert not at.button(key="refresh_ninja").disabled
    assert "Testing a connection needs the admin role." in texts(at)


def _forged_test() -> None:
    import streamlit as st

    from pages import actions

    st.session_state["check"] = actions.test_source_connection("ninja")


def test_the_test_handler_refuses_a_session_that_claims_admin(world: Config) -> None:
    at = AppTest.from_function(_forged_test, default_timeout=30)
    for key, value in {
        "authentication_status": True,
        "username": "approver",
        "roles": ["admin"],
        SESSION_KEY: start_session("approver"),
    }.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["check"] is None
    assert [e.value for e in at.error] == [
        "approver may not test a source connection: the 'admin' role is required"
    ]


def test_a_suspicious_drop_shows_on_sources_and_review_and_an_approver_confirms_it(
    world: Config, engine: Engine
) -> None:
    from sqlalchemy import select

    from collectors.sync import sync_source
    from store.db import reading
    from store.models import AuditEvent, SyncRun

    assert all(r.ok for r in sync_source(engine, world, "ninja", streams=["devices"], policy=FAST))
    STARTED[-1].faults.add(path="/v2/devices", empty=True, times=-1)  # organisations listed, devices []
    held = sync_source(engine, world, "ninja", streams=["devices"], policy=FAST)[0]
    assert held.suspicious
    review = signed_in("viewer", "pages/review.py")
    assert not review.exception, review.exception
    assert "looks like an outage" in texts(review) and "1,200 → 0" in texts(review)
    viewer = signed_in("viewer", "pages/sources.py")
    assert not viewer.exception, viewer.exception
    assert viewer.button(key=f"confirm_drop_{held.run_id}").disabled
    at = signed_in("approver", "pages/sources.py")
    at.button(key=f"confirm_drop_{held.run_id}").click().run()
    assert not at.exception, at.exception
    with reading(engine) as session:
        assert session.get_one(SyncRun, held.run_id).drop_confirmed_by == "approver"
        actors = session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "sync.confirm_drop"))
        assert actors.all() == ["approver"]
    assert "looks like an outage" not in texts(signed_in("viewer", "pages/sources.py"))


def test_values_no_mapping_counts_and_skipped_records_from_the_last_good_run_are_shown(
    world: Config, engine: Engine
) -> None:
    from store.db import transaction
    from store.models import SyncRun
    from store.types import utcnow

    with transaction(engine) as session:
        session.add(
            SyncRun(
                source="ninja",
                stream="devices",
                status="ok",
                finished_at=utcnow(),
                uncovered=[{"metric": "devices", "attr": "node_class", "value": "NMS_SWITCH", "quantity": 4}],
                notices=["pax8: subscription s-bad quantity must be a number ≥ 0, got 'many'; skipped"],
            )
        )
    at = signed_in("viewer", "pages/sources.py")
    assert not at.exception, at.exception
    [table] = [frame for frame in at.dataframe if "NMS_SWITCH" in frame.value.to_string()]
    assert "node_class" in table.value.to_string()
    assert any("s-bad" in warning.value for warning in at.warning)
