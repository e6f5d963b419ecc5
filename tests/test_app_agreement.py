"""One truth on every page: after any sequence of decisions, Overview, Review, What-if at 100 % and
`mcc reconcile --format json` show the same open, recovered, written-off and deferred money to the cent."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from mcc.cli import app
from mcc.config import Config, load_config
from mcc.errors import MccError
from mcc.money import fmt
from mcc.permissions import Actor
from mcc.reconciliation import entities_behind
from mcc.review import decide
from store.db import make_engine
from tests.app_support import prepare, signed_in
from tests.app_world import SOURCES_TOML, seed_world

APPROVER = Actor("abe", frozenset({"approver"}))
UNDER_BILLED = ("under_billed", "no_contract")
STANDING_OPEN = (None, "exclude")  # no decision, or an exclusion that leaves the rest open


@pytest.fixture
def world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    config = write_config(SOURCES_TOML)
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def money(cents: int) -> str:
    return fmt(cents, "USD")


def cents(text: str) -> int:
    whole, _, fraction = text.replace(",", "").partition(".")
    return int(whole) * 100 + int(fraction)


def reconcile_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["reconcile", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def mapped(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [gap for gap in report["gaps"] if gap["client_id"] is not None]


def expected_open(report: dict[str, Any]) -> tuple[int, int]:
    """Open monthly and one-time money read from each gap's raw figures and its decision."""
    monthly = one_time = 0
    for gap in mapped(report):
        if gap["decision"] in STANDING_OPEN:
            one_time += cents(gap["back_bill"])
            if gap["status"] in UNDER_BILLED:
                monthly += cents(gap["monthly_amount"])
    return monthly, one_time


def metrics(at: AppTest) -> dict[str, str]:
    assert not at.exception, at.exception
    return {metric.label: metric.value for metric in at.metric}


def bar_chart(at: AppTest) -> list[tuple[str, str]]:
    """(client, label) of the Leakage-by-client bars, biggest first; empty when there is no chart."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["data"][0].get("orientation") == "h":
            bars = spec["data"][0]
            return list(reversed(list(zip(bars["y"], bars["text"], strict=True))))
    return []


def largest_open_gaps(at: AppTest) -> list[tuple[str, str]]:
    for frame in at.dataframe:
        if "Back-bill" in frame.value.columns and "Since" in frame.value.columns:
            return list(zip(frame.value["Client"], frame.value["Product"], strict=True))
    return []


def assert_every_page_agrees(config: Config) -> dict[str, Any]:
    report = reconcile_json()
    totals = report["totals"]
    monthly, one_time = expected_open(report)
    assert (cents(totals["leakage_monthly"]), cents(totals["back_bill"])) == (monthly, one_time)
    for state in ("open", "recovered", "written_off", "deferred"):
        for kind in ("monthly", "one_time"):
            name = f"{state}_{kind}"
            assert cents(totals[name]) == sum(cents(g[name]) for g in report["gaps"]), name

    overview = signed_in("viewer", "pages/overview.py")
    shown = metrics(overview)
    assert shown["Monthly leakage"] == money(monthly)
    assert shown["One-time back-bill"] == money(one_time)
    assert shown["Recovered this period"] == money(cents(totals["recovered_one_time"]))
    per_client: dict[str, int] = {}
    for gap in mapped(report):
        per_client[gap["client"]] = per_client.get(gap["client"], 0) + cents(gap["open_monthly"])
    leaking = sorted(((c, v) for c, v in per_client.items() if v > 0), key=lambda item: (-item[1], item[0]))
    assert bar_chart(overview) == [(client, money(value)) for client, value in leaking]
    open_lines = {
        (g["client"], g["product"])
        for g in report["gaps"]
        if g["open"] and g["status"] in (*UNDER_BILLED, "unmapped")
    }
    assert set(largest_open_gaps(overview)) == open_lines

    what_if = signed_in("viewer", "pages/what_if.py")
    what_if.slider(key="whatif_recovery").set_value(100)
    what_if.slider(key="whatif_lookback").set_value(config.back_bill_months).run()
    full = metrics(what_if)
    assert full["One-time correction"] == money(one_time)
    assert full["Monthly uplift"] == money(monthly)

    review = signed_in("approver", "pages/review.py")
    assert not review.exception, review.exception
    headings = [m.value for m in review.markdown if str(m.value).startswith("## ")]
    if headings:  # the client on screen: its headline numbers are its own totals
        client = headings[0].removeprefix("## ")
        mine = reconcile_json("--client", client)["totals"]
        headline = metrics(review)
        assert headline["Monthly leakage"] == money(cents(mine["leakage_monthly"]))
        assert headline["One-time back-bill"] == money(cents(mine["back_bill"]))
        assert headline["Open gaps"] == str(mine["open_gaps"])
    return report


ACTIONS = ("bump", "back_bill", "write_off", "defer", "exclude")


def apply(engine: Engine, config: Config, steps: list[tuple[int, str, int]]) -> None:
    """Each step decides gap number `index` (of the period's client gaps) with `action`; an exclusion
    leaves out the first `count` entities behind the count. Refused decisions are skipped."""
    for index, action, count in steps:
        gaps = mapped(reconcile_json())
        gap = gaps[index % len(gaps)]
        entity_ids = None
        if action == "exclude":
            behind = entities_behind(
                engine, config, gap["client_id"], gap["product_code"], reconcile_json()["period"]
            )
            entity_ids = behind["external_id"].head(count).to_list()
        try:
            decide(
                engine,
                APPROVER,
                client_id=gap["client_id"],
                product_code=gap["product_code"],
                period=reconcile_json()["period"],
                action=action,
                entity_ids=entity_ids,
                note="decided in the agreement test",
                config=config,
            )
        except MccError:
            continue  # e.g. nothing to back-bill, or an exclusion with nothing to leave out


steps = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from(ACTIONS), st.integers(1, 8)), min_size=1, max_size=6
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(decisions=steps)
def test_every_page_and_the_cli_agree_after_any_decisions(
    world: Config, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decisions: list[Any]
) -> None:
    # every example starts from the seeded book: a fresh copy of its database
    template = Path(engine.url.database or "")
    copy = tmp_path / f"example-{len(list(tmp_path.glob('example-*.db')))}.db"
    with sqlite3.connect(template) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # a backup, not a file copy: it includes what is still in the WAL
    path = tmp_path / f"{copy.stem}.toml"
    path.write_text(f'database_url = "sqlite:///{copy}"\n{SOURCES_TOML}', encoding="utf-8")
    monkeypatch.setenv("MCC_CONFIG", str(path))
    import streamlit

    streamlit.cache_data.clear()
    streamlit.cache_resource.clear()
    config = load_config(path)
    example = make_engine(config.database_url)
    try:
        apply(example, config, decisions)
        assert_every_page_agrees(config)
    finally:
        example.dispose()


def decide_all(engine: Engine, config: Config, action: str, gaps: list[dict[str, Any]]) -> None:
    for gap in gaps:
        decide(
            engine,
            APPROVER,
            client_id=gap["client_id"],
            product_code=gap["product_code"],
            period=reconcile_json()["period"],
            action=action,
            config=config,
        )


def test_a_write_off_leaves_the_leakage_the_bar_chart_and_the_largest_gaps_in_step(
    world: Config, engine: Engine
) -> None:
    before = reconcile_json()
    under = [g for g in mapped(before) if g["status"] == "under_billed"]
    top = min(under, key=lambda g: (-cents(g["monthly_amount"]), g["client"]))
    first_bar = bar_chart(signed_in("viewer", "pages/overview.py"))[0][0]
    assert first_bar == top["client"]
    decide_all(engine, world, "write_off", [g for g in under if g["client"] == top["client"]])

    after = assert_every_page_agrees(world)
    written_off = sum(cents(g["monthly_amount"]) for g in under if g["client"] == top["client"])
    assert (
        cents(after["totals"]["leakage_monthly"]) == cents(before["totals"]["leakage_monthly"]) - written_off
    )
    assert cents(after["totals"]["written_off_monthly"]) == written_off
    overview = signed_in("viewer", "pages/overview.py")
    assert top["client"] not in [client for client, _ in bar_chart(overview)]
    assert top["client"] not in [client for client, _ in largest_open_gaps(overview)]


def test_bumped_gaps_leave_the_back_bill_and_what_if_at_full_recovery_agrees(
    world: Config, engine: Engine
) -> None:
    before = reconcile_json()
    workstations = [g for g in mapped(before) if g["status"] == "under_billed" and g["product_code"] == "WS"]
    assert workstations and all(cents(g["back_bill"]) > 0 for g in workstations)
    decide_all(engine, world, "bump", workstations)

    after = assert_every_page_agrees(world)  # Overview back-bill == What-if one-time at 100 %
    bumped_back_bill = sum(cents(g["back_bill"]) for g in workstations)
    assert cents(after["totals"]["back_bill"]) == cents(before["totals"]["back_bill"]) - bumped_back_bill
    assert cents(after["totals"]["deferred_one_time"]) == bumped_back_bill
    assert cents(after["totals"]["recovered_monthly"]) == sum(
        cents(g["monthly_amount"]) for g in workstations
    )
