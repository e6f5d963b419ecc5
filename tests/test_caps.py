"""Vendors that page for ever: a run stops clearly past its page or record cap, and the caps are set per
source in mcc.toml. The hostile fake (sandbox/hostile.py) names a fresh next page on every page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from collectors.http import Api, HttpPolicy, RunBudget, build_client
from collectors.paging import NextLink, NextToken
from collectors.sync import sync_source
from mcc.errors import LimitExceeded
from sandbox.hostile import HostileFake
from tests.test_deadlines import FAST
from tests.test_worker_support import ninja_world, set_credentials, source_toml


@pytest.fixture
def hostile() -> Iterator[HostileFake]:
    fake = HostileFake()
    fake.start()
    yield fake
    fake.stop()


def _api(fake: HostileFake, budget: RunBudget) -> Api:
    return Api("hostile", build_client(fake.url, policy=HttpPolicy(run=budget)), budget)


@pytest.mark.parametrize(
    ("path", "paging"),
    [
        ("/v1/endless", NextToken("items", "next_page_token", "page_token")),
        ("/v1/endless-links", NextLink("value", "@odata.nextLink")),
    ],
    ids=["next-token", "next-link"],
)
def test_endless_pages_stop_at_the_page_cap(hostile: HostileFake, path: str, paging) -> None:
    budget = RunBudget("hostile", deadline=60, max_pages=25, max_items=10**6)
    api = _api(hostile, budget)
    read = []
    with pytest.raises(LimitExceeded, match=r"more than 25 pages \(max_pages_per_run\)"):
        for item in api.pages(path, paging):
            read.append(item)
    api.close()
    assert len(read) == 25 * hostile.page_size
    assert len(hostile.requests) == 25


def test_a_run_stops_at_the_record_cap_from_mcc_toml(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ninja_world(devices_per_org=30)
    url = fake.start()
    try:
        set_credentials(monkeypatch, "ninja")
        config = write_config(source_toml("ninja", url, extra="max_items_per_run = 40"))
        result = sync_source(engine, config, "ninja", policy=FAST)[0]
    finally:
        fake.stop()
    assert not result.ok
    assert "more than 40 records (max_items_per_run)" in (result.error or "")


def test_a_run_stops_at_the_page_cap_from_mcc_toml(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ninja_world()
    url = fake.start()
    try:
        set_credentials(monkeypatch, "ninja")
        config = write_config(source_toml("ninja", url, extra="max_pages_per_run = 1"))
        result = sync_source(engine, config, "ninja", policy=FAST)[0]
    finally:
        fake.stop()
    assert not result.ok  # organisations and devices are two pages
    assert "more than 1 pages (max_pages_per_run)" in (result.error or "")
