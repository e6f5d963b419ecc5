"""One request window per vendor account, shared by every process that reads it.

The in-process limiter (`collectors.http.shared_limiter`) keeps the threads of one process polite; a
vendor counts the requests of every worker, manual refresh and `mcc sync` together. Before each request a
source takes a slot in `request_slots` (for SQLite, in a file beside the database): inside one short transaction that only one process at a time may
hold per database (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock per key) it drops slots older
than the window, and takes one if fewer than the limit remain, else learns how long until the oldest
leaves. When the answer comes back the slot is stamped again with that moment, so a slow request can
never let the vendor see more than the limit in any window of its own clock. Times are this host's clock: processes on several hosts need their clocks in step (NTP).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import httpx
from sqlalchemy import Engine, Table, delete, insert, make_url, select, text, update

from store.db import is_sqlite, make_engine
from store.models import RequestSlot

_engines: dict[str, Engine | None] = {}
_shared_url: str | None = None
_lock = threading.Lock()


def share_request_windows(database_url: str | None) -> None:
    """Sources opened after this call take their request slots in this database (None: in-process only)."""
    global _shared_url
    _shared_url = database_url


def _engine(url: str) -> Engine | None:
    """PostgreSQL: the database itself. SQLite: a file beside it, so that a long write to the database
    never holds up a request. An in-memory database shares with no one."""
    with _lock:
        if url not in _engines:
            engine: Engine | None = None
            if not is_sqlite(url):
                engine = make_engine(url)
            elif (database := make_url(url).database) and database != ":memory:":
                engine = make_engine(f"sqlite:///{database}-windows", durable=False)
                RequestSlot.metadata.create_all(engine, tables=[cast(Table, RequestSlot.__table__)])
            _engines[url] = engine
        return _engines[url]


@dataclass
class RequestWindow:
    """At most `requests` requests in any `seconds` for `key`, counted across every process."""

    engine: Engine
    key: str
    requests: int
    seconds: float = 60.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def acquire(self) -> tuple[int, float]:
        """Wait for a slot and take it: (its id, the time it was taken at)."""
        while True:
            slot, wait = self._try()
            if slot is not None:
                return slot
            self.sleep(wait)

    def settle(self, slot_id: int) -> None:
        """The request of `slot_id` has its answer: its slot is held for a window from now, so however
        long the request took to reach the vendor, the vendor never sees more than the limit in a window."""
        with self.engine.begin() as connection:
            connection.execute(update(RequestSlot).where(RequestSlot.id == slot_id).values(at=self.clock()))

    def _try(self) -> tuple[tuple[int, float] | None, float]:
        """Take a slot now if the window has room: ((id, time), 0); else (None, seconds to wait)."""
        with self.engine.begin() as connection:
            if not is_sqlite(str(self.engine.url)):
                lock_id = zlib.crc32(self.key.encode()) & 0x7FFFFFFF
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
            now = self.clock()
            mine = RequestSlot.key == self.key
            connection.execute(delete(RequestSlot).where(mine, RequestSlot.at <= now - self.seconds))
            held = (
                connection.execute(select(RequestSlot.at).where(mine).order_by(RequestSlot.at))
                .scalars()
                .all()
            )
            if len(held) < self.requests:
                slot_id = connection.execute(
                    insert(RequestSlot).values(key=self.key, at=now).returning(RequestSlot.id)
                ).scalar_one()
                return (slot_id, now), 0.0
            # The slot that must leave before one is free (more than one if the limit was lowered).
            leaving = held[len(held) - self.requests]
            return None, max(leaving + self.seconds - now, 0.001)


def shared_window(key: str, requests_per_minute: int, seconds: float = 60.0) -> RequestWindow | None:
    """The window for `key` in the shared database, or None when this process shares none."""
    engine = None if _shared_url is None else _engine(_shared_url)
    return None if engine is None else RequestWindow(engine, key, requests_per_minute, seconds)


class WindowTransport(httpx.BaseTransport):
    """Takes a slot of the shared window before every request (retries included) goes out."""

    def __init__(self, inner: httpx.BaseTransport, window: RequestWindow) -> None:
        self.inner = inner
        self.window = window

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        slot_id, _ = self.window.acquire()
        try:
            return self.inner.handle_request(request)
        finally:
            self.window.settle(slot_id)

    def close(self) -> None:
        self.inner.close()
