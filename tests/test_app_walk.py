"""The review walk: its order is fixed when it starts, so a decision never makes Next skip a client;
progress and "done → next" say where the walk is."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from tests.app_support import prepare, signed_in, texts
from tests.app_world import SOURCES_TOML, seed_world


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("## "))


def record(at: AppTest, code: str, action: str, note: str = "") -> None:
    at.radio(key=f"action_{code}").set_value(action)
    if note:
        at.text_input(key=f"note_{code}").input(note)
    at.button(key=f"FormSubmitter:decide_{code}-Record decision").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_deciding_on_the_second_client_then_next_goes_to_the_third(world: Config) -> None:
    at = signed_in("approver", "pages/review.py")
    assert heading(at) == "## Client 0001 Law"
    assert "1 of 3 clients, 6 gaps left" in texts(at)
    at.button(key="review_next").click().run()
    assert heading(at) == "## Client 0003 Dental"
    # writing off its biggest gap drops it below the third client by leakage: the walk must not care
    record(at, "WS", "write_off", "agreed")
    assert heading(at) == "## Client 0003 Dental"
    assert "2 of 3 clients, 5 gaps left" in texts(at)
    at.button(key="review_next").click().run()
    assert not at.exception, at.exception
    assert heading(at) == "## Client 0005 Law"
    assert "3 of 3 clients, 5 gaps left" in texts(at)
    at.button(key="review_prev").click().run()
    assert heading(at) == "## Client 0003 Dental"


def test_a_client_with_every_gap_decided_stays_in_the_walk_and_says_done(world: Config) -> None:
    at = signed_in("approver", "pages/review.py")
    record(at, "WS", "write_off")
    record(at, "EDR", "defer")
    assert heading(at) == "## Client 0001 Law"  # still here, not dropped from the list of open clients
    assert "1 of 3 clients, 4 gaps left" in texts(at)
    at.button(key="review_next").click().run()
    assert heading(at) == "## Client 0003 Dental"
    assert [t.value for t in at.toast] == ["Client 0001 Law done → Client 0003 Dental"]


def test_re_rank_starts_the_walk_again_from_the_biggest_leak_now(world: Config) -> None:
    at = signed_in("approver", "pages/review.py")
    record(at, "WS", "write_off")
    at.button(key="review_restart").click().run()
    assert not at.exception, at.exception
    assert heading(at) == "## Client 0003 Dental"  # 0001 now leaks least of the three
    assert "1 of 3 clients, 5 gaps left" in texts(at)
