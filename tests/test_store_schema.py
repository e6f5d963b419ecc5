"""The schema: migrations match the models, SQLite runs in WAL, and the audit tables are append-only."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from store.db import make_engine, transaction
from store.migrate import current_revision, head_revision
from store.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == [], f"models and migrations differ; run `python -m store.migrate`: {diff}"


def test_database_is_at_head_and_in_wal_mode(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"])
def test_audit_tables_refuse_update_and_delete(engine: Engine, statement: str) -> None:
    with transaction(engine) as session:
        session.execute(
            text(
                "INSERT INTO audit_events (at, actor, action, entity, entity_id, payload_json, prev_hash, hash) "
                "VALUES ('2026-01-01 00:00:00', 'a', 'b', 'c', '1', '{}', '', 'h')"
            )
        )
    with pytest.raises(DatabaseError, match="append-only"), transaction(engine) as session:
        session.execute(text(statement))


def test_readonly_engine_cannot_write(database_url: str) -> None:
    reader = make_engine(database_url, readonly=True)
    with pytest.raises(DatabaseError), reader.begin() as connection:
        connection.exec_driver_sql("DELETE FROM clients")


@pytest.mark.postgres
def test_postgres_migrates_and_guards_the_audit_log(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    assert current_revision(engine) == head_revision()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (at, actor, action, entity, entity_id, payload_json, prev_hash, hash) "
                "VALUES (now(), 'a', 'b', 'c', '1', '{}', '', 'h')"
            )
        )
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))
    engine.dispose()
