"""What tables and charts show a person: human headers, dates as dates, blanks instead of None, exact
money on chart labels, months in calendar order with the owners' category names."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from pages.common import CATEGORY_LABELS
from store.db import reading, transaction
from store.models import Product, TimeEntry
from tests.app_support import prepare, signed_in
from tests.app_world import SOURCES_TOML, seed_world

SNAKE = re.compile(r"^[a-z]+(_[a-z]+)+$")


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def _shown_columns(frame: Any) -> list[str]:
    hidden = {name for name, spec in json.loads(frame.proto.columns or "{}").items() if spec.get("hidden")}
    return [c for c in frame.value.columns if c not in hidden]


def test_time_entries_show_days_blanks_and_human_headers(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/unbilled_time.py")
    at.selectbox(key="time_client").set_value(2).run()
    assert not at.exception, at.exception
    editor = at.data_editor[0]
    assert _shown_columns(editor) == [
        "Select",
        "Day",
        "Person",
        "Hours",
        "Rate",
        "Billable",
        "Note",
        "Approved by",
    ]
    table = editor.value
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) for day in table["Day"])  # no 00:00:00
    assert set(table["Approved by"]) == {""}  # not "None"
    assert set(table["Rate"]) == {"$150.00"}
    with reading(engine) as session:
        open_ids = list(session.scalars(select(TimeEntry.id).where(TimeEntry.client_id == 2)))
    assert sorted(table["id"]) == sorted(open_ids)


def test_selecting_an_entry_by_its_human_column_approves_it(world: Config, engine: Engine) -> None:
    at = signed_in("approver", "pages/unbilled_time.py")
    at.selectbox(key="time_client").set_value(2).run()
    at.session_state["time_editor"] = {
        "edited_rows": {0: {"Select": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="FormSubmitter:time_select-Approve for invoicing").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with reading(engine) as session:
        approved = session.scalars(select(TimeEntry.approved_by).where(TimeEntry.client_id == 2)).all()
    assert sorted(approved, key=lambda by: by or "") == [None, None, "approver"]


def test_contracts_editor_has_human_headers_and_blank_open_ends(world: Config) -> None:
    at = signed_in("admin", "pages/billing_config.py")
    assert not at.exception, at.exception
    editor = at.data_editor[0]
    assert _shown_columns(editor) == ["Client", "Product", "Quantity", "Start", "End", "Unit price", "By"]
    table = editor.value
    assert set(table["End"]) == {""} and set(table["Unit price"]) == {""}
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in table["Start"])


def test_contract_quantity_edit_in_the_editor_opens_a_new_line(world: Config, engine: Engine) -> None:
    at = signed_in("admin", "pages/billing_config.py")
    first = at.data_editor[0].value.iloc[0]
    at.session_state["contracts_editor"] = {
        "edited_rows": {0: {"Quantity": int(first["Quantity"]) + 5}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="contracts_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.toggle(key="contracts_history").set_value(True).run()
    rows = at.data_editor[0].value
    mine = rows[(rows["Client"] == first["Client"]) & (rows["Product"] == first["Product"])]
    assert sorted(mine["Quantity"]) == sorted([int(first["Quantity"]), int(first["Quantity"]) + 5])
    assert (mine["End"] != "").sum() == 1  # the old line is closed, the new one open


def test_no_product_cell_says_none(world: Config) -> None:
    at = signed_in("viewer", "pages/billing_config.py")
    products = next(f.value for f in at.dataframe if "Unit cost" in f.value.columns)
    assert "None" not in products.astype(str).to_numpy().ravel().tolist()


def _chart(at: AppTest, matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for chart in at.get("plotly_chart"):
        spec: dict[str, Any] = json.loads(chart.proto.spec)
        if matches(spec):
            return spec
    raise AssertionError("chart not found")


def test_leakage_by_client_labels_are_exact_money(world: Config, engine: Engine) -> None:
    with transaction(engine) as session:  # workstations at $450: a client leaks over $1,000 a month
        session.scalars(select(Product).where(Product.code == "WS")).one().unit_price_cents = 45000
    at = signed_in("viewer", "pages/overview.py")
    assert not at.exception, at.exception
    spec = _chart(at, lambda s: s["data"][0].get("orientation") == "h")
    labels = spec["data"][0]["text"]
    assert labels and all(re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d{2}", label) for label in labels), labels
    assert set(labels) == {"$3,195.50"}  # 7 x $450 + 7 x $6.50 per leaking client, never "$3.2k"


def test_leakage_over_time_is_in_calendar_order_with_category_names(world: Config, engine: Engine) -> None:
    with transaction(engine) as session:
        for product in session.scalars(select(Product)):
            product.category = "rmm" if product.code == "WS" else "security"
    at = signed_in("viewer", "pages/overview.py")
    assert not at.exception, at.exception
    spec = _chart(at, lambda s: s["layout"].get("barmode") == "stack")
    assert [trace["name"] for trace in spec["data"]] == [CATEGORY_LABELS["rmm"], CATEGORY_LABELS["security"]]
    axis = spec["layout"]["xaxis"]
    months = axis["categoryarray"]
    assert axis["categoryorder"] == "array" and months == sorted(months) and len(months) >= 6
    assert months[-1] == date.today().strftime("%Y-%m")
