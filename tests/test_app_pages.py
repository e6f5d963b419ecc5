"""Every page opens for every role on a seeded book, shows its numbers, and has no exception."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from mcc.config import Config
from tests.app_support import prepare, signed_in, texts
from tests.app_world import SOURCES_TOML, seed_world

PAGES = [
    "pages/overview.py",
    "pages/review.py",
    "pages/what_if.py",
    "pages/unbilled_time.py",
    "pages/invoices.py",
    "pages/billing_config.py",
    "pages/sources.py",
    "pages/audit.py",
]


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("username", ["viewer", "admin"])
def test_page_opens(world: Config, page: str, username: str) -> None:
    at = signed_in(username, page)
    assert not at.exception, at.exception
    assert at.title, f"{page} has no title"


def test_overview_numbers_and_charts(world: Config) -> None:
    at = signed_in("viewer", "pages/overview.py")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Monthly leakage"] == "$1,081.50"
    assert metrics["One-time back-bill"] == "$3,244.50"
    assert len(at.get("plotly_chart")) == 2
    assert "huntress" in texts(at) and "stale" in texts(at)
