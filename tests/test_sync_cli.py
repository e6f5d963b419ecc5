"""`mcc sync` and `mcc worker` as a user runs them: output, exit codes, first-sync suggestions, the
refresh queue, and SIGTERM on a real worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from collectors.worker import STOPPED
from mcc.cli import app
from store.db import reading, transaction
from store.models import Client, Mapping, Product, RefreshRequest, SourceJob, SyncRun
from tests import test_worker_support as support
from tests.test_worker_support import ninja_world, set_credentials, source_toml, wait_for

fake = support.fake
runner = CliRunner(env={"COLUMNS": "200"})
MCC = [str(Path(sys.executable).parent / "mcc")]


def test_sync_runs_every_source_prints_a_table_and_suggests_mappings_after_the_first_run(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    write_config(source_toml("ninja", fake.url))
    set_credentials(monkeypatch, "ninja")
    with transaction(engine) as session:
        session.add(Client(name="Acme Dental"))
    first = runner.invoke(app, ["sync"])
    assert first.exit_code == 0, first.output
    assert "ninja" in first.output and "devices" in first.output and " ok " in first.output
    assert "first sync" in first.output and "Acme Dental, Inc." in first.output
    assert "mcc orgs map --accept-suggestions --source ninja" in first.output
    again = runner.invoke(app, ["sync", "ninja", "--stream", "devices"])
    assert again.exit_code == 0, again.output
    assert "first sync" not in again.output  # suggestions are offered once, after the first good run
    with reading(engine) as session:
        runs = session.scalars(select(SyncRun)).all()
        assert [(r.trigger, r.status, r.records) for r in runs] == [("cli", "ok", 8), ("cli", "ok", 8)]


def test_sync_lists_node_classes_no_mapping_counts_until_one_does(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    write_config(source_toml("ninja", fake.url))
    set_credentials(monkeypatch, "ninja")
    first = runner.invoke(app, ["sync"])
    assert first.exit_code == 0, first.output
    assert "ninja: reported but counted by no mapping" in first.output
    assert "node_class" in first.output and "WINDOWS_WORKSTATION" in first.output
    with transaction(engine) as session:
        product = Product(code="WS", name="Managed workstation", unit_price_cents=4500)
        session.add(product)
        session.flush()
        session.add(Mapping(product_id=product.id, source="ninja", metric="devices", where={}))
    again = runner.invoke(app, ["sync"])
    assert again.exit_code == 0, again.output
    assert "counted by no mapping" not in again.output


def test_sync_exits_1_when_any_source_fails_and_names_the_error(
    write_config, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    down = ninja_world()
    down.start()
    try:
        down.faults.add(path="/v2/organizations", status=404, times=-1)
        write_config(source_toml("ninja", fake.url) + source_toml("down", down.url))
        set_credentials(monkeypatch, "ninja", "down")
        result = runner.invoke(app, ["sync"])
        assert result.exit_code == 1
        assert "failed" in result.output and "HTTP 404" in result.output
        assert "ninja" in result.output  # the healthy source still ran
    finally:
        down.stop()


def test_sync_errors_are_one_clear_line(write_config, monkeypatch: pytest.MonkeyPatch, fake) -> None:
    write_config(source_toml("ninja", fake.url))
    set_credentials(monkeypatch, "ninja")
    unknown = runner.invoke(app, ["sync", "nope"])
    assert unknown.exit_code == 1 and "error: no source named 'nope'" in unknown.output
    stream = runner.invoke(app, ["sync", "ninja", "--stream", "agents"])
    assert stream.exit_code == 1 and "has no stream 'agents'" in stream.output
    monkeypatch.delenv("MCC_NINJA_CLIENT_SECRET")
    missing = runner.invoke(app, ["sync", "ninja"])
    assert missing.exit_code == 1 and "MCC_NINJA_CLIENT_SECRET" in missing.output


def test_sync_queue_enqueues_a_refresh_request(write_config, engine: Engine, fake, cli_user) -> None:
    write_config(source_toml("ninja", fake.url))
    cli_user("alice", "approver")
    result = runner.invoke(app, ["sync", "ninja", "--queue"])
    assert result.exit_code == 0, result.output
    assert "queued refresh request #1 for ninja" in result.output
    everything = runner.invoke(app, ["sync", "--queue"])
    assert "queued refresh request #2 for every source" in everything.output
    with reading(engine) as session:
        rows = session.scalars(select(RefreshRequest).order_by(RefreshRequest.id)).all()
        assert [(r.source, r.status, r.requested_by) for r in rows] == [
            ("ninja", "queued", "alice"),
            (None, "queued", "alice"),
        ]
    assert fake.requests == []  # nothing was read in this process


def _start_worker(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MCC_LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [*MCC, "worker", "--threads", "2", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _running_runs(engine: Engine) -> int:
    with reading(engine) as session:
        return len(session.scalars(select(SyncRun.id).where(SyncRun.status == "running")).all())


def test_sigterm_lets_the_in_flight_run_finish_and_releases_the_lease(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    write_config(source_toml("ninja", fake.url))
    set_credentials(monkeypatch, "ninja")
    fake.faults.add(path="/v2/devices", delay=1.5, times=1)
    worker = _start_worker()
    try:
        wait_for(lambda: _running_runs(engine), timeout=20, what="the worker to start a run")
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert "SIGTERM received" in output and "stopped" in output
    with reading(engine) as session:
        assert [r.status for r in session.scalars(select(SyncRun))] == ["ok"]
        job = session.scalars(select(SourceJob)).one()
        assert (job.lease_owner, job.lease_until, job.runs, job.last_status) == (None, None, 1, "ok")


def test_sigterm_after_the_grace_period_abandons_the_run_and_leaves_the_job_due(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    write_config(source_toml("ninja", fake.url))
    set_credentials(monkeypatch, "ninja")
    fake.faults.add(path="/v2/devices", delay=20, times=1)
    worker = _start_worker("--grace", "0.2")
    try:
        wait_for(
            lambda: any(r.path == "/v2/devices" for r in fake.requests), timeout=20, what="a slow device page"
        )
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert "abandoning 1 in-flight run" in output
    with reading(engine) as session:
        run = session.scalars(select(SyncRun)).one()
        assert (run.status, run.error) == ("failed", STOPPED)
        job = session.scalars(select(SourceJob)).one()
        assert (job.lease_owner, job.lease_until, job.runs, job.failures) == (None, None, 0, 0)
        assert job.next_due_at <= run.finished_at  # still due: the next worker runs it at once
