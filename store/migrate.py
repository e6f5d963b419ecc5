"""Alembic driven from code: `mcc db upgrade`, and the check that models and migrations agree."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from store.db import is_sqlite, make_engine, normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def migration_engine(url: str) -> Engine:
    """Migrations run with foreign keys off on SQLite, as its table-rebuild procedure requires."""
    return make_engine(url, foreign_keys=not is_sqlite(url))


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def regenerate_initial() -> Path:
    """Rewrite the initial migration from the models (the schema has not shipped yet, so it stays one
    migration). Run `python -m store.migrate` after changing store/models.py."""
    import subprocess
    import sys
    import tempfile

    initial = MIGRATIONS / "versions" / "0001_initial_schema.py"
    initial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/empty.db"
        command.revision(alembic_config(url), message="initial schema", autogenerate=True, rev_id="0001")
    generated = next((MIGRATIONS / "versions").glob("0001_*.py"))
    generated.rename(initial)
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(initial)], check=False)
    return initial


if __name__ == "__main__":
    print(regenerate_initial())
