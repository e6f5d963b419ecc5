"""Scale-out on PostgreSQL: three real `mcc worker` processes share the jobs and each due run happens
exactly once; a killed worker's lease is taken over once it expires."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from store.db import make_engine, reading, transaction
from store.models import SourceJob, SyncRun
from store.types import utcnow
from tests.test_worker_support import credentials, ninja_world, source_toml, wait_for

pytestmark = pytest.mark.postgres
MCC = str(Path(sys.executable).parent / "mcc")


def _environment(tmp_path: Path, url: str, toml: str, names: list[str]) -> dict[str, str]:
    config = tmp_path / "mcc.toml"
    config.write_text(toml, encoding="utf-8")
    env = {**os.environ, "MCC_CONFIG": str(config), "MCC_DATABASE_URL": url, "MCC_LOG_LEVEL": "INFO"}
    for name in names:
        env.update(credentials(name))
    return env


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MCC, "worker", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _stop(workers: list[subprocess.Popen[str]]) -> list[str]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=30)[0])
        finally:
            worker.kill()
    return outputs


def _starts(output: str) -> list[str]:
    """The `worker OWNER: N source stream(s)` lines of a worker's log, from `worker` on."""
    return [line[line.index("worker ") :] for line in output.splitlines() if "source stream(s)" in line]


def test_three_workers_run_each_due_job_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    fake = ninja_world()
    fake.start()
    fake.faults.add(path="/v2/devices", delay=0.5, times=-1)  # runs overlap, so the workers compete
    names = [f"s{n}" for n in range(9)]
    env = _environment(
        tmp_path, postgres_url, "".join(source_toml(n, fake.url, "nightly") for n in names), names
    )
    engine = make_engine(postgres_url)
    # every job falls due at the same moment, once all three workers are up (each says so in its log)
    with transaction(engine) as session:
        later = utcnow() + timedelta(hours=1)
        session.add_all(SourceJob(source=name, stream="devices", next_due_at=later) for name in names)
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]
    workers = [
        subprocess.Popen(
            [MCC, "worker", "--threads", "2"],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        for log in logs
    ]
    try:
        wait_for(
            lambda: all("source stream(s)" in log.read_text() for log in logs),
            timeout=120,
            what="all three workers to start",
        )
        due = utcnow()
        with transaction(engine) as session:
            for job in session.scalars(select(SourceJob)):
                job.next_due_at = due

        def all_ran() -> bool:
            with reading(engine) as session:
                jobs = session.scalars(select(SourceJob)).all()
                return all(job.runs >= 1 and job.lease_owner is None for job in jobs)

        wait_for(all_ran, timeout=120, what="every due job to run")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            finally:
                worker.kill()
        outputs = [log.read_text() for log in logs]
        fake.stop()
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    with reading(engine) as session:
        runs = session.scalars(select(SyncRun)).all()
        jobs = session.scalars(select(SourceJob)).all()
        session.expunge_all()
    per_source = Counter(run.source for run in runs)
    assert per_source == Counter({name: 1 for name in names}), per_source
    assert all(run.status == "ok" and run.trigger == "schedule" for run in runs)
    assert all(job.runs == 1 and job.next_due_at > due for job in jobs)
    # each run reads the organizations page once: the vendor saw each due run exactly once too
    assert sum(1 for request in fake.requests if request.path == "/v2/organizations") == len(names)
    # A worker has a slot for every source, so whichever ticks first may take every due job: what three
    # workers must never do is run one twice (above) or leave one to a dead lease.
    assert {run.worker for run in runs} <= {
        line.split()[1].rstrip(":") for out in outputs for line in _starts(out)
    }
    engine.dispose()


def test_a_killed_workers_lease_is_taken_over_after_it_expires(postgres_url: str, tmp_path: Path) -> None:
    fake = ninja_world()
    fake.start()
    fake.faults.add(path="/v2/devices", delay=30, times=1)  # the first worker hangs mid-run
    env = _environment(tmp_path, postgres_url, source_toml("ninja", fake.url), ["ninja"])
    engine = make_engine(postgres_url)
    first = _worker(env, "--lease", "2")
    second = None
    try:
        wait_for(lambda: any(r.path == "/v2/devices" for r in fake.requests), timeout=30, what="a hung run")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        with reading(engine) as session:
            dead_owner = session.scalars(select(SourceJob.lease_owner)).one()
        assert dead_owner is not None
        second = _worker(env, "--lease", "2")

        def taken_over() -> bool:
            with reading(engine) as session:
                return session.scalars(select(SourceJob.last_status)).one() == "ok"

        wait_for(taken_over, timeout=30, what="the second worker to take the job over")
    finally:
        _stop([second] if second else [])
        first.kill()
        fake.stop()
    with reading(engine) as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        job = session.scalars(select(SourceJob)).one()
        session.expunge_all()
    assert [(run.worker == dead_owner, run.status) for run in runs] == [(True, "failed"), (False, "ok")]
    assert "abandoned" in (runs[0].error or "") and dead_owner in (runs[0].error or "")
    assert (job.runs, job.lease_owner, job.last_status) == (1, None, "ok")
    engine.dispose()
