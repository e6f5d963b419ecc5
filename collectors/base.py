"""The one small interface every vendor module implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import httpx
from pydantic import SecretStr

from collectors.http import Api, HttpPolicy, build_client, remember_credentials, shared_limiter
from collectors.limits import shared_window
from collectors.probes import Probe
from collectors.records import Org, Record

if TYPE_CHECKING:
    from mcc.config import SourceConfig


@dataclass(frozen=True)
class Stream:
    """A separately scheduled part of a source (e.g. Huntress agents hourly, incidents every 2 min).

    `metrics` lists what the stream emits; a count key of these metrics that a successful run no longer
    reports is recorded as 0 (the devices were removed), never left at its last value.
    """

    default_schedule: str
    metrics: tuple[str, ...] = ()
    time_entries: bool = False
    contracts: bool = False  # PSA agreements: read for `mcc contracts sync`, never counted


class Source:
    """A vendor. Subclasses declare endpoints and turn payloads into records; `collectors.http`
    does auth, paging, retries, rate limits and redaction."""

    kind: ClassVar[str]
    category: ClassVar[str]  # rmm | identity | security | backup | distributor | time
    title: ClassVar[str]  # the vendor's name as people write it
    default_base_url: ClassVar[str | None] = None
    default_auth_url: ClassVar[str | None] = None
    secret_keys: ClassVar[tuple[str, ...]] = ()
    optional_secret_keys: ClassVar[tuple[str, ...]] = ()
    streams: ClassVar[dict[str, Stream]]
    requests_per_minute: ClassVar[int] = 600
    reads_folder: ClassVar[bool] = False  # files on this machine (kind "csv"): no host, no credentials
    # metric → the attribute mappings select on (device class, SKU, product): after a sync, values of it
    # that no mapping counts are reported, so a new device class is never silently left unbilled.
    coverage: ClassVar[dict[str, str]] = {}
    # For vendors without a public spec: the reads `mcc sources test` makes to show what a real account
    # answers for each assumed field (collectors/probes.py).
    probes: ClassVar[tuple[Probe, ...]] = ()

    def __init__(
        self, config: SourceConfig, secrets: dict[str, SecretStr], policy: HttpPolicy = HttpPolicy()
    ):
        self.config = config
        self.secrets = secrets
        self.policy = policy
        remember_credentials(value.get_secret_value() for value in secrets.values())

    def secret(self, key: str) -> str:
        return self.secrets[key].get_secret_value()

    @property
    def rate_per_minute(self) -> int:
        return self.config.rate_limit_per_minute or self.requests_per_minute

    def auth(self) -> httpx.Auth | None:
        """How this vendor authenticates (built from self.config and self.secrets)."""
        raise NotImplementedError

    def open_api(self, base_url: str | None = None, auth: httpx.Auth | None = None) -> Api:
        """A client for this source; vendors with several hosts or tenants open one per host/tenant,
        all sharing the source's rate limit."""
        key = f"{self.kind}:{self.config.name}"
        client = build_client(
            base_url or self.config.url,
            auth=auth or self.auth(),
            limiter=shared_limiter(key, self.rate_per_minute),
            policy=self.policy,
            window=shared_window(key, self.rate_per_minute),
        )
        return Api(self.config.name, client, self.policy.run)

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        """Every record of one stream. Read-only: never send anything that changes the vendor's data."""
        raise NotImplementedError

    def orgs(self, api: Api) -> Iterator[Org]:
        """The organisations this source can see, by the cheapest read the vendor offers
        (used by `mcc sources test` and to suggest mappings before the first full sync)."""
        raise NotImplementedError
