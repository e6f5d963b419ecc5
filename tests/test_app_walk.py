"""The review walk: its order is fixed when it starts, so a decision never makes Next skip a client;
progress and "done → next" say where the walk is."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from store.db import reading
from store.models import Decision
from tests.app_support import prepare, signed_in, texts
from tests.app_world import SOURCES_TOML, seed_world


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def review(username: str) -> AppTest:
    # a generous timeout: the walk is about order, not speed (bench/ui.py measures that)
    return signed_in(username, "pages/review.py", timeout=120)


def heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("## "))


def record(at: AppTest, code: str, action: str, note: str = "") -> None:
    at.selectbox(key=f"action_{code}").set_value(action)
    if note:
        at.text_input(key=f"note_{code}").input(note)
    at.button(key=f"record_{code}").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_deciding_on_the_second_client_then_next_goes_to_the_third(world: Config) -> None:
    at = review("approver")
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
    at = review("approver")
    record(at, "WS", "write_off")
    record(at, "EDR", "defer")
    assert heading(at) == "## Client 0001 Law"  # still here, not dropped from the list of open clients
    assert "1 of 3 clients, 4 gaps left" in texts(at)
    at.button(key="review_next").click().run()
    assert heading(at) == "## Client 0003 Dental"
    assert [t.value for t in at.toast] == ["Client 0001 Law done → Client 0003 Dental"]


def test_re_rank_starts_the_walk_again_from_the_biggest_leak_now(world: Config) -> None:
    at = review("approver")
    record(at, "WS", "write_off")
    at.button(key="review_restart").click().run()
    assert not at.exception, at.exception
    assert heading(at) == "## Client 0003 Dental"  # 0001 now leaks least of the three
    assert "1 of 3 clients, 5 gaps left" in texts(at)


def _undos(engine: Engine) -> list[tuple[str, int | None]]:
    with reading(engine) as session:
        return [
            (d.action, d.reverses_decision_id)
            for d in session.scalars(select(Decision).order_by(Decision.id))
        ]


def test_the_just_made_decision_has_an_undo_that_reopens_the_gap(world: Config, engine: Engine) -> None:
    at = review("approver")
    record(at, "WS", "write_off", "goodwill")
    assert "Just recorded: **Client 0001 Law / Managed workstation: written off**" in texts(at)
    assert not [b for b in at.button if b.key == "record_WS"]  # the decided row has no Record button
    at.button(key="undo_last").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    first = _undos(engine)[0]
    assert _undos(engine) == [first, ("undo", 1)]
    assert at.button(key="record_WS")  # open again, with its decision to take
    assert at.selectbox(key="action_WS").value is None
    assert "1 of 3 clients, 6 gaps left" in texts(at)


def test_a_decided_row_and_the_history_each_offer_undo(world: Config, engine: Engine) -> None:
    at = review("approver")
    record(at, "WS", "defer")
    record(at, "EDR", "write_off")
    assert at.button(key="undo_1").label == "Undo · WS"
    assert (
        "deferred" in at.button(key="undo_1").help and "Managed workstation" in at.button(key="undo_1").help
    )
    at.button(key="undo_1").click().run()
    assert not at.exception and not at.error
    assert _undos(engine)[-1] == ("undo", 1)
    at.button(key="history_undo_2").click().run()
    assert _undos(engine)[-1] == ("undo", 2)
    history = texts(at)
    assert "#1 deferred · Managed workstation · approver" in history and "undone by #3" in history
    assert not [b for b in at.button if b.key in ("history_undo_3", "history_undo_4")]  # undos are final


def test_record_without_a_chosen_decision_decides_nothing(world: Config, engine: Engine) -> None:
    at = review("approver")
    at.button(key="record_WS").click().run()
    assert [e.value for e in at.error] == ["Managed workstation: choose a decision first."]
    assert _undos(engine) == []


def _bulk_write_off_small_gaps(at: AppTest) -> None:
    at.text_input(key="bulk_max").input("100.00").run()
    at.selectbox(key="bulk_action").set_value("write_off").run()


def test_bulk_has_no_default_action_and_a_write_off_needs_a_note(world: Config, engine: Engine) -> None:
    at = review("approver")
    assert at.selectbox(key="bulk_action").value is None
    assert at.button(key="bulk_decide").disabled
    _bulk_write_off_small_gaps(at)
    assert at.button(key="bulk_decide").disabled
    assert "A write-off needs a note saying why." in texts(at)
    at.text_input(key="bulk_note").input("too small to chase").run()
    assert not at.button(key="bulk_decide").disabled
    assert _undos(engine) == []


def test_bulk_confirmation_states_count_and_money_and_one_undo_takes_it_back(
    world: Config, engine: Engine
) -> None:
    at = review("approver")
    _bulk_write_off_small_gaps(at)
    at.text_input(key="bulk_note").input("too small to chase").run()
    at.button(key="bulk_decide").click().run()
    assert _undos(engine) == []  # the first click only asks
    assert at.button(key="bulk_confirm_yes").label == "Confirm: Write off 3 gaps, $136.50/month"
    at.button(key="bulk_confirm_no").click().run()
    assert not [b for b in at.button if b.key == "bulk_confirm_yes"]
    at.button(key="bulk_decide").click().run()
    at.button(key="bulk_confirm_yes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [a for a, _ in _undos(engine)] == ["write_off"] * 3
    assert "Just recorded: **Write off 3 gaps, &#36;136.50/month**" in texts(at)  # $ kept from LaTeX
    at.button(key="undo_last").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sorted(r for a, r in _undos(engine) if a == "undo") == [1, 2, 3]
    assert "1 of 3 clients, 6 gaps left" in texts(at)


def test_next_gap_moves_the_highlight_and_the_record_key_with_it(world: Config) -> None:
    at = review("approver")
    shown = texts(at)
    assert "▶ **Managed workstation**" in shown and "▶ **Managed EDR agent**" not in shown
    assert (at.button(key="record_WS").proto.shortcut, at.button(key="record_EDR").proto.shortcut) == (
        "d",
        "",
    )
    at.button(key="review_next_gap").click().run()
    assert not at.exception, at.exception
    assert "▶ **Managed EDR agent**" in texts(at)
    assert (at.button(key="record_WS").proto.shortcut, at.button(key="record_EDR").proto.shortcut) == (
        "",
        "d",
    )
    record(at, "EDR", "defer")
    assert "▶ **Managed workstation**" in texts(at)  # the highlight moves on to the gap still open


def test_last_months_reasoned_write_off_is_suggested_never_applied(world: Config, engine: Engine) -> None:
    from datetime import UTC, datetime

    from mcc.permissions import Actor
    from mcc.review import decide
    from reconcile.periods import add_months, period_of

    last_month = period_of(add_months(datetime.now(UTC).date().replace(day=1), -1))
    sam = Actor("approver", frozenset({"approver"}))
    for code, action, note in (("WS", "write_off", "shared mailbox"), ("EDR", "defer", "")):
        decide(
            engine,
            sam,
            client_id=1,
            product_code=code,
            period=last_month,
            action=action,
            note=note,
            config=world,
        )
    at = review("approver")
    assert (at.selectbox(key="action_WS").value, at.text_input(key="note_WS").value) == (
        "write_off",
        "shared mailbox",
    )
    assert at.selectbox(key="action_EDR").value is None  # deferred without a reason: nothing to suggest
    assert "Last month: written off — shared mailbox, by Abe Approver." in texts(at)
    assert len(_undos(engine)) == 2  # shown, not applied: this month has no decision yet
    assert "1 of 3 clients, 6 gaps left" in texts(at)
