"""Shared by the book tests (no tests here): the mcc.toml they run against and a table snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

DATA = Path(__file__).parent / "data" / "book"
SOURCES = """
[[sources]]
name = "ninja"
kind = "ninjaone"

[[sources]]
name = "ninja-eu"
kind = "ninjaone"
"""
TABLES = (
    "clients",
    "client_orgs",
    "products",
    "mappings",
    "contracts",
    "exclusions",
    "hour_blocks",
    "audit_events",
)


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of the book tables and the audit log, to prove a failed import wrote nothing."""
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))]  # noqa: S608
            for table in TABLES
        }
