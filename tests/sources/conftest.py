"""Fixtures that start a vendor fake on a real socket and configure a source that reads it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select

from collectors.http import HttpPolicy
from mcc.config import Config
from sandbox.server import Fake
from store.db import reading
from store.models import CountKey, MonthlyCount, PsaContractLine
from tests.sources.harness import VENDORS, Harness

# Short waits so fault tests stay fast; the cap is what makes a 30 s Retry-After wait 1 s here.
TEST_POLICY = HttpPolicy(
    timeout=2.0, connect_timeout=1.0, retries=3, backoff_factor=0.01, max_wait=1.0, total_wait=5.0
)


@dataclass
class Vendor:
    harness: Harness
    fake: Fake
    config: Config
    engine: Engine
    name: str = "src"

    def counts(self) -> dict[tuple[str, str], int]:
        """Latest month's end count per org × metric, summed over attributes; for a PSA, the agreement
        lines stored from its last good read per company, as (company, "contract_lines")."""
        with reading(self.engine) as session:
            rows = session.execute(
                select(CountKey.org_external_id, CountKey.metric, MonthlyCount.qty_end, MonthlyCount.month)
                .join(MonthlyCount, MonthlyCount.key_id == CountKey.id)
                .where(CountKey.source == self.name)
            ).all()
            lines = session.scalars(
                select(PsaContractLine.org_external_id).where(PsaContractLine.source == self.name)
            ).all()
        latest = max((row.month for row in rows), default=None)
        totals: dict[tuple[str, str], int] = {}
        for org, metric, quantity, month in rows:
            if month == latest:
                totals[(org, metric)] = totals.get((org, metric), 0) + quantity
        for org in lines:
            totals[(org, "contract_lines")] = totals.get((org, "contract_lines"), 0) + 1
        return {key: value for key, value in totals.items() if value}


@pytest.fixture(params=sorted(VENDORS))
def vendor(
    request: pytest.FixtureRequest, write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Vendor]:
    harness = VENDORS[request.param]
    fake = harness.make_fake()
    url = fake.start()
    extra = harness.extra_toml.format(url=url)
    config = write_config(
        f'[[sources]]\nname = "src"\nkind = "{harness.kind}"\nbase_url = "{url}"\n{extra}\n'
    )
    for key, value in harness.env.items():
        monkeypatch.setenv(f"MCC_SRC_{key}", value)
    yield Vendor(harness, fake, config, engine)
    fake.stop()
