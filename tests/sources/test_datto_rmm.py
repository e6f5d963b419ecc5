"""Datto RMM: payloads → records without HTTP, the token request, and the account read limit."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from pyrate_limiter import limiter_factory

from collectors.datto_rmm import DattoRmm, device_class, to_device, to_site
from collectors.records import Entity
from mcc.config import SourceConfig
from mcc.errors import ConfigError, MalformedPayload, SourceError
from sandbox.datto_rmm import DattoRmmFake
from tests.sources.conftest import TEST_POLICY

SECRETS = {"API_KEY": SecretStr("key-1234"), "API_SECRET": SecretStr("secret-5678")}


def _device(**fields: Any) -> dict[str, Any]:
    return {
        "id": 101,
        "uid": "dev-1-uid",
        "siteUid": "site-a-uid",
        "siteName": "ACME HQ",
        "hostname": "SRV-01",
        "deviceClass": "device",
        "deviceType": {"category": "Server", "type": "Main System Chassis"},
        "operatingSystem": "Microsoft Windows Server 2022 Standard",
        "online": True,
        "suspended": False,
        "deleted": False,
        "lastSeen": "2026-08-25T07:26:00Z",
        **fields,
    }


def test_device_is_keyed_on_site_and_class_with_contact_details() -> None:
    device = to_device(_device())
    assert device is not None
    assert (device.org, device.metric, device.external_id, device.name) == (
        "site-a-uid",
        "devices",
        "dev-1-uid",
        "SRV-01",
    )
    assert dict(device.attrs) == {"device_class": "server"}
    details = dict(device.details)
    assert details["offline"] == "false"
    assert details["last_contact"] == "2026-08-25T07:26:00+00:00"
    assert details["site"] == "ACME HQ"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"deviceType": {"category": "Desktop"}}, "desktop"),
        ({"deviceType": {"category": "Laptop"}}, "laptop"),
        ({"deviceType": None}, "device"),
        ({"deviceClass": "printer", "deviceType": {"category": "Printer"}}, "printer"),
        ({"deviceClass": "esxihost"}, "esxihost"),
        ({"deviceClass": None}, "unknown"),
    ],
)
def test_device_class_uses_the_category_only_for_managed_computers(
    fields: dict[str, Any], expected: str
) -> None:
    assert device_class(_device(**fields)) == expected


def test_last_seen_in_epoch_milliseconds_reads_the_same_as_iso() -> None:
    iso = to_device(_device(lastSeen="2026-08-25T07:26:00Z"))
    epoch = to_device(_device(lastSeen=1787642760000))
    assert iso is not None and epoch is not None
    assert dict(iso.details)["last_contact"] == dict(epoch.details)["last_contact"]


@pytest.mark.parametrize("fields", [{"deleted": True}, {"suspended": True}])
def test_deleted_and_suspended_devices_are_not_counted(fields: dict[str, Any]) -> None:
    assert to_device(_device(**fields)) is None


@pytest.mark.parametrize("raw", [{"uid": "x"}, {"siteUid": "s"}, "x", None])
def test_malformed_device_rows_name_the_problem(raw: object) -> None:
    with pytest.raises(MalformedPayload, match="device row lacks"):
        to_device(raw)


def test_site_name_falls_back_to_uid() -> None:
    assert to_site({"uid": "site-x"}).name == "site-x"
    with pytest.raises(MalformedPayload):
        to_site({"name": "no uid"})


# --- over HTTP --------------------------------------------------------------------------------


def _world(sites: int = 2, devices: int = 60) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    site_rows = [{"id": n, "uid": f"s{n}", "name": f"Site {n}"} for n in range(sites)]
    device_rows = [
        _device(id=n, uid=f"d{n}", siteUid=f"s{n % sites}", hostname=f"PC{n}") for n in range(devices)
    ]
    return site_rows, device_rows


@pytest.fixture
def fake_factory() -> Iterator[Any]:
    started: list[DattoRmmFake] = []

    def make(**options: Any) -> DattoRmmFake:
        fake = DattoRmmFake(*_world(), api_key="key-1234", api_secret="secret-5678", **options)
        fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


def _collect(fake: DattoRmmFake, **config: Any) -> list[Any]:
    source_config = SourceConfig(name=f"datto{id(fake)}", kind="datto_rmm", base_url=fake.url, **config)
    source = DattoRmm(source_config, SECRETS, TEST_POLICY)
    api = source.open_api()
    try:
        return list(source.collect(api, "devices"))
    finally:
        api.close()


def test_token_uses_the_public_client_and_the_password_grant(fake_factory: Any) -> None:
    fake = fake_factory(page_max=25)
    records = _collect(fake)
    assert sum(isinstance(record, Entity) for record in records) == 60
    token = next(request for request in fake.requests if request.path == "/auth/oauth/token")
    assert token.header("authorization") == "Basic " + base64.b64encode(b"public-client:public").decode()
    assert token.form() == {"grant_type": "password", "username": "key-1234", "password": "secret-5678"}
    device_pages = [request for request in fake.requests if request.path == "/api/v2/account/devices"]
    assert [request.arg("page") for request in device_pages] == [None, "1", "2"]


def test_the_client_limit_keeps_reads_under_the_account_window(
    fake_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scaled down: 4 reads per rolling second on both sides instead of 600 per minute.
    fake = fake_factory(page_max=10, reads_per_window=4, window_seconds=1.0)
    monkeypatch.setattr(
        "collectors.base.shared_limiter",
        lambda key, per_minute: limiter_factory.create_inmemory_limiter(rate_per_duration=4, duration=1000),
    )
    records = _collect(fake)
    assert sum(isinstance(record, Entity) for record in records) == 60
    # the platform's page maximum, then 1 page of sites and 6 of devices
    assert len([r for r in fake.requests if r.path.startswith("/api/")]) == 8
    assert fake.throttled == 0


def test_page_size_is_the_platforms_maximum_from_system_pagination(fake_factory: Any) -> None:
    fake = fake_factory(page_max=17)
    records = _collect(fake)
    assert sum(isinstance(record, Entity) for record in records) == 60
    assert fake.requests[1].path == "/api/v2/system/pagination"
    listings = [r for r in fake.requests if r.path in ("/api/v2/account/sites", "/api/v2/account/devices")]
    assert {r.arg("max") for r in listings} == {"17"}
    assert len([r for r in listings if r.path == "/api/v2/account/devices"]) == 4  # 60 devices / 17


def test_a_platform_without_system_pagination_is_read_250_at_a_time(fake_factory: Any) -> None:
    fake = fake_factory()
    fake.faults.add(path="/api/v2/system/pagination", status=404, times=-1)
    _collect(fake)
    listings = [r for r in fake.requests if r.path == "/api/v2/account/devices"]
    assert {r.arg("max") for r in listings} == {"250"}


@pytest.mark.parametrize("value", ["device", "printer", "esxihost", "unknown"])
def test_every_device_class_of_the_spec_is_kept(value: str) -> None:
    device = to_device(_device(deviceClass=value, deviceType=None))
    expected = "device" if value == "device" else value
    assert device is not None and dict(device.attrs)["device_class"] == expected


def test_last_seen_as_iso_date_time_and_as_epoch_milliseconds() -> None:
    iso = to_device(_device(lastSeen="2026-08-25T07:26:00.000+02:00"))
    epoch = to_device(_device(lastSeen=1787635560000))
    assert dict(iso.details)["last_contact"] == "2026-08-25T05:26:00+00:00"  # type: ignore[union-attr]
    assert dict(epoch.details)["last_contact"] == "2026-08-25T05:26:00+00:00"  # type: ignore[union-attr]


def test_a_client_that_ignores_the_limit_is_throttled_then_blocked(fake_factory: Any) -> None:
    fake = fake_factory(page_max=10, reads_per_window=3, window_seconds=60.0, violations_before_block=2)
    with pytest.raises(SourceError) as caught:
        _collect(fake, rate_limit_per_minute=6000)
    assert fake.throttled > 0
    assert "HTTP 403" in str(caught.value)
    hint = DattoRmm(SourceConfig(name="datto", kind="datto_rmm"), SECRETS).permission_hint(caught.value)
    assert hint is not None and "blocked" in hint


def test_the_documented_limit_is_respected_by_default() -> None:
    assert DattoRmm.requests_per_minute < 600


def test_a_missing_platform_host_is_a_config_error() -> None:
    source = DattoRmm(SourceConfig(name="datto", kind="datto_rmm"), SECRETS, TEST_POLICY)
    with pytest.raises(ConfigError, match="merlot-api.centrastage.net"):
        source.auth()
