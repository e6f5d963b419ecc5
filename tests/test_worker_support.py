"""Shared pieces for the worker, refresh, mapping and sync-CLI tests: a small NinjaOne world on a real
socket, the mcc.toml entries that read it, and polling helpers (no fixed sleeps)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from collectors.worker import Worker
from sandbox.ninjaone import NinjaOneFake

CLIENT_ID, CLIENT_SECRET = "ninja-id-5e1b", "ninja-SECRET-77aa"
T = TypeVar("T")


def ninja_world(orgs: list[tuple[int, str]] | None = None, devices_per_org: int = 3) -> NinjaOneFake:
    organizations = [
        {"id": i, "name": n} for i, n in (orgs or [(1, "Acme Dental, Inc."), (2, "Birch Legal LLC")])
    ]
    devices = [
        {
            "id": 1000 + index * 100 + n,
            "organizationId": org["id"],
            "nodeClass": "WINDOWS_WORKSTATION",
            "approvalStatus": "APPROVED",
            "systemName": f"PC-{org['id']}-{n}",
        }
        for index, org in enumerate(organizations)
        for n in range(devices_per_org)
    ]
    return NinjaOneFake(organizations, devices, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def source_toml(name: str, url: str, schedule: str | None = None, extra: str = "") -> str:
    line = f'schedule = "{schedule}"\n' if schedule else ""
    return f'[[sources]]\nname = "{name}"\nkind = "ninjaone"\nbase_url = "{url}"\nauth_url = "{url}"\n{line}{extra}\n'


def credentials(name: str, secret: str = CLIENT_SECRET) -> dict[str, str]:
    prefix = f"MCC_{name.upper().replace('-', '_')}_"
    return {prefix + "CLIENT_ID": CLIENT_ID, prefix + "CLIENT_SECRET": secret}


def set_credentials(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:
        for key, value in credentials(name).items():
            monkeypatch.setenv(key, value)


def wait_for(check: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def fake() -> Iterator[NinjaOneFake]:
    world = ninja_world()
    world.start()
    yield world
    world.stop()


class Running:
    """A worker running on a background thread for the length of a test."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as error:  # surfaced by stop()
            self.error = error

    def __enter__(self) -> Worker:
        self.thread.start()
        return self.worker

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the worker did not stop"
        if self.error is not None:
            raise self.error
