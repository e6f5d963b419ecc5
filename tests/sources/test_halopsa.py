"""HaloPSA payloads → contract lines without HTTP, and the hosted tenant's token request."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from collectors.halopsa import to_lines, to_org
from mcc.errors import MalformedPayload

INVOICE = {
    "id": 901,
    "client_id": 41,
    "invoicenumber": "RI-901",
    "startdate": "2026-02-01T00:00:00",
    "enddate": "1900-01-01T00:00:00",
    "lines": [{"id": 1, "item_code": "WS", "qty_order": 12, "unit_price": 45.0, "unit_cost": 4.1}],
}


def test_lines_carry_code_quantity_and_price() -> None:
    [line] = to_lines(INVOICE)
    assert (line.org, line.product, line.quantity, line.unit_price) == (
        "41",
        "WS",
        Decimal("12"),
        Decimal("45.0"),
    )
    assert (line.start, line.end, line.agreement, line.unit_cost) == (
        date(2026, 2, 1),
        None,
        "RI-901",
        Decimal("4.1"),
    )


def test_inactive_invoices_and_clients_are_left_out() -> None:
    assert list(to_lines({**INVOICE, "inactive": True})) == []
    assert to_org({"id": 5, "name": "Gone", "inactive": True}) is None


def test_malformed_lines_name_the_problem() -> None:
    with pytest.raises(MalformedPayload, match="has no item_code"):
        list(to_lines({**INVOICE, "lines": [{"id": 3, "qty_order": 1}]}))
    with pytest.raises(MalformedPayload, match="without id or client_id"):
        list(to_lines({"id": 2}))


def test_a_hosted_tenant_names_itself_when_asking_for_a_token(write_config, monkeypatch) -> None:
    from collectors.sync import sync_source
    from sandbox.halopsa import HaloPsaFake
    from tests.sources.conftest import TEST_POLICY

    fake = HaloPsaFake([{"id": 1, "name": "Acme"}], [INVOICE], tenant="acmemsp")
    url = fake.start()
    try:
        config = write_config(f'[[sources]]\nname = "halo"\nkind = "halopsa"\nbase_url = "{url}"\n')
        monkeypatch.setenv("MCC_HALO_CLIENT_ID", "halo-client")
        monkeypatch.setenv("MCC_HALO_CLIENT_SECRET", "halo-secret")
        from store.db import make_engine

        engine = make_engine(config.database_url)
        [refused] = sync_source(engine, config, "halo", policy=TEST_POLICY)
        assert not refused.ok and "refused the credentials" in (refused.error or "")
        monkeypatch.setenv("MCC_HALO_TENANT", "acmemsp")
        [ok] = sync_source(engine, config, "halo", policy=TEST_POLICY)
        assert ok.ok, ok.error
        assert any(r.path == "/auth/token" and r.arg("tenant") == "acmemsp" for r in fake.requests)
        engine.dispose()
    finally:
        fake.stop()
