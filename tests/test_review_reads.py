"""Review reads a client's entities once per client and entity version: every gap's list, the suggested
exclusions and what each entity is counted toward share that one read, and a decision that changes no
entity (a write-off) does not read them again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from mcc.config import Config
from tests.app_support import prepare, signed_in, texts
from tests.app_world import SOURCES_TOML, seed_world


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


@pytest.fixture
def entity_reads() -> Iterator[list[str]]:
    """Every SELECT of entities by client org that any engine sends, in order."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        flat = " ".join(statement.split()).lower()
        if flat.startswith("select") and "from entities join client_orgs" in flat:
            seen.append(flat)

    event.listen(Engine, "before_cursor_execute", before)
    yield seen
    event.remove(Engine, "before_cursor_execute", before)


def test_a_client_is_read_once_for_all_its_gaps_and_suggestions(
    world: Config, entity_reads: list[str]
) -> None:
    at = signed_in("approver", "pages/review.py")
    assert not at.exception
    assert "## Client 0001 Law" in texts(at)
    assert len(entity_reads) == 1
    at.button(key="review_next").click().run()
    assert "## Client 0003 Dental" in texts(at)
    assert len(entity_reads) == 2
    at.button(key="review_prev").click().run()
    assert "## Client 0001 Law" in texts(at)
    assert len(entity_reads) == 2  # seen before, nothing changed: no read


def test_a_write_off_does_not_reread_entities_but_an_exclusion_does(
    world: Config, entity_reads: list[str]
) -> None:
    at = signed_in("approver", "pages/review.py")
    assert len(entity_reads) == 1
    at.selectbox(key="action_WS").set_value("write_off")
    at.text_input(key="note_WS").input("agreed on the call")
    at.button(key="record_WS").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(entity_reads) == 1
    at.run()
    assert len(entity_reads) == 1

    at.button(key="review_next").click().run()
    assert len(entity_reads) == 2
    at.selectbox(key="action_WS").set_value("exclude")
    at.multiselect(key="exclude_WS").set_value([at.multiselect(key="exclude_WS").options[0]])
    at.button(key="record_WS").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    after = len(entity_reads)
    assert after > 2  # the exclusion changes the client's entity flags: read again, once
    at.run()
    assert len(entity_reads) == after
    tables = [str(frame.value.to_dict()) for frame in at.dataframe]
    assert any("yes: excluded on review" in table for table in tables)


def test_record_without_a_decision_says_so_beside_nothing_written(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/review.py")
    at.button(key="record_WS").click().run()
    assert not at.exception
    assert any("choose a decision first" in e.value for e in at.error)
