"""A source whose data is older than twice its schedule is flagged wherever its numbers are shown: on
Review (the client's rows it feeds), What-if and Invoices, with the Overview's rule. In the seeded world
huntress is stale (its incidents stream never synced successfully) and ninja is fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from store.db import transaction
from store.models import SyncRun
from tests.app_support import prepare, signed_in, texts
from tests.app_world import SOURCES_TOML, seed_world


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def _table(at: AppTest, column: str) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def _all_fresh(engine: Engine) -> None:
    now = datetime.now(UTC)
    with transaction(engine) as session:
        session.add(
            SyncRun(
                source="huntress",
                stream="incidents",
                trigger="schedule",
                status="ok",
                started_at=now - timedelta(seconds=30),
                finished_at=now - timedelta(seconds=20),
                records=1,
            )
        )


def test_review_names_the_stale_source_and_marks_its_rows(world: Config) -> None:
    at = signed_in("viewer", "pages/review.py")
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Stale data for Client 0001 Law from **huntress** (data from ")
    assert "older than twice its sync schedule" in warnings[0] and "ninja" not in warnings[0]
    table = _table(at, "Contracted")
    marks = dict(zip(table["Product"], table["Source"], strict=True))
    assert marks == {"Managed workstation": "ninja", "Managed EDR agent": "huntress ⚠ stale"}
    titles = [m.value for m in at.markdown]
    assert any("**Managed EDR agent**" in t and "⚠ stale data from huntress" in t for t in titles)
    assert not any(t.startswith("**Managed workstation**") and "stale" in t for t in titles)


def test_review_shows_no_flag_when_every_source_is_fresh(world: Config, engine: Engine) -> None:
    _all_fresh(engine)
    at = signed_in("viewer", "pages/review.py")
    assert not at.exception, at.exception
    assert not at.warning
    assert "stale" not in " ".join(_table(at, "Contracted")["Source"])


def test_what_if_says_the_estimate_uses_stale_data(world: Config) -> None:
    at = signed_in("viewer", "pages/what_if.py")
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption if "stale" in c.value]
    assert len(captions) == 1
    assert "This estimate uses stale data from **huntress** (data from " in captions[0]


def test_invoices_warn_before_drafts_are_built(world: Config) -> None:
    at = signed_in("invoicer", "pages/invoices.py")
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert any(
        w.startswith("Before building drafts: stale numbers from **huntress**")
        and "Refresh on the Sources page first" in w
        for w in warnings
    ), warnings


def test_what_if_and_invoices_are_quiet_when_fresh(world: Config, engine: Engine) -> None:
    _all_fresh(engine)
    for page, username in (("pages/what_if.py", "viewer"), ("pages/invoices.py", "invoicer")):
        at = signed_in(username, page)
        assert not at.exception, at.exception
        assert "stale" not in texts(at), page


def test_sources_flags_the_stale_source(world: Config) -> None:
    at = signed_in("viewer", "pages/sources.py")
    table = _table(at, "Fresh")
    fresh = dict(zip(table["Source"] + "/" + table["Stream"], table["Fresh"], strict=True))
    assert fresh == {"ninja/devices": "fresh", "huntress/agents": "⚠ stale", "huntress/incidents": "⚠ stale"}
