"""A vendor account's request window is shared by every process: together they never exceed it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from collectors.limits import RequestWindow, share_request_windows, shared_window
from mcc.cli import app
from sandbox.huntress import HuntressFake
from store.db import make_engine, reading
from store.models import RequestSlot
from tests import test_worker_support as support
from tests.test_worker_support import set_credentials, source_toml

fake = support.fake  # the NinjaOne fake
WINDOW = 3.0
LIMIT = 4
PROCESSES = 3
EACH = 4

CHILD = f"""
import json, sys, time
from collectors.http import HttpPolicy, build_client
from collectors.limits import RequestWindow
from store.db import make_engine

url, database, start, shared = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
window = RequestWindow(make_engine(database), "huntress:shared", {LIMIT}, {WINDOW}) if shared else None
client = build_client(url, auth=("k", "s"), window=window, policy=HttpPolicy(retries=0))
while time.time() < start:
    time.sleep(0.01)
print(json.dumps([client.get("/v1/organizations").status_code for _ in range({EACH})]))
"""


@pytest.fixture
def huntress() -> Iterator[HuntressFake]:
    fake = HuntressFake(
        [{"id": 1, "name": "A"}],
        [],
        api_key="k",
        api_secret="s",
        requests_per_minute=LIMIT,
        window_seconds=WINDOW,
    )
    fake.start()
    yield fake
    fake.stop()


def _run_processes(fake: HuntressFake, database: str, *, shared: bool) -> list[int]:
    start = time.time() + 2.0
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, fake.url, database, str(start), "1" if shared else "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    statuses: list[int] = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        statuses += json.loads(out.strip().splitlines()[-1])
    return statuses


def test_three_processes_sharing_the_window_never_draw_a_429(
    huntress: HuntressFake, database_url: str
) -> None:
    statuses = _run_processes(huntress, database_url, shared=True)
    assert statuses == [200] * PROCESSES * EACH
    assert huntress.rate_limited == 0


def test_without_the_shared_window_the_same_processes_exceed_the_vendor_limit(
    huntress: HuntressFake, database_url: str
) -> None:
    """The control: the fake does count per window, and three processes at once do exceed it."""
    statuses = _run_processes(huntress, database_url, shared=False)
    assert huntress.rate_limited > 0
    assert statuses.count(429) == huntress.rate_limited


def test_no_window_ever_holds_more_than_the_limit(database_url: str) -> None:
    """Slots taken from three processes, by the clock they were taken at: any WINDOW-second span holds at
    most LIMIT of them."""
    code = (
        "import sys, json; from collectors.limits import RequestWindow; from store.db import make_engine\n"
        f"w = RequestWindow(make_engine(sys.argv[1]), 'k', {LIMIT}, {WINDOW})\n"
        f"print(json.dumps([w.acquire()[1] for _ in range({EACH})]))"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", code, database_url], stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    taken = sorted(t for child in children for t in json.loads(child.communicate(timeout=120)[0]))
    assert len(taken) == PROCESSES * EACH
    for i, first in enumerate(taken):
        assert sum(1 for t in taken[i:] if t < first + WINDOW) <= LIMIT


def test_a_window_waits_exactly_until_the_oldest_slot_leaves(database_url: str) -> None:
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    window = RequestWindow(make_engine(database_url), "k", 2, 60.0, clock=lambda: now[0], sleep=sleep)
    first, second = window.acquire(), window.acquire()
    assert (first[1], second[1]) == (1000.0, 1000.0)
    now[0] = 1005.0
    window.settle(second[0])  # its answer came at 1005: held until 1065
    now[0] = 1010.0
    assert window.acquire()[1] == 1060.0
    assert waits == [50.0]
    lowered = RequestWindow(window.engine, "k", 1, 60.0, clock=lambda: now[0], sleep=sleep)
    assert lowered.acquire()[1] == 1120.0  # 1005 and 1060 held: wait for 1060 to leave


def test_sqlite_windows_live_beside_the_database_and_memory_shares_nothing(tmp_path: Path) -> None:
    database = tmp_path / "mcc.db"
    share_request_windows(f"sqlite:///{database}")
    try:
        window = shared_window("ninjaone:rmm", 600)
        assert isinstance(window, RequestWindow)
        assert window.engine.url.database == f"{database}-windows"
        share_request_windows("sqlite:///:memory:")
        assert shared_window("ninjaone:rmm", 600) is None
    finally:
        share_request_windows(None)
    assert shared_window("ninjaone:rmm", 600) is None


def test_mcc_sync_takes_its_requests_from_the_shared_window(
    write_config, database_url: str, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    write_config(source_toml("ninja", fake.url))
    set_credentials(monkeypatch, "ninja")
    try:
        result = CliRunner().invoke(app, ["sync"])
    finally:
        share_request_windows(None)
    assert result.exit_code == 0, result.output
    windows = make_engine(f"{database_url}-windows")
    with reading(windows) as session:
        keys = session.scalars(select(RequestSlot.key)).all()
    assert len(keys) == len(fake.requests) and set(keys) == {"ninjaone:ninja"}
