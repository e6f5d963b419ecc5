"""The audit chain links every row to the previous one; altering or removing a row is detected."""

from __future__ import annotations

from sqlalchemy import Engine

from store.audit import record_event, verify_chain
from store.db import reading, transaction


def _three_events(engine: Engine) -> None:
    with transaction(engine) as session:
        for n in range(3):
            record_event(
                session,
                actor="alice",
                action="decision.bump",
                entity="decision",
                entity_id=n,
                payload={"n": n},
            )


def test_intact_chain_verifies(engine: Engine) -> None:
    _three_events(engine)
    with reading(engine) as session:
        report = verify_chain(session)
    assert (report.ok, report.checked) == (True, 3)


def test_altered_row_is_reported_first(engine: Engine) -> None:
    _three_events(engine)
    with engine.begin() as connection:  # an attacker with raw database access drops the guard first
        connection.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        connection.exec_driver_sql("""UPDATE audit_events SET payload_json = '{"n":7}' WHERE id = 2""")
    with reading(engine) as session:
        report = verify_chain(session)
    assert (report.first_bad_id, report.checked) == (2, 1)
    assert "altered" in (report.reason or "")


def test_removed_row_breaks_the_link(engine: Engine) -> None:
    _three_events(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        connection.exec_driver_sql("DELETE FROM audit_events WHERE id = 2")
    with reading(engine) as session:
        report = verify_chain(session)
    assert report.first_bad_id == 3
    assert "link" in (report.reason or "")
