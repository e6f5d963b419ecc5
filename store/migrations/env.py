"""Alembic environment: batch mode (SQLite table rebuilds), the app's own engine factory."""

from __future__ import annotations

from alembic import context

from store.migrate import migration_engine
from store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url is not set"

engine = migration_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
