"""An outage-shaped answer (organisations listed, devices `[]`) is not believed: the last good counts stay,
the run is held as suspicious with the numbers, and only a person (audited, role re-checked) or a second
run reporting the same lets the drop through."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from collectors.sync import sync_source
from mcc.cli import app
from mcc.drops import confirm_drop
from mcc.errors import MccError, PermissionDenied
from mcc.permissions import Actor
from store.db import reading
from store.models import AuditEvent, CountKey, Observation, SyncRun
from tests.test_deadlines import FAST
from tests.test_worker_support import ninja_world, set_credentials, source_toml

APPROVER = Actor("abe", frozenset({"approver"}))
VIEWER = Actor("vera", frozenset({"viewer"}))
runner = CliRunner(env={"COLUMNS": "200"})


def _counts(engine: Engine, source: str = "ninja") -> dict[str, int]:
    """The latest stored device count per org, summed over attributes."""
    with reading(engine) as session:
        latest = {}
        for key, observation in session.execute(
            select(CountKey, Observation)
            .join(Observation, Observation.key_id == CountKey.id)
            .where(CountKey.source == source)
            .order_by(Observation.id)
        ):
            latest[key.id] = (key.org_external_id, observation.quantity)
    totals: dict[str, int] = {}
    for org, quantity in latest.values():
        totals[org] = totals.get(org, 0) + quantity
    return totals


def _runs(engine: Engine) -> list[tuple[int, str, str | None]]:
    with reading(engine) as session:
        return [(r.id, r.status, r.error) for r in session.scalars(select(SyncRun).order_by(SyncRun.id))]


@pytest.fixture
def ninja(write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch):
    fake = ninja_world(devices_per_org=4)
    url = fake.start()
    set_credentials(monkeypatch, "ninja")
    config = write_config(source_toml("ninja", url))
    yield fake, config
    fake.stop()


def test_an_empty_but_valid_answer_keeps_the_counts_and_is_held(ninja, engine: Engine) -> None:
    fake, config = ninja
    assert sync_source(engine, config, "ninja", policy=FAST)[0].ok
    assert _counts(engine) == {"1": 4, "2": 4}
    fake.faults.add(path="/v2/devices", empty=True, times=-1)
    result = sync_source(engine, config, "ninja", policy=FAST)[0]
    assert result.ok and result.suspicious
    assert _counts(engine) == {"1": 4, "2": 4}
    run_id, status, error = _runs(engine)[-1]
    assert status == "suspicious"
    assert "devices of org 1: 4 → 0" in (error or "") and "devices of org 2: 4 → 0" in (error or "")
    assert f"mcc sources confirm-drop {run_id}" in (error or "")


def test_a_second_run_reporting_the_same_drop_applies_it(ninja, engine: Engine) -> None:
    fake, config = ninja
    assert sync_source(engine, config, "ninja", policy=FAST)[0].ok
    fake.faults.add(path="/v2/devices", empty=True, times=-1)
    assert sync_source(engine, config, "ninja", policy=FAST)[0].suspicious
    second = sync_source(engine, config, "ninja", policy=FAST)[0]
    assert second.ok and not second.suspicious
    assert _counts(engine) == {"1": 0, "2": 0}
    assert [status for _, status, _ in _runs(engine)] == ["ok", "suspicious", "ok"]


def test_a_drop_by_more_than_the_share_is_held_and_a_smaller_one_is_not(ninja, engine: Engine) -> None:
    fake, config = ninja
    assert sync_source(engine, config, "ninja", policy=FAST)[0].ok
    org_one = [d for d in fake.devices if d["organizationId"] == 1]
    fake.devices[:] = [d for d in fake.devices if d not in org_one[:2]]  # 4 → 2: half, not more
    assert not sync_source(engine, config, "ninja", policy=FAST)[0].suspicious
    assert _counts(engine) == {"1": 2, "2": 4}
    fake.devices[:] = [d for d in fake.devices if d["organizationId"] != 2 or d["id"] % 4 == 0]  # 4 → 1
    held = sync_source(engine, config, "ninja", policy=FAST)[0]
    assert held.suspicious and "devices of org 2: 4 → 1" in (held.error or "")
    assert _counts(engine) == {"1": 2, "2": 4}


def test_drop_share_is_set_per_source(write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = ninja_world(devices_per_org=4)
    url = fake.start()
    try:
        set_credentials(monkeypatch, "ninja")
        config = write_config(source_toml("ninja", url, extra="drop_share = 0.9"))
        assert sync_source(engine, config, "ninja", policy=FAST)[0].ok
        fake.devices[:] = [d for d in fake.devices if d["organizationId"] != 2 or d["id"] % 4 == 0]  # 4 → 1
        assert not sync_source(engine, config, "ninja", policy=FAST)[0].suspicious
        assert _counts(engine) == {"1": 4, "2": 1}
    finally:
        fake.stop()


def test_a_person_confirms_the_drop_once_with_the_role_checked_and_audited(ninja, engine: Engine) -> None:
    fake, config = ninja
    assert sync_source(engine, config, "ninja", policy=FAST)[0].ok
    fake.faults.add(path="/v2/devices", empty=True, times=-1)
    run_id = sync_source(engine, config, "ninja", policy=FAST)[0].run_id
    with pytest.raises(PermissionDenied):
        confirm_drop(engine, config, VIEWER, run_id)
    assert _counts(engine) == {"1": 4, "2": 4}
    held = confirm_drop(engine, config, APPROVER, run_id)
    assert {(d.org, d.before, d.after) for d in held.drops} == {("1", 4, 0), ("2", 4, 0)}
    assert _counts(engine) == {"1": 0, "2": 0}
    with reading(engine) as session:
        run = session.get_one(SyncRun, run_id)
        assert (run.status, run.drop_confirmed_by) == ("ok", "abe")
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "sync.confirm_drop")).one()
        assert (event.actor, event.entity_id) == ("abe", str(run_id))
    with pytest.raises(MccError, match="already confirmed"):
        confirm_drop(engine, config, APPROVER, run_id)


def test_an_overtaken_run_cannot_be_confirmed(ninja, engine: Engine) -> None:
    fake, config = ninja
    assert sync_source(engine, config, "ninja", policy=FAST)[0].ok
    fault = fake.faults.add(path="/v2/devices", empty=True, times=1)
    run_id = sync_source(engine, config, "ninja", policy=FAST)[0].run_id
    assert fault.hits == 1
    assert sync_source(engine, config, "ninja", policy=FAST)[0].ok  # the vendor is back: 4 and 4
    with pytest.raises(MccError, match="overtaken"):
        confirm_drop(engine, config, APPROVER, run_id)
    assert _counts(engine) == {"1": 4, "2": 4}


def test_cli_confirm_drop_acts_as_the_named_user(ninja, engine: Engine, cli_user) -> None:
    fake, config = ninja
    assert sync_source(engine, config, "ninja", policy=FAST)[0].ok
    fake.faults.add(path="/v2/devices", empty=True, times=-1)
    run_id = sync_source(engine, config, "ninja", policy=FAST)[0].run_id
    cli_user("viewer", "viewer", use=False)
    refused = runner.invoke(app, ["sources", "confirm-drop", str(run_id), "--as", "viewer"])
    assert refused.exit_code != 0 and "approver" in refused.output
    cli_user("billing", "approver", use=False)
    done = runner.invoke(app, ["sources", "confirm-drop", str(run_id), "--as", "billing"])
    assert done.exit_code == 0, done.output
    assert "confirmed: devices of org 1: 4 → 0" in done.output
    assert _counts(engine) == {"1": 0, "2": 0}
