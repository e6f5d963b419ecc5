"""The one small interface every vendor module implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from collectors.records import Record

if TYPE_CHECKING:
    from collectors.http import Api


@dataclass(frozen=True)
class Stream:
    """A separately scheduled part of a source (e.g. Huntress agents hourly, incidents every 2 min).

    `metrics` lists what the stream emits; a metric key not seen in a successful run is recorded as 0.
    """

    default_schedule: str
    metrics: tuple[str, ...] = ()
    time_entries: bool = False


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

    def auth(self, api: Api) -> object:
        """The httpx.Auth for this vendor (built from api.source and api.secrets)."""
        raise NotImplementedError

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        raise NotImplementedError
