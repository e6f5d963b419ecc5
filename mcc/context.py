"""What every command and page needs: the loaded config and the database engines, made once."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from collectors.http import install_redaction
from collectors.limits import share_request_windows
from mcc.config import Config, load_config
from store.db import make_engine


@dataclass
class Context:
    config: Config
    _engines: dict[str, Engine] = field(default_factory=dict, repr=False)

    @property
    def database_url(self) -> str:
        return self.config.database_url

    @cached_property
    def engine(self) -> Engine:
        """The writer engine (SQLite: BEGIN IMMEDIATE, WAL)."""
        return make_engine(self.database_url)

    @cached_property
    def reader(self) -> Engine:
        """A read-only engine for pages and reports."""
        return make_engine(self.database_url, readonly=True)

    def dispose(self) -> None:
        for name in ("engine", "reader"):
            if name in self.__dict__:
                self.__dict__.pop(name).dispose()


def open_context(config_path: Path | str | None = None) -> Context:
    """Also turns on log redaction: the web app's process never runs the CLI's `main`, which does it there."""
    install_redaction()
    config = load_config(config_path)
    share_request_windows(config.database_url)
    return Context(config)
