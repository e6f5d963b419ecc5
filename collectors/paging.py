"""One small strategy object per paging style. A vendor module picks one; it never loops by hand.

Each paginator answers three questions: the parameters of the first request (`first`), the items of a
page (`items`), and the next request's URL and parameters, or None when this was the last page (`next`).
"""

from __future__ import annotations

from typing import Any, Protocol

from mcc.errors import MalformedPayload


class Paginator(Protocol):
    def first(self, params: dict[str, Any]) -> dict[str, Any]: ...

    def items(self, payload: Any) -> Any: ...

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None: ...


def dig(payload: Any, path: str) -> Any:
    """`dig(p, "pagination.nextCursor")` → p["pagination"]["nextCursor"], or None when absent."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _items_at(payload: Any, key: str | None) -> Any:
    if key is None:
        return payload
    if not isinstance(payload, dict):
        raise MalformedPayload(f"expected a JSON object with {key!r}, got {type(payload).__name__}")
    return dig(payload, key)


class Keyset:
    """Keyset by id on bare JSON arrays (NinjaOne): `?pageSize=500&after=<id of the last raw row>`.

    Page: `[{"id": 402, ...}, {"id": 562, ...}]`. Stops on a short or empty page.
    """

    def __init__(
        self, size: int = 500, *, after: str = "after", size_param: str = "pageSize", id_field: str = "id"
    ):
        self.size, self.after, self.size_param, self.id_field = size, after, size_param, id_field

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.size_param: self.size}

    def items(self, payload: Any) -> Any:
        return payload

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        if len(items) < self.size:
            return None
        last = items[-1]
        if not isinstance(last, dict) or self.id_field not in last:
            raise MalformedPayload(f"page row without {self.id_field!r}; cannot ask for the next page")
        return url, {**params, self.after: last[self.id_field]}


class NextToken:
    """A token in the body passed back as a parameter (Huntress `pagination.next_page_token` →
    `page_token`; SentinelOne `pagination.nextCursor` → `cursor`).

    Page: `{"agents": [...], "pagination": {"next_page_token": "abc"}}`. Stops when the token is empty.
    """

    def __init__(
        self,
        items_key: str,
        token_path: str,
        param: str,
        *,
        size: int | None = None,
        size_param: str = "limit",
    ):
        self.items_key, self.token_path, self.param = items_key, token_path, param
        self.size, self.size_param = size, size_param

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.size_param: self.size} if self.size else dict(params)

    def items(self, payload: Any) -> Any:
        return _items_at(payload, self.items_key)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        token = dig(payload, self.token_path)
        return (url, {**params, self.param: token}) if token else None


class NextLink:
    """A full next-page URL in the body (Graph `@odata.nextLink`, Datto RMM `pageDetails.nextPageUrl`).

    Page: `{"value": [...], "@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=X"}`.
    The link already carries every parameter, so none are re-sent.
    """

    def __init__(self, items_key: str, link_path: str, *, size: int | None = None, size_param: str = "$top"):
        self.items_key, self.link_path = items_key, link_path
        self.size, self.size_param = size, size_param

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.size_param: self.size} if self.size else dict(params)

    def items(self, payload: Any) -> Any:
        return _items_at(payload, self.items_key)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        # "@odata.nextLink" is one key with a dot in it; "pageDetails.nextPageUrl" is a path.
        link = payload.get(self.link_path) if isinstance(payload, dict) else None
        if link is None and "." in self.link_path:
            link = dig(payload, self.link_path)
        return (str(link), {}) if link else None


class PageNumber:
    """Numbered pages (Pax8: 0-based `page` + `size`, `page.totalPages` in the body).

    Page: `{"content": [...], "page": {"size": 200, "totalElements": 412, "totalPages": 3, "number": 0}}`,
    or a bare array with `items_key=None` (ConnectWise: 1-based `page` + `pageSize`, stops on a short page).
    """

    def __init__(
        self,
        items_key: str | None,
        *,
        size: int = 200,
        page_param: str = "page",
        size_param: str = "size",
        total_pages_path: str | None = "page.totalPages",
        first_page: int = 0,
    ):
        self.items_key, self.size, self.page_param, self.size_param = items_key, size, page_param, size_param
        self.total_pages_path, self.first_page = total_pages_path, first_page

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.page_param: self.first_page, self.size_param: self.size}

    def items(self, payload: Any) -> Any:
        return _items_at(payload, self.items_key)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        page = int(params[self.page_param])
        total = dig(payload, self.total_pages_path) if self.total_pages_path else None
        done = page + 1 - self.first_page >= int(total) if total is not None else len(items) < self.size
        return None if done or not items else (url, {**params, self.page_param: page + 1})


class Single:
    """One unpaged answer (Datto SaaS Protection `/v1/saas/domains` and `/seats`, eBillity lists).

    Page: `[{"domain": "example0.com", ...}]`, or `{"Employees": [...]}` with `items_key="Employees"`.
    """

    def __init__(self, items_key: str | None = None):
        self.items_key = items_key

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(params)

    def items(self, payload: Any) -> Any:
        return _items_at(payload, self.items_key)

    def next(
        self, payload: Any, items: list[Any], url: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        return None
