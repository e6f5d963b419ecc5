"""The reconciliation service and its commands against a real SQLite store: JSON shape, staleness,
drill-down, exclusion candidates, the client report and `mcc audit verify`."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, String, cast, select
from typer.testing import CliRunner

from mcc.cli import app
from mcc.config import Config
from mcc.errors import MccError
from mcc.reconciliation import entities_behind, exclusion_candidates, history, reconcile_period, what_if
from mcc.report import client_report
from store.audit import record_event
from store.db import transaction
from store.models import AuditEvent, Decision
from tests.reconcile_seed import DbBook

GOLDEN = Path(__file__).parent / "golden" / "reconcile"
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
TODAY = NOW.date()
SOURCES = """
[[sources]]
name = "ninja"
kind = "ninjaone"

[[sources]]
name = "hunt"
kind = "huntress"
"""


def seed(engine: Engine) -> DbBook:
    book = DbBook(engine)
    book.product("WS", 4500)
    book.product("AV", 300, category="security")
    book.mapping("WS", "ninja", "devices", node_class=["WINDOWS_WORKSTATION", "MAC"])
    book.mapping("AV", "hunt", "agents")
    book.client("Acme Dental", ninja="12", hunt="345")
    book.contract("Acme Dental", "WS", 680, date(2025, 1, 1))
    book.contract("Acme Dental", "AV", 720, date(2025, 1, 1))
    book.months("ninja", "12", "devices", {"2026-01": 690, "2026-02": 700, "2026-03": 712}, node_class="MAC")
    book.months("hunt", "345", "agents", {"2026-02": 715, "2026-03": 712})
    book.months("ninja", "99", "devices", {"2026-03": 4}, node_class="MAC")
    book.entity(
        "ninja",
        "12",
        "devices",
        "dev-new",
        key_attrs={"node_class": "MAC"},
        first_seen=date(2026, 3, 3),
        name="FRONT-DESK",
    )
    book.entity(
        "ninja",
        "12",
        "devices",
        "dev-old",
        key_attrs={"node_class": "MAC"},
        name="LAB-PC",
        last_contact="2025-12-01",
    )
    book.entity(
        "ninja", "12", "devices", "dev-gone", key_attrs={"node_class": "MAC"}, last_seen=date(2026, 3, 2)
    )
    book.exclusion("Acme Dental", "ninja", entity="dev-old")
    return book


def test_json_matches_the_golden_file(engine: Engine) -> None:
    seed(engine)
    rec = reconcile_period(engine, Config(), "2026-03", now=NOW)
    text = json.dumps(rec.to_json(), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / "acme_2026_03.json"
    if os.environ.get("MCC_REGENERATE_GOLDEN") or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    data = rec.to_json()
    ws = next(g for g in data["gaps"] if g["product_code"] == "WS" and g["client"] == "Acme Dental")
    assert (ws["monthly_amount"], ws["back_bill"], ws["delta_qty"], ws["excluded_qty"]) == (
        "1395.00",
        "1260.00",
        31,
        1,
    )
    assert data["totals"]["leakage_monthly"] == "1395.00"


def test_default_period_is_the_current_month(engine: Engine) -> None:
    seed(engine)
    assert reconcile_period(engine, Config(), today=date(2026, 2, 14), now=NOW).period == "2026-02"
    with pytest.raises(MccError, match="YYYY-MM"):
        reconcile_period(engine, Config(), "March")


def test_stale_sources_are_listed(engine: Engine, write_config) -> None:
    config = write_config(SOURCES)
    book = seed(engine)
    book.sync_run("ninja", "devices", NOW - timedelta(minutes=50))  # schedule 30 min: fresh until 60
    book.sync_run("hunt", "agents", NOW - timedelta(hours=3))  # hourly: stale after 2 h
    book.sync_run("hunt", "incidents", NOW - timedelta(minutes=1))
    book.sync_run("hunt", "agents", NOW - timedelta(minutes=5), status="failed")
    rec = reconcile_period(engine, config, "2026-03", now=NOW)
    assert rec.stale_sources == ["hunt"]
    assert rec.data_as_of == {"ninja": NOW - timedelta(minutes=50), "hunt": NOW - timedelta(minutes=1)}
    later = reconcile_period(engine, config, "2026-03", now=NOW + timedelta(minutes=20))
    assert later.stale_sources == ["ninja", "hunt"]


def test_entities_behind_and_exclusion_candidates(engine: Engine) -> None:
    book = seed(engine)
    acme = book.clients["Acme Dental"]
    rows = (
        entities_behind(engine, Config(), acme, "WS", "2026-03")
        .select("external_id", "excluded", "exclusion_reason")
        .rows()
    )
    assert rows == [("dev-new", False, None), ("dev-old", True, "not billed")]
    book.entity(
        "ninja", "12", "devices", "dev-silent", key_attrs={"node_class": "MAC"}, last_contact="2026-01-02"
    )
    candidates = exclusion_candidates(engine, Config(), acme, "2026-03")
    assert candidates.select("external_id", "reason").rows() == [("dev-silent", "offline for 88 days")]


def test_history_and_what_if(engine: Engine) -> None:
    seed(engine)
    frame = history(engine, Config(), 3, today=TODAY)
    assert frame.filter(pl.col("category") == "rmm").select("period", "leakage_cents").rows() == [
        ("2026-01", 40_500),
        ("2026-02", 85_500),
        ("2026-03", 139_500),
    ]
    assert frame.filter(pl.col("category") == "security").select("period", "over_billed_cents").rows() == [
        ("2026-02", 1500),
        ("2026-03", 2400),
    ]
    outcome = what_if(reconcile_period(engine, Config(), "2026-03", now=NOW), 100, 1)
    assert (outcome["one_time_cents"], outcome["monthly_cents"], outcome["annual_cents"]) == (
        85_500,
        139_500,
        1_674_000,
    )


def test_client_report_csv_and_html(engine: Engine) -> None:
    seed(engine)
    text = client_report(engine, Config(), "acme dental", "2026-03", format="csv")
    lines = text.splitlines()
    assert lines[0].startswith("client,period,row,product_code")
    assert any(",entity," in line and "dev-new" in line and line.endswith(",new") for line in lines)
    assert any("dev-gone" in line and line.endswith(",gone") for line in lines)
    page = client_report(engine, Config(), "Acme Dental", "2026-03", format="html")
    assert page.startswith("<!doctype html>") and "<style>" in page and "FRONT-DESK (new)" in page
    assert "http" not in page  # self-contained: nothing fetched when printed
    with pytest.raises(MccError, match="no client named"):
        client_report(engine, Config(), "Nobody", "2026-03")


def test_cli_reconcile_decide_and_audit(engine: Engine, write_config, cli_user) -> None:
    write_config(SOURCES)
    book = seed(engine)
    cli_user("alice", "approver")
    cli_user("vic", "viewer", use=False)
    runner = CliRunner()
    result = runner.invoke(app, ["reconcile", "--period", "2026-03", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["period"] == "2026-03"
    table = runner.invoke(app, ["reconcile", "--period", "2026-03", "--client", "Acme Dental"])
    assert table.exit_code == 0 and "Stale sources: ninja, hunt" in table.stdout
    csv_out = runner.invoke(app, ["reconcile", "--period", "2026-03", "--format", "csv"])
    assert csv_out.stdout.splitlines()[0].startswith("client_id,client,product_code")
    decided = runner.invoke(
        app,
        [
            "decide",
            "bump",
            "--client",
            "acme dental",
            "--product",
            "WS",
            "--period",
            "2026-03",
            "--quantity",
            "711",
            "--note",
            "signed",
        ],
    )
    assert decided.exit_code == 0, decided.output
    bulk = runner.invoke(
        app,
        ["decide-bulk", "defer", "--status", "over_billed", "--period", "2026-03", "--note", "check agents"],
    )
    assert bulk.exit_code == 0 and "1 gap(s) decided as defer" in bulk.stdout
    with transaction(engine) as session:
        authors = session.execute(
            select(Decision.author, AuditEvent.actor).join(
                AuditEvent,
                (AuditEvent.entity == "decision") & (AuditEvent.entity_id == cast(Decision.id, String)),
            )
        )
        assert sorted(set(authors)) == [("alice", "alice")]
    viewer = runner.invoke(
        app,
        [
            "decide",
            "defer",
            "--client",
            "Acme Dental",
            "--product",
            "WS",
            "--period",
            "2026-03",
            "--as",
            "vic",
        ],
    )
    assert (
        viewer.exit_code == 1 and "vic may not decide gaps: the 'approver' role is required" in viewer.stderr
    )
    bad = runner.invoke(app, ["decide", "bump", "--client", "Nobody", "--product", "WS"])
    assert bad.exit_code == 1 and "no client named 'Nobody'" in bad.output
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    report = runner.invoke(app, ["report", "client", "Acme Dental", "--period", "2026-03", "--format", "csv"])
    assert report.exit_code == 0 and "dev-new" in report.stdout
    with transaction(engine) as session:
        record_event(session, actor="x", action="test", entity="t", payload={"n": 1})
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        connection.exec_driver_sql("""UPDATE audit_events SET payload_json = '{"n":2}' WHERE id = 2""")
    tampered = runner.invoke(app, ["audit", "verify"])
    assert tampered.exit_code == 1 and "row 2" in tampered.output
    assert book.clients["Acme Dental"]


def test_time_without_a_rate_is_priced_at_the_time_product(engine: Engine) -> None:
    """The time product is read inside the reading session: its price used to be read after the session
    had rolled back, which failed with DetachedInstanceError on every book that has a time product."""
    from decimal import Decimal

    from store.models import TimeEntry

    book = seed(engine)
    book.product("LABOR", 15000, category="time")
    with transaction(engine) as session:
        session.add(
            TimeEntry(
                source="native",
                external_id="t-1",
                client_id=book.clients["Acme Dental"],
                day=date(2026, 3, 4),
                person="Dana Smith",
                hours=Decimal("1.5"),
                rate_cents=None,
                billable=True,
            )
        )
    result = reconcile_period(engine, Config(), "2026-03", today=TODAY, now=NOW)
    assert result.totals["unbilled_time_cents"] == 22_500
    assert result.totals["unbilled_hours_x100"] == 150


def test_cli_totals_and_the_client_report_follow_the_decisions(
    engine: Engine, write_config, cli_user
) -> None:
    config = write_config(SOURCES)
    cli_user()
    book = seed(engine)
    book.client("Birch Law", ninja="13")
    book.contract("Birch Law", "WS", 10, date(2025, 1, 1))
    book.months("ninja", "13", "devices", {"2026-03": 12}, node_class="MAC")
    runner = CliRunner()

    def totals(*args: str) -> dict[str, str]:
        result = runner.invoke(app, ["reconcile", "--period", "2026-03", "--format", "json", *args])
        assert result.exit_code == 0, result.output
        data: dict[str, str] = json.loads(result.stdout)["totals"]
        return data

    acme = totals("--client", "acme dental")
    assert acme["leakage_monthly"] == "1395.00"  # 711 billable vs 680 at $45; Birch's $90 is not Acme's
    assert totals()["leakage_monthly"] == "1485.00"
    bump = ["decide", "bump", "--client", "Acme Dental", "--product", "WS", "--period", "2026-03"]
    assert runner.invoke(app, [*bump, "--quantity", "711"]).exit_code == 0

    after = totals("--client", "Acme Dental")
    assert (after["leakage_monthly"], after["back_bill"]) == ("0.00", "0.00")
    assert (after["recovered_monthly"], after["deferred_one_time"]) == ("1395.00", acme["back_bill"])
    assert totals()["leakage_monthly"] == "90.00"
    table = runner.invoke(app, ["reconcile", "--period", "2026-03", "--client", "Acme Dental"])
    assert "recovered $1,395.00/month" in " ".join(table.stdout.split())
    report = client_report(engine, config, "Acme Dental", "2026-03", format="csv")
    assert (
        "Acme Dental,2026-03,total,,,,,,,,,1395.00,0.00,added to your agreement or billed once for past months,"
        in report
    )
