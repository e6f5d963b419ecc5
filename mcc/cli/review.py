"""Commands for this area (registered on the root `mcc` app)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
