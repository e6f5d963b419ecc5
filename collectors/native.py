"""Time entered in MCC itself (the native timer). There is nothing to fetch: `mcc.timer.add_time_entry`
writes its entries directly with the client set, under the source name `native`. The kind exists so a
`[[sources]]` entry of kind `native` is valid and shows next to the other time sources."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from collectors.base import Source, Stream
from collectors.http import Api
from collectors.records import Org, Record
from collectors.registry import register

SOURCE_NAME = "native"  # TimeEntry.source of every entry the timer writes


@register
class Native(Source):
    kind = "native"
    category = "time"
    title = "MCC timer"
    streams = {"time": Stream("every 15 minutes", time_entries=True)}

    def auth(self) -> httpx.Auth | None:
        return None

    def open_api(self, base_url: str | None = None, auth: httpx.Auth | None = None) -> Api:
        return Api(self.config.name, httpx.Client())  # never used to send anything

    def orgs(self, api: Api) -> Iterator[Org]:
        return iter(())

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        return iter(())
