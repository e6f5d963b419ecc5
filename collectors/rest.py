"""Any tool with a JSON API, connected by configuration: `kind = "rest"` with a `[sources.rest]` table.

The declaration names the endpoint, how to authenticate, how pages follow each other (always explicit:
MCC never guesses a paginator), where the records are, which field is the organisation, and one or more
metrics (a filter, attributes taken from fields, and a quantity field or one per record). Everything else —
retries with Retry-After, the rate limit, timeouts, redaction, the sync and its rules — is the same as for
every vendor module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from collectors.base import Source, Stream
from collectors.http import Api, HeaderAuth, HttpPolicy, basic_auth, client_credentials, remember_secret
from collectors.paging import Keyset, NextLink, NextToken, PageNumber, Paginator, Single, dig
from collectors.records import Count, Entity, Org, Record
from collectors.registry import register
from mcc.errors import MalformedPayload, SourceError

# --- the declaration ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BearerAuth(_Strict):
    type: Literal["bearer"]  # MCC_<NAME>_TOKEN
    header: str = "Authorization"
    scheme: str = "Bearer"


class BasicAuth(_Strict):
    type: Literal["basic"]  # MCC_<NAME>_USERNAME, MCC_<NAME>_PASSWORD


class HeaderKeyAuth(_Strict):
    type: Literal["header"]  # MCC_<NAME>_API_KEY
    header: str = Field(pattern=r"^[A-Za-z0-9-]{1,60}$")


class QueryKeyAuth(_Strict):
    type: Literal["query"]  # MCC_<NAME>_API_KEY
    param: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")


class OAuth2Auth(_Strict):
    type: Literal["oauth2"]  # MCC_<NAME>_CLIENT_ID, MCC_<NAME>_CLIENT_SECRET
    token_url: str  # absolute, or a path on auth_url / base_url
    scope: str | None = None
    audience: str | None = None
    json_body: bool = False


Auth = Annotated[
    BearerAuth | BasicAuth | HeaderKeyAuth | QueryKeyAuth | OAuth2Auth, Field(discriminator="type")
]


class PagePaging(_Strict):
    """`?page=1&per_page=100`; stops on a short page, or when `total_pages` (a path) is reached."""

    type: Literal["page"]
    page_param: str = "page"
    size_param: str = "per_page"
    size: int = Field(100, ge=1, le=10_000)
    first_page: int = Field(1, ge=0, le=1)
    total_pages: str | None = None


class OffsetPaging(_Strict):
    """`?offset=0&limit=100`; stops on a short page."""

    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(100, ge=1, le=10_000)


class CursorPaging(_Strict):
    """A token in the body passed back as a parameter; with `has_more`, stops when that flag is false."""

    type: Literal["cursor"]
    cursor: str  # path in the body, e.g. "paging.cursors.after"
    param: str  # the query parameter that takes it
    has_more: str | None = None  # path of a boolean, e.g. "has_more"
    size_param: str | None = None
    size: int | None = Field(None, ge=1, le=10_000)


class NextLinkPaging(_Strict):
    """A full next-page URL in the body (`links.next`, OData `@odata.nextLink`)."""

    type: Literal["next_link"]
    path: str  # e.g. "links.next" or "@odata.nextLink"


class LinkHeaderPaging(_Strict):
    """The next page in the `Link: <…>; rel="next"` response header (GitHub style)."""

    type: Literal["link_header"]
    size_param: str | None = None
    size: int | None = Field(None, ge=1, le=10_000)


class SinglePaging(_Strict):
    type: Literal["single"]


Paging = Annotated[
    PagePaging | OffsetPaging | CursorPaging | NextLinkPaging | LinkHeaderPaging | SinglePaging,
    Field(discriminator="type"),
]


class MetricSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    where: dict[str, str | int | bool | list[str | int | bool]] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)  # attribute name -> field path
    quantity: str | None = None  # field path of a stated quantity; absent: each record counts one
    id: str = "id"  # entity id field (records counted one each)
    entity_name: str | None = None  # field shown as the entity's name


class RestSpec(_Strict):
    path: str = Field(pattern=r"^/")
    params: dict[str, str | int | bool] = Field(default_factory=dict)
    auth: Auth
    paginator: Paging
    records: str | None = None  # path of the list in the body; absent: the body is the list
    org: str  # field path of the organisation id in each record
    org_name: str | None = None
    metrics: list[MetricSpec] = Field(min_length=1)
    max_pages: int = Field(1000, ge=1, le=100_000)
    requests_per_minute: int = Field(60, ge=1, le=6000)


def parse_spec(raw: Any, source: str) -> RestSpec:
    """The `[sources.rest]` table, or a ConfigError-style ValueError naming the key that is wrong."""
    try:
        spec = RestSpec.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        key = ".".join(
            str(part) for part in problem["loc"] if not str(part).startswith(("function-", "tagged"))
        )
        raise ValueError(f"rest.{key}: {problem['msg']}") from None
    names = [metric.name for metric in spec.metrics]
    if len(set(names)) != len(names):
        raise ValueError("rest.metrics: two metrics share a name")
    return spec


# --- paging ---------------------------------------------------------------------------------------


class LinkHeader:
    """Follows `Link: <url>; rel="next"` from the last response the source's client received."""

    _LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

    def __init__(self, api: Api, items_key: str | None, size_param: str | None, size: int | None) -> None:
        self.api, self.items_key, self.size_param, self.size = api, items_key, size_param, size

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.size_param: self.size} if self.size_param and self.size else dict(params)

    def items(self, payload: Any) -> Any:
        return payload if self.items_key is None else dig(payload, self.items_key)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        response = self.api.last_response
        header = response.headers.get("link", "") if response is not None else ""
        match = self._LINK.search(header)
        return (match.group(1), {}) if match else None


class HasMore(NextToken):
    """A cursor that is only followed while the body's `has_more` flag is true."""

    def __init__(self, items_key: str | None, spec: CursorPaging) -> None:
        super().__init__(
            items_key or "", spec.cursor, spec.param, size=spec.size, size_param=spec.size_param or "limit"
        )
        self.raw_items_key, self.has_more = items_key, spec.has_more

    def items(self, payload: Any) -> Any:
        return payload if self.raw_items_key is None else dig(payload, self.raw_items_key)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        if self.has_more is not None and dig(payload, self.has_more) is not True:
            return None
        return super().next(payload, items, url, params)


class Offset(Keyset):
    def __init__(self, items_key: str | None, spec: OffsetPaging) -> None:
        super().__init__(spec.limit, after=spec.offset_param, size_param=spec.limit_param)
        self.items_key = items_key

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.size_param: self.size, self.after: 0}

    def items(self, payload: Any) -> Any:
        return payload if self.items_key is None else dig(payload, self.items_key)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        if len(items) < self.size:
            return None
        return url, {**params, self.after: int(params[self.after]) + len(items)}


class Capped:
    """Any paginator, stopped with a clear error past `max_pages` (a vendor that pages for ever)."""

    def __init__(self, inner: Paginator, max_pages: int, source: str) -> None:
        self.inner, self.max_pages, self.source, self.pages = inner, max_pages, source, 0

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.inner.first(params)

    def items(self, payload: Any) -> Any:
        return self.inner.items(payload)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        self.pages += 1
        following = self.inner.next(payload, items, url, params)
        if following is not None and self.pages >= self.max_pages:
            raise SourceError(
                f"{self.source}: more than {self.max_pages} pages (rest.max_pages); raise it if the tool really has that many"
            )
        return following


def paginator(spec: RestSpec, api: Api, source: str) -> Capped:
    paging = spec.paginator
    inner: Paginator
    if isinstance(paging, PagePaging):
        inner = PageNumber(
            spec.records,
            size=paging.size,
            page_param=paging.page_param,
            size_param=paging.size_param,
            total_pages_path=paging.total_pages,
            first_page=paging.first_page,
        )
    elif isinstance(paging, OffsetPaging):
        inner = Offset(spec.records, paging)
    elif isinstance(paging, CursorPaging):
        inner = HasMore(spec.records, paging)
    elif isinstance(paging, NextLinkPaging):
        inner = NextLink(spec.records or "", paging.path) if spec.records else _BareNextLink(paging.path)
    elif isinstance(paging, LinkHeaderPaging):
        inner = LinkHeader(api, spec.records, paging.size_param, paging.size)
    else:
        inner = Single(spec.records)
    return Capped(inner, spec.max_pages, source)


class _BareNextLink(NextLink):
    def __init__(self, link_path: str) -> None:
        super().__init__("", link_path)

    def items(self, payload: Any) -> Any:
        return payload


# --- records --------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _matches(record: dict[str, Any], where: dict[str, Any]) -> bool:
    for path, wanted in where.items():
        actual = _text(dig(record, path))
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if actual not in {_text(value) for value in allowed}:
            return False
    return True


def to_records(raw: Any, spec: RestSpec, source: str) -> Iterator[Count | Entity]:
    """One record → a count or an entity per metric whose filter it passes."""
    if not isinstance(raw, dict):
        raise MalformedPayload(f"{source}: a record is not a JSON object: {str(raw)[:120]}")
    org = dig(raw, spec.org)
    if org in (None, ""):
        raise MalformedPayload(f"{source}: a record has no {spec.org!r} (rest.org): {str(raw)[:120]}")
    for metric in spec.metrics:
        if not _matches(raw, metric.where):
            continue
        attrs = {name: _text(dig(raw, path)) for name, path in metric.attributes.items()}
        if metric.quantity is not None:
            value = dig(raw, metric.quantity)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                and not (isinstance(value, str) and value.isdigit())
            ):
                raise MalformedPayload(
                    f"{source}: {metric.quantity!r} (rest.metrics {metric.name}.quantity) is not a whole number: {value!r}"
                )
            yield Count.of(str(org), metric.name, int(value), attrs)
            continue
        entity_id = dig(raw, metric.id)
        if entity_id in (None, ""):
            raise MalformedPayload(f"{source}: a record has no {metric.id!r} (rest.metrics {metric.name}.id)")
        name = _text(dig(raw, metric.entity_name)) if metric.entity_name else ""
        yield Entity.of(str(org), metric.name, str(entity_id), name or str(entity_id), attrs)


def to_org(raw: Any, spec: RestSpec) -> Org | None:
    org = dig(raw, spec.org) if isinstance(raw, dict) else None
    if org in (None, ""):
        return None
    name = _text(dig(raw, spec.org_name)) if spec.org_name else ""
    return Org(str(org), name or str(org))


# --- the source -----------------------------------------------------------------------------------

SECRET_KEYS = {
    "bearer": ("TOKEN",),
    "basic": ("USERNAME", "PASSWORD"),
    "header": ("API_KEY",),
    "query": ("API_KEY",),
    "oauth2": ("CLIENT_ID", "CLIENT_SECRET"),
}


@register
class Rest(Source):
    kind = "rest"
    category = "other"
    title = "REST API (declared in mcc.toml)"
    secret_keys: ClassVar[tuple[str, ...]] = ()
    # which are needed depends on rest.auth.type; see secret_keys_for
    optional_secret_keys = ("TOKEN", "USERNAME", "PASSWORD", "API_KEY", "CLIENT_ID", "CLIENT_SECRET")
    streams = {"records": Stream("hourly")}

    @classmethod
    def secret_keys_for(cls, rest: Any) -> tuple[str, ...]:
        return SECRET_KEYS[str((rest or {}).get("auth", {}).get("type"))] if rest else ()

    def __init__(self, config: Any, secrets: dict[str, SecretStr], policy: HttpPolicy = HttpPolicy()) -> None:
        super().__init__(config, secrets, policy)
        self.spec = parse_spec(config.rest, config.name)
        names = tuple(metric.name for metric in self.spec.metrics)
        # The metrics come from the declaration, so this one source's stream is its own.
        self.streams = {"records": Stream("hourly", metrics=names)}  # type: ignore[misc]

    @property
    def rate_per_minute(self) -> int:
        return self.config.rate_limit_per_minute or self.spec.requests_per_minute

    def auth(self) -> httpx.Auth | None:
        auth = self.spec.auth
        if isinstance(auth, BearerAuth):
            return HeaderAuth(auth.header, f"{auth.scheme} {self.secret('TOKEN')}".strip())
        if isinstance(auth, BasicAuth):
            return basic_auth(self.secret("USERNAME"), self.secret("PASSWORD"))
        if isinstance(auth, HeaderKeyAuth):
            return HeaderAuth(auth.header, self.secret("API_KEY"))
        if isinstance(auth, QueryKeyAuth):
            return _QueryKey(auth.param, self.secret("API_KEY"))
        fields = {"client_id": self.secret("CLIENT_ID"), "client_secret": self.secret("CLIENT_SECRET")}
        if auth.scope:
            fields["scope"] = auth.scope
        if auth.audience:
            fields["audience"] = auth.audience
        url = auth.token_url if "://" in auth.token_url else self.config.token_url_base + auth.token_url
        return client_credentials(
            url, fields, label=f"{self.config.name} token endpoint", as_json=auth.json_body
        )

    def _records(self, api: Api) -> Iterator[Any]:
        yield from api.pages(self.spec.path, paginator(self.spec, api, self.config.name), self.spec.params)

    def orgs(self, api: Api) -> Iterator[Org]:
        seen: set[str] = set()
        for raw in self._records(api):
            org = to_org(raw, self.spec)
            if org is not None and org.external_id not in seen:
                seen.add(org.external_id)
                yield org

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        seen: set[str] = set()
        for raw in self._records(api):
            org = to_org(raw, self.spec)
            if org is not None and org.external_id not in seen:
                seen.add(org.external_id)
                yield org
            yield from to_records(raw, self.spec, self.config.name)

    def first_page(self, api: Api) -> list[Record]:
        """The first page's records as MCC would count them (`mcc sources test NAME --dry-run`)."""
        pages = paginator(self.spec, api, self.config.name)
        payload = api.get(self.spec.path, pages.first(dict(self.spec.params)))
        items = pages.items(payload)
        if not isinstance(items, list):
            raise MalformedPayload(
                f"{self.config.name}: the first page has no list at {self.spec.records!r} (rest.records)"
            )
        records: list[Record] = []
        for raw in items:
            org = to_org(raw, self.spec)
            if org is not None:
                records.append(org)
            records.extend(to_records(raw, self.spec, self.config.name))
        return records


class _QueryKey(httpx.Auth):
    def __init__(self, param: str, value: str) -> None:
        remember_secret(value)
        self.param, self.value = param, value

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:  # type: ignore[override]
        request.url = request.url.copy_merge_params({self.param: self.value})
        yield request
