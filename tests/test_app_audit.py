"""Audit: each event's details read as a line for people (names, days, hours, money; no internal ids),
the raw record is one click away; Sources shows a sync error's first line and the full text below."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from collectors import mapping
from mcc import timer
from mcc.config import Config
from mcc.permissions import Actor
from pages.formatting import describe_payload, short_error
from store.db import reading, transaction
from store.models import Client, SyncRun
from tests.app_support import prepare, signed_in
from tests.app_world import SOURCES_TOML, seed_world

ADMIN = Actor("admin", frozenset({"admin"}))
S1_ERROR = (
    'ninja: GET /v2/organizations failed with HTTP 503: {"errors": [{"code": 5030000, '
    '"title": "Service Unavailable", "detail": "' + "x" * 300 + '"}]}\nretried 3 times'
)


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def _details(at: AppTest) -> dict[str, str]:
    table = next(f.value for f in at.dataframe if "Details" in f.value.columns)
    return dict(zip(table["Action"], table["Details"], strict=False))


def test_audit_details_read_like_a_sentence(world: Config, engine: Engine) -> None:
    with reading(engine) as session:
        client_id = session.scalars(select(Client.id).where(Client.name == "Client 0002 Law")).one()
    timer.add_time_entry(
        engine, ADMIN, client_id, date(2026, 11, 22), "Sam Tech", Decimal("2.50"), 15000, True, "Printer fix"
    )
    mapping.map_org(engine, ADMIN, "ninja", "n-new", client_id)
    at = signed_in("admin", "pages/audit.py")
    assert not at.exception, at.exception
    details = _details(at)
    assert details["Logged time"] == (
        "Client 0002 Law · 2026-11-22 · Sam Tech · 2.50 h · billable · rate $150.00 · “Printer fix”"
    )
    assert details["Mapped an organisation to a client"] == "Client 0001 Dental Annex → Client 0002 Law"
    assert details["Imported the book"] == (
        "6 clients added · 12 contracts added · 2 mappings added · 12 orgs added · 2 products added"
    )
    assert not any("client_id" in text or "True" in text or "_cents" in text for text in details.values())
    event = next(f.value for f in at.dataframe if "Details" in f.value.columns)["#"].iloc[0]
    at.selectbox(key="audit_event").set_value(int(event)).run()
    assert not at.exception, at.exception
    assert at.json and '"client_id"' in at.json[0].value


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        ({"before": ["viewer"], "after": ["viewer", "approver"]}, "viewer → viewer, approver"),
        (
            {
                "line_id": 3,
                "before": {"quantity": "2", "unit_price_cents": 4500, "note": ""},
                "after": {"quantity": "3", "unit_price_cents": 5000, "note": ""},
                "status_before": "approved",
                "total_cents": 15000,
                "revision": 2,
            },
            "quantity 2 → 3 · unit price $45.00 → $50.00 · total $150.00 · was approved",
        ),
        (
            {"client": "Acme", "product": "WS", "period": "2026-11", "quantity": 12, "monthly_amount": "90.00",
             "back_bill": "0.00", "note": "agreed", "batch_id": None, "closed_contracts": [4]},
            "Acme · WS · 2026-11 · quantity 12 · monthly $90.00 · 1 contract line closed · “agreed”",
        ),
        (
            {"target": "quickbooks", "idempotency_key": "k1", "definite": True,
             "error": 'HTTP 400: {"Fault": {"Error": []}}'},
            "QuickBooks Online · definite failure · error: HTTP 400",
        ),
        ({"source": "*"}, "all sources"),
        ("not json", "not json"),
    ],
)  # fmt: skip
def test_describe_payload(payload: object, shown: str) -> None:
    assert describe_payload(payload) == shown  # type: ignore[arg-type]


def test_short_error_keeps_the_first_line_without_the_body() -> None:
    assert short_error(S1_ERROR, "ninja") == "GET /v2/organizations failed with HTTP 503"
    assert short_error("a\nb") == "a"
    assert short_error("y" * 200).endswith("…") and len(short_error("y" * 200)) == 90


def test_sources_shows_a_short_error_and_the_full_text_on_demand(world: Config, engine: Engine) -> None:
    with transaction(engine) as session:
        run = session.scalars(select(SyncRun).where(SyncRun.source == "ninja")).one()
        run.status, run.error = "failed", S1_ERROR
    at = signed_in("viewer", "pages/sources.py")
    assert not at.exception, at.exception
    table: pd.DataFrame = next(f.value for f in at.dataframe if "Last error" in f.value.columns)
    cells = dict(zip(table["Source"] + "/" + table["Stream"], table["Last error"], strict=True))
    assert cells["ninja/devices"] == "GET /v2/organizations failed with HTTP 503"
    assert "ninja / devices: GET /v2/organizations failed with HTTP 503" in [e.value for e in at.error]
    expander = next(e for e in at.expander if e.label == "Full error from ninja / devices")
    assert expander.code[0].value == S1_ERROR
