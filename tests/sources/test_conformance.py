"""The same battery for every vendor, against its fake over a real socket: paging, token refresh,
Retry-After, 5xx, timeouts, malformed pages (last good counts intact) and no secrets in logs."""

from __future__ import annotations

import dataclasses
import logging
import time

import pytest
from sqlalchemy import select

from collectors.http import install_redaction
from collectors.sync import sync_source
from store.db import reading
from store.models import SyncRun
from tests.sources.conftest import TEST_POLICY, Vendor


def _sync(vendor: Vendor):
    return sync_source(vendor.engine, vendor.config, vendor.name, policy=TEST_POLICY)


def _sync_with(vendor: Vendor, **policy: float):
    return sync_source(
        vendor.engine, vendor.config, vendor.name, policy=dataclasses.replace(TEST_POLICY, **policy)
    )


def _paged_requests(vendor: Vendor) -> int:
    return sum(1 for request in vendor.fake.requests if request.path.startswith(vendor.harness.paged_path))


def test_reads_every_page(vendor: Vendor) -> None:
    results = _sync(vendor)
    assert all(result.ok for result in results), [result.error for result in results]
    assert vendor.counts() == vendor.harness.expected
    assert _paged_requests(vendor) >= 2, "the small world must span several pages"


def test_expired_token_is_refreshed_once(vendor: Vendor) -> None:
    assert all(result.ok for result in _sync(vendor))
    vendor.fake.faults.add(expire_tokens=True)
    results = _sync(vendor)
    assert all(result.ok for result in results), [result.error for result in results]
    assert vendor.counts() == vendor.harness.expected


def test_rejected_credentials_fail_the_run_with_a_clear_error(
    vendor: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = next(iter(vendor.harness.env))
    monkeypatch.setenv(f"MCC_SRC_{key}", "wrong-value")
    if key == "CLIENT_ID" and "CLIENT_SECRET" in vendor.harness.env:
        monkeypatch.setenv("MCC_SRC_CLIENT_SECRET", "wrong-secret")
    results = _sync(vendor)
    assert not any(result.ok for result in results)
    assert any(word in (results[0].error or "") for word in ("refused", "401", "403", "credentials"))


def test_retry_after_is_honoured_and_capped(vendor: Vendor) -> None:
    vendor.fake.faults.add(path=vendor.harness.paged_path, status=429, retry_after=30, times=1, skip=1)
    started = time.monotonic()
    results = _sync(vendor)
    elapsed = time.monotonic() - started
    assert all(result.ok for result in results), [result.error for result in results]
    assert vendor.counts() == vendor.harness.expected
    # waited for the capped Retry-After (1 s in tests), not the 30 s asked for, and not zero
    assert TEST_POLICY.max_wait * 0.9 <= elapsed < 15


def test_server_errors_are_retried_then_reported(vendor: Vendor) -> None:
    vendor.fake.faults.add(path=vendor.harness.paged_path, status=503, times=2)
    assert all(result.ok for result in _sync(vendor))
    vendor.fake.faults.add(path=vendor.harness.paged_path, status=503, times=-1)
    results = _sync(vendor)
    assert not all(result.ok for result in results)
    assert "503" in " ".join(result.error or "" for result in results)


def test_timeout_fails_the_run(vendor: Vendor) -> None:
    vendor.fake.faults.add(path=vendor.harness.paged_path, delay=TEST_POLICY.timeout + 0.5, times=-1)
    results = _sync(vendor)
    assert not all(result.ok for result in results)
    assert "timed out" in " ".join(result.error or "" for result in results)


def test_a_trickling_server_is_cut_at_the_request_deadline(vendor: Vendor) -> None:
    """One byte every 0.3 s never trips the 2 s read timeout; only the request deadline ends it."""
    vendor.fake.faults.add(path=vendor.harness.paged_path, trickle=0.3, times=-1)
    policy = dataclasses.replace(TEST_POLICY, request_deadline=1.0)
    results = sync_source(vendor.engine, vendor.config, vendor.name, policy=policy)
    assert not all(result.ok for result in results)
    assert "request_deadline_seconds" in " ".join(result.error or "" for result in results)


def test_an_empty_but_valid_answer_keeps_the_last_good_counts(vendor: Vendor) -> None:
    """An outage-shaped answer (the paged list comes back `[]`, no next page) is held as suspicious."""
    assert all(result.ok for result in _sync(vendor))
    vendor.fake.faults.add(path=vendor.harness.paged_path, empty=True, times=-1)
    results = _sync(vendor)
    assert vendor.counts() == vendor.harness.expected
    if vendor.harness.expected:
        assert any(result.suspicious for result in results), [result.error for result in results]
        assert "suspicious drop" in " ".join(result.error or "" for result in results)


def test_endless_pages_and_records_stop_at_the_run_caps(vendor: Vendor) -> None:
    pages = _sync_with(vendor, max_pages=1)
    assert not all(result.ok for result in pages)
    assert "(max_pages_per_run)" in " ".join(result.error or "" for result in pages)
    records = _sync_with(vendor, max_items=5)
    assert not all(result.ok for result in records)
    assert "(max_items_per_run)" in " ".join(result.error or "" for result in records)
    assert vendor.counts() == {}


def test_malformed_page_fails_the_run_and_keeps_the_last_good_counts(vendor: Vendor) -> None:
    assert all(result.ok for result in _sync(vendor))
    vendor.fake.faults.add(path=vendor.harness.paged_path, malformed=True, times=1, skip=1)
    results = _sync(vendor)
    assert not all(result.ok for result in results)
    assert "malformed" in " ".join(result.error or "" for result in results)
    assert vendor.counts() == vendor.harness.expected
    with reading(vendor.engine) as session:
        statuses = [run.status for run in session.scalars(select(SyncRun).order_by(SyncRun.id))]
    assert "failed" in statuses and statuses[0] == "ok"


def test_secrets_never_reach_the_logs(
    vendor: Vendor, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # the noisiest setting a user could choose
    vendor.fake.faults.add(expire_tokens=True)
    vendor.fake.faults.add(path=vendor.harness.paged_path, status=500, times=-1)
    _sync(vendor)
    key = next(iter(vendor.harness.env))
    monkeypatch.setenv(f"MCC_SRC_{key}", "bad-" + vendor.harness.env[key])
    _sync(vendor)
    captured = caplog.text
    with reading(vendor.engine) as session:
        errors = " ".join(run.error or "" for run in session.scalars(select(SyncRun)))
    for secret in (*vendor.harness.secret_values, *vendor.harness.env.values()):
        if len(secret) >= 8 and "id" not in secret.lower():
            assert secret not in captured
            assert secret not in errors
    assert "Bearer " not in captured.replace("Bearer [redacted]", "")


def test_an_error_echoing_encoded_credentials_is_stored_redacted(vendor: Vendor) -> None:
    """A vendor error that echoes base64(key:secret) without `Basic `, or a URL-encoded secret."""
    import base64
    from urllib.parse import quote

    values = list(vendor.harness.env.values())
    echoed = [base64.b64encode(f"{a}:{b}".encode()).decode() for a in values for b in values if a != b]
    echoed += [quote(value, safe="") for value in vendor.harness.secret_values]
    vendor.fake.faults.add(
        path=vendor.harness.paged_path,
        status=400,
        body={"error": "bad request " + " ".join(echoed)},
        times=-1,
    )
    results = _sync(vendor)
    assert not all(result.ok for result in results)
    with reading(vendor.engine) as session:
        errors = " ".join(run.error or "" for run in session.scalars(select(SyncRun)))
    assert "bad request" in errors
    for text in echoed:
        assert text not in errors


def test_records_match_golden_file(vendor: Vendor, update_golden: bool) -> None:
    """The normalised records, diffed against tests/golden/sources/<kind>.json (regenerate: --update-golden)."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    source_config = vendor.config.source(vendor.name)
    collector = source_config.collector(source_config, source_config.secrets(), TEST_POLICY)
    api = collector.open_api()
    try:
        records = [
            {"type": type(record).__name__, **asdict(record)}
            for stream in collector.streams
            for record in collector.collect(api, stream)
        ]
    finally:
        api.close()
    records = records[:40] + records[-10:]  # the start and the end of paging are what changes with a format
    text = json.dumps(records, indent=1, sort_keys=True, default=str) + "\n"
    golden = (
        Path(__file__).parent.parent
        / "golden"
        / "sources"
        / f"{vendor.harness.golden or vendor.harness.kind}.json"
    )
    if update_golden or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
