"""Shared fixtures: a migrated database per test (copied from one migrated template) and configs."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mcc.config import Config, load_config
from mcc.context import Context
from store.db import make_engine, normalise_url, transaction
from store.migrate import upgrade
from store.models import User
from tests.postgres import ThrowawayPostgres


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mcc.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(migrated_template: Path, tmp_path: Path) -> str:
    """A fresh, fully migrated SQLite database for this test."""
    path = tmp_path / "mcc.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def write_config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch):
    """Write an mcc.toml (body below the database_url line), point MCC_CONFIG at it, return the Config."""

    def write(body: str = "") -> Config:
        path = tmp_path / "mcc.toml"
        path.write_text(f'database_url = "{database_url}"\n{body}', encoding="utf-8")
        monkeypatch.setenv("MCC_CONFIG", str(path))
        return load_config(path)

    monkeypatch.delenv("MCC_DATABASE_URL", raising=False)
    return write


@pytest.fixture(autouse=True)
def no_cli_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI writes act as MCC_USER when --as is not given; no test inherits one from the shell."""
    monkeypatch.delenv("MCC_USER", raising=False)


@pytest.fixture(autouse=True)
def no_audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit chain is keyed only in tests that set MCC_AUDIT_KEY themselves (not from the shell, nor
    left behind by a demo started in an earlier test)."""
    monkeypatch.delenv("MCC_AUDIT_KEY", raising=False)
    monkeypatch.delenv("MCC_AUDIT_HEAD", raising=False)


@pytest.fixture
def cli_user(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Add an MCC user with these roles (default admin) to the test database and make CLI writes act
    as them through MCC_USER. Returns the username."""

    def add(username: str = "operator", *roles: str, use: bool = True, url: str | None = None) -> str:
        engine = make_engine(url or database_url)
        with transaction(engine) as session:
            session.add(
                User(
                    username=username,
                    name=username.title(),
                    password_hash="!",  # never matches: this user only acts on the CLI
                    roles=",".join(roles or ("admin",)),
                )
            )
        engine.dispose()
        if use:
            monkeypatch.setenv("MCC_USER", username)
        return username

    return add


@pytest.fixture
def context(write_config) -> Iterator[Context]:
    context = Context(write_config())
    yield context
    context.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """MCC_TEST_POSTGRES_URL if set, else a throwaway server from the installed PostgreSQL binaries."""
    url = os.environ.get("MCC_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    server = ThrowawayPostgres()
    if not server.available:
        pytest.fail(
            "PostgreSQL is not installed: sudo apt-get install -y postgresql (make test does it as root)"
        )
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, fully migrated PostgreSQL database for this test."""
    from sqlalchemy import create_engine

    name = f"mcc_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(postgres_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = postgres_server.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    return url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
