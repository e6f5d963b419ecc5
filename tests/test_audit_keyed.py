# ruff: noqa: S608  (the tests play an attacker writing raw SQL)
"""The keyed audit chain against someone who can write the database (but does not hold MCC_AUDIT_KEY and
cannot write the head file): every way of rewriting it is named by `verify`; an untouched log passes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from store.audit import GENESIS, AuditKeyError, canonical, record_event, verify_chain
from store.db import reading, transaction
from store.models import AuditEvent, Client, Decision, Product

KEY = "k" * 40


@pytest.fixture
def keyed(monkeypatch) -> None:
    monkeypatch.setenv("MCC_AUDIT_KEY", KEY)


def _decide(engine: Engine, amount: int) -> int:
    with transaction(engine) as session:
        client = session.scalars(select(Client)).first()
        product = session.scalars(select(Product)).first()
        if client is None or product is None:
            client, product = Client(name="Acme Dental"), Product(code="WS", name="WS", unit_price_cents=4500)
            session.add_all([client, product])
            session.flush()
        decision = Decision(
            client_id=client.id,
            product_id=product.id,
            period="2026-03",
            action="back_bill",
            quantity=32,
            amount_cents=amount,
            back_bill_cents=3 * amount,
            author="alex",
            gap={"delta_qty": 32},
        )
        session.add(decision)
        session.flush()
        record_event(
            session,
            actor="alex",
            action="decision.back_bill",
            entity="decision",
            entity_id=decision.id,
            payload={"amount": amount},
            decisions=[decision],
        )
        return decision.id


def _log(engine: Engine, events: int = 3) -> list[int]:
    return [_decide(engine, 144000 + n) for n in range(events)]


def _raw(engine: Engine, *statements: str) -> None:
    """An attacker with raw database access drops the append-only guards first."""
    with engine.begin() as connection:
        for trigger in (
            "audit_events_no_update",
            "audit_events_no_delete",
            "decisions_no_update",
            "decisions_no_delete",
        ):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            connection.exec_driver_sql(statement)


def _report(engine: Engine):
    with reading(engine) as session:
        return verify_chain(session)


def _sha(prev: str, row: AuditEvent, payload: str) -> str:
    """The plain SHA-256 digest an attacker can compute without the key."""
    body = canonical(
        [
            prev,
            row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            row.actor,
            row.action,
            row.entity,
            row.entity_id,
            payload,
        ]
    )
    return hashlib.sha256(body.encode()).hexdigest()


def test_untouched_keyed_log_passes_and_a_head_file_is_signed(engine: Engine, keyed) -> None:
    _log(engine)
    report = _report(engine)
    assert report.ok, report.reason
    assert report.checked == 4  # the keying row, then three events
    assert (report.legacy_rows, report.legacy_decisions, report.warnings) == (0, 0, ())
    head = json.loads(Path(f"{engine.url.database}.audit-head").read_text())
    assert head["id"] == 4 and len(head["mac"]) == 64


def test_deleting_the_last_rows_is_named_by_the_signed_head(engine: Engine, keyed) -> None:
    _log(engine)
    _raw(engine, "DELETE FROM audit_events WHERE id >= 3", "DELETE FROM decisions WHERE id >= 2")
    report = _report(engine)
    assert not report.ok
    assert report.where == "row 4"
    assert "the signed head is row 4 but the log ends at row 2" in (report.reason or "")


def test_appending_a_forged_row_is_named(engine: Engine, keyed) -> None:
    _log(engine)
    with reading(engine) as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert last is not None
        forged = AuditEvent(
            at=datetime(2026, 3, 30, tzinfo=UTC),
            actor="mallory",
            action="decision.write_off",
            entity="decision",
            entity_id="1",
            payload="{}",
            prev_hash=last.hash,
            hash="",
        )
        digest = _sha(last.hash, forged, "{}")
        last_hash = last.hash
    _raw(
        engine,
        "INSERT INTO audit_events (at, actor, action, entity, entity_id, payload_json, prev_hash, hash) VALUES "
        f"('2026-03-30 00:00:00.000000', 'mallory', 'decision.write_off', 'decision', '1', '{{}}', "
        f"'{last_hash}', '{digest}')",
    )
    report = _report(engine)
    assert (report.ok, report.where) == (False, "row 5")
    assert "MAC does not match" in (report.reason or "")


def test_recomputing_the_chain_after_an_edit_is_named_at_the_edit(engine: Engine, keyed) -> None:
    _log(engine)
    with reading(engine) as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        for row in rows:
            session.expunge(row)  # keep the loaded values for rewriting
    # rewrite row 3's payload and recompute every hash after it, as well as one can without the key
    statements, prev = [], rows[1].hash
    for row in rows[2:]:
        payload = '{"amount":1}' if row.id == 3 else row.payload
        digest = _sha(prev, row, payload)
        statements.append(
            f"UPDATE audit_events SET payload_json = '{payload}', prev_hash = '{prev}', hash = '{digest}' "
            f"WHERE id = {row.id}"
        )
        prev = digest
    _raw(engine, *statements)
    report = _report(engine)
    assert (report.ok, report.where) == (False, "row 3")
    assert "MAC does not match" in (report.reason or "")


def test_editing_a_decision_amount_is_named_with_what_was_sealed(engine: Engine, keyed) -> None:
    ids = _log(engine)
    _raw(engine, f"UPDATE decisions SET amount_cents = 1 WHERE id = {ids[1]}")
    report = _report(engine)
    assert (report.ok, report.where) == (False, f"decision {ids[1]}")
    assert "amount_cents is 1, sealed as 144001" in (report.reason or "")


@pytest.mark.parametrize(
    "column",
    [
        "quantity = 99",
        "action = 'write_off'",
        "author = 'mallory'",
        "period = '2026-04'",
        "reverses_decision_id = 2",  # a forged undo would drop both decisions from every invoice
    ],
)
def test_editing_any_decision_content_is_named(engine: Engine, keyed, column: str) -> None:
    ids = _log(engine)
    _raw(engine, f"UPDATE decisions SET {column} WHERE id = {ids[0]}")
    report = _report(engine)
    assert (report.ok, report.where) == (False, f"decision {ids[0]}")


def test_an_undo_is_sealed_like_any_decision(engine: Engine, keyed) -> None:
    from mcc.permissions import Actor
    from mcc.undo import undo

    ids = _log(engine)
    undo(engine, Actor("alex", frozenset({"approver"})), ids[1], note="recorded on the wrong client")
    assert _report(engine).ok


def test_deleting_a_decision_is_named(engine: Engine, keyed) -> None:
    ids = _log(engine)
    _raw(engine, f"DELETE FROM decisions WHERE id = {ids[1]}")
    report = _report(engine)
    assert (report.ok, report.where) == (False, f"decision {ids[1]}")
    assert "gone from the database" in (report.reason or "")


def test_a_decision_added_behind_mccs_back_is_named(engine: Engine, keyed) -> None:
    _log(engine)
    _raw(
        engine,
        "INSERT INTO decisions (client_id, product_id, period, action, amount_cents, note, author, created_at, "
        "gap_json) VALUES (1, 1, '2026-03', 'bump', 999, '', 'mallory', '2026-03-30 00:00:00.000000', '{}')",
    )
    report = _report(engine)
    assert (report.ok, report.where) == (False, "decision 4")
    assert "in no audit row" in (report.reason or "")


def test_rows_before_the_key_are_legacy_and_say_so(engine: Engine, monkeypatch) -> None:
    _log(engine, 2)  # no key yet
    unkeyed = _report(engine)
    assert unkeyed.ok and unkeyed.legacy_rows == 2
    assert any("legacy, unkeyed" in w for w in unkeyed.warnings)
    monkeypatch.setenv("MCC_AUDIT_KEY", KEY)
    _log(engine, 1)
    report = _report(engine)
    assert report.ok, report.reason
    assert (report.checked, report.legacy_rows, report.legacy_decisions) == (4, 2, 2)
    # once keyed, writing without the key is refused rather than quietly unkeyed
    monkeypatch.delenv("MCC_AUDIT_KEY")
    with pytest.raises(AuditKeyError, match="keyed since row 3"):
        _log(engine, 1)


def test_a_short_key_is_refused(engine: Engine, monkeypatch) -> None:
    monkeypatch.setenv("MCC_AUDIT_KEY", "short")
    with pytest.raises(AuditKeyError, match="at least 32 bytes"):
        _log(engine, 1)


def test_genesis_is_the_first_link(engine: Engine, keyed) -> None:
    _log(engine, 1)
    with reading(engine) as session:
        first = session.execute(
            select(AuditEvent.prev_hash, AuditEvent.action).order_by(AuditEvent.id).limit(1)
        ).one()
    assert tuple(first) == (GENESIS, "audit.keyed")


def test_cli_seal_then_verify_names_a_truncation(engine: Engine, keyed, write_config, cli_user) -> None:
    from typer.testing import CliRunner

    from mcc.cli import app

    write_config()
    cli_user("alice")
    runner = CliRunner()
    sealed = runner.invoke(app, ["audit", "seal"])
    assert sealed.exit_code == 0, sealed.output
    _log(engine, 2)
    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "audit log intact" in intact.stdout
    _raw(engine, "DELETE FROM audit_events WHERE id = (SELECT MAX(id) FROM audit_events)")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "audit log tampered: row" in result.stderr
    assert "rows were removed from the end" in result.stderr
