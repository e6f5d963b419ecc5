"""Pages show words, not machine values: prices with the currency, mappings and entity attributes in
words, exclusions by the entity's name, the accounting target by its product name, block balances as a
sentence, and a Status column wide enough to read."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from mcc.config import Config
from store.db import transaction
from store.models import Client, Exclusion, HourBlock
from tests.app_support import prepare, signed_in
from tests.app_world import SOURCES_TOML, client_name, seed_world


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def _table(at, column: str) -> pd.DataFrame:
    return next(f.value for f in at.dataframe if column in f.value.columns)


def test_billing_config_speaks_in_names_words_and_money(world: Config, engine: Engine) -> None:
    with transaction(engine) as session:
        client_id = session.scalars(select(Client.id).where(Client.name == client_name(1))).one()
        session.add(
            Exclusion(
                client_id=client_id,
                source="ninja",
                entity_external_id="n1-3",
                reason="spare laptop",
                author="admin",
            )
        )
        session.add(
            Exclusion(
                client_id=client_id,
                source="m365",
                where={"user_purpose": "shared"},
                reason="shared",
                author="a",
            )
        )
    at = signed_in("viewer", "pages/billing_config.py")
    assert not at.exception, at.exception
    products = _table(at, "Unit cost")
    assert all(str(price).startswith("$") for price in products["Unit price"])
    mappings = _table(at, "Counts")
    assert "Windows workstation" in set(mappings["Counts"])
    exclusions = _table(at, "Reason")
    assert set(exclusions["Excluded"]) == {"WS-0001-003", "every shared mailbox"}


def test_unbilled_time_explains_the_block(world: Config, engine: Engine) -> None:
    from datetime import date

    with transaction(engine) as session:
        client_id = session.scalars(select(Client.id).where(Client.name == client_name(2))).one()
        session.add(HourBlock(client_id=client_id, hours=2, start=date(2000, 1, 1)))
    at = signed_in("viewer", "pages/unbilled_time.py")
    assert not at.exception, at.exception
    table = _table(at, "Prepaid block")
    blocks = dict(zip(table["Client"], table["Prepaid block"], strict=True))
    # three 1.50 h entries: the 2.00 h block pays for 2.00 h of them, 2.50 h are billed beyond it
    assert blocks[client_name(2)] == "2.00 h block: 4.50 h used, used up · 2.50 h billable beyond it"
    assert blocks[client_name(4)] == "No prepaid block: 4.50 h billable"


def test_review_shows_attributes_as_words(world: Config) -> None:
    at = signed_in("approver", "pages/review.py")
    assert not at.exception, at.exception
    shown = [f.value for f in at.dataframe if "Attributes" in f.value.columns]
    assert shown, "no entity table on the first client"
    values = {value for frame in shown for value in frame["Attributes"]}
    assert values and not any("=" in value or "_" in value for value in values), values
    assert "Windows workstation" in values


def test_invoices_name_the_accounting_product(engine: Engine, write_config, monkeypatch) -> None:
    write_config(SOURCES_TOML + '\n[accounting]\nkind = "quickbooks"\nrealm_id = "1"\n')
    prepare(engine, monkeypatch)
    at = signed_in("invoicer", "pages/invoices.py")
    assert not at.exception, at.exception
    text = " ".join(str(m.value) for m in at.markdown) + " ".join(str(c.value) for c in at.caption)
    assert "QuickBooks Online" in text and "to quickbooks" not in text
