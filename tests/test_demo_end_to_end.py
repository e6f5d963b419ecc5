"""End to end on the demo world: every vendor fake over real sockets → sync → store → reconciliation JSON,
with the drift that was planted found to the cent, then a review decision and a draft invoice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from typer.testing import CliRunner

from mcc.cli import app
from mcc.config import load_config
from mcc.users import get_user
from sandbox.demo import Demo, prepare, seed
from sandbox.world import month_start
from store.db import make_engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    monkeypatch = pytest.MonkeyPatch()
    stack = prepare(tmp_path_factory.mktemp("demo"), port_base=0)
    results = seed(stack.config, stack.world, stack.vendors, report=lambda _line: None)
    assert all(result.ok for result in results), [result.error for result in results if not result.ok]
    monkeypatch.setenv("MCC_CONFIG", str(stack.config.path))
    monkeypatch.delenv("MCC_DATABASE_URL", raising=False)
    yield stack
    stack.stop()
    monkeypatch.undo()


@pytest.fixture(autouse=True)
def demo_audit_key(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo keys its audit chain; a decision made here signs with the same key."""
    monkeypatch.setenv("MCC_AUDIT_KEY", demo.env["MCC_AUDIT_KEY"])


def _reconcile(*args: str) -> dict:
    result = CliRunner().invoke(app, ["reconcile", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _gap(report: dict, client: str, product: str) -> dict:
    return next(g for g in report["gaps"] if g["client"] == client and g["product_code"] == product)


def test_reconciliation_finds_the_planted_drift(demo: Demo) -> None:
    report = _reconcile()
    today = date.today()
    assert report["period"] == today.strftime("%Y-%m")
    assert set(report["data_as_of"]) == {"ninja", "m365", "huntress", "s1", "saas", "pax8", "time", "psa"}

    # Acme Dental: 712 devices against 680 contracted at 45.00; the contract went 650 → 680 three months ago
    acme = _gap(report, "Acme Dental", "WS")
    assert (acme["billed_qty"], acme["observed_qty"], acme["delta_qty"]) == (680, 712, 32)
    assert (acme["status"], acme["monthly_amount"]) == ("under_billed", "1440.00")
    assert acme["since"] == month_start(today, 2).strftime("%Y-%m")
    # back-bill: 4 months ago 662 vs 650 → 540.00; 3 months ago 675 vs 680 → none; then 7 → 315.00, 20 → 900.00
    assert acme["back_bill"] == "1755.00"

    # Birch Legal: 47 licensed accounts against 40 contracted, 7 of them shared mailboxes not yet excluded
    birch = _gap(report, "Birch Legal", "USER")
    assert (birch["billed_qty"], birch["observed_qty"], birch["status"]) == (40, 47, "under_billed")

    # over-billed clients are shown, organisations nobody mapped too, and unbilled time is counted
    assert {g["client"] for g in report["gaps"] if g["status"] == "over_billed"} == {
        "Elm Street Pediatrics",
        "Lakeside Orthodontics",
    }
    assert {g["client"] for g in report["gaps"] if g["status"] == "unmapped"} >= {
        "Acme Dental Group - Lab",
        "Test Org (do not bill)",
    }
    assert report["unbilled_time"] and report["totals"]["unbilled_time"] != "0.00"
    # a negative-margin distributor line (priced below Pax8 cost) is flagged
    assert any(g["negative_margin"] for g in report["gaps"] if g["product_code"] == "ACR")


def test_stale_source_is_named(demo: Demo) -> None:
    result = CliRunner().invoke(app, ["reconcile", "--format", "table", "--client", "Acme Dental"])
    assert result.exit_code == 0, result.output
    assert "Stale sources: s1" in " ".join(result.output.split())


def test_excluding_the_shared_mailboxes_closes_the_gap_and_a_bump_drafts_an_invoice(demo: Demo) -> None:
    from mcc.invoicing import build_drafts
    from mcc.reconciliation import exclusion_candidates
    from mcc.review import decide

    config = load_config(demo.config.path)
    engine = make_engine(config.database_url)
    period = date.today().strftime("%Y-%m")
    birch = _gap(_reconcile(), "Birch Legal", "USER")
    candidates = exclusion_candidates(engine, config, birch["client_id"], period)
    shared = candidates.filter(candidates["reason"].str.contains("shared"))["external_id"].to_list()
    assert len(shared) == 7
    approver = get_user(engine, "approver")
    assert approver is not None
    actor = approver.actor()
    decide(
        engine,
        actor,
        client_id=birch["client_id"],
        product_code="USER",
        period=period,
        action="exclude",
        entity_ids=shared,
        reason="shared mailboxes are not billed",
        config=config,
    )
    after = _gap(_reconcile(), "Birch Legal", "USER")
    assert (after["excluded_qty"], after["billable_qty"], after["status"]) == (7, 40, "match")

    acme = _gap(_reconcile(), "Acme Dental", "WS")
    decide(
        engine,
        actor,
        client_id=acme["client_id"],
        product_code="WS",
        period=period,
        action="bump",
        quantity=712,
        note="approved in review",
        config=config,
    )
    assert _gap(_reconcile(), "Acme Dental", "WS")["status"] == "match"
    drafts = build_drafts(engine, config, actor, period, client_id=acme["client_id"])
    lines = {line.item_code: line for line in drafts[0].lines}
    assert (lines["WS"].quantity, lines["WS"].amount_cents) == (712, 712 * 4500)
    engine.dispose()
