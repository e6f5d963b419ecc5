"""The shared HTTP layer every vendor uses, written once: auth with token refresh on 401, retries that
honour a capped Retry-After, client-side rate limits, timeouts, paging, and redaction of secrets in logs."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import httpx
from httpx_retries import Retry, RetryTransport
from pyrate_limiter import Duration, Limiter, limiter_factory

from collectors.limits import RequestWindow, WindowTransport
from mcc.errors import AuthFailed, DeadlineExceeded, LimitExceeded, MalformedPayload, SourceError

if TYPE_CHECKING:
    from collectors.paging import Paginator

log = logging.getLogger(__name__)

# --- redaction ----------------------------------------------------------------------------------

_SECRET_NAMES = r"(?:access_|refresh_|id_)?token|client_secret|api_?key|api_?secret|secret|password|assertion"
_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic|apitoken)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 [redacted]"),
    # query strings and form bodies: ?code=...&client_secret=...&sig=...
    (re.compile(rf"(?i)\b({_SECRET_NAMES}|code|sig|signature)=[^&\s\"',}}]+"), r"\1=[redacted]"),
    # JSON and header-like text: "access_token": "...", password: ...
    (re.compile(rf"(?i)([\"']?\b(?:{_SECRET_NAMES})[\"']?\s*:\s*[\"']?)[^&\s\"',}}]+"), r"\1[redacted]"),
]
_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def encoded_forms(value: str) -> set[str]:
    """The ways a vendor may echo a secret back: as is, URL-encoded (form or path style), and base64
    (standard or URL-safe, with or without padding)."""
    raw = value.encode()
    forms = {value, quote(value, safe=""), quote_plus(value)}
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms |= {encoded, encoded.rstrip("="), quote(encoded, safe="")}
    return {form for form in forms if len(form) >= 4}


def remember_secret(value: str) -> None:
    """Every credential read from the environment is redacted wherever it would appear, in any of the
    forms a vendor may echo it in (`encoded_forms`)."""
    if len(value) >= 4:
        with _secrets_lock:
            _known_secrets.update(encoded_forms(value))


def remember_credentials(values: Iterable[str]) -> None:
    """A source's or accounting system's credentials together: each one, and `key:secret` for every
    pair of them, since HTTP Basic sends base64(key:secret) and vendors echo it without the `Basic `."""
    values = [value for value in values if value]
    for value in values:
        remember_secret(value)
    for first in values:
        for second in values:
            if first is not second:
                _remember_pair(first, second)


def _remember_pair(username: str, password: str) -> None:
    """base64 of `username:password` (the pair itself is not secret text: the username alone is not)."""
    pair = f"{username}:{password}"
    with _secrets_lock:
        _known_secrets.update(encoded_forms(pair) - {pair, quote(pair, safe=""), quote_plus(pair)})


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    with _secrets_lock:
        known = sorted(_known_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "[redacted]")
    return text


_installed = False


def install_redaction() -> None:
    """Redact every log record at creation, so every handler (files, console, test capture) sees only
    the redacted text; httpx's per-request INFO lines are turned down to warnings."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the caller's bug; leave the record as it is
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    _installed = True


# --- auth ---------------------------------------------------------------------------------------


class TokenAuth(httpx.Auth):
    """A bearer token fetched from a token endpoint, cached, and fetched again once on a 401.

    `token_request` builds the token request (form or JSON body, as the vendor wants);
    `read_token` picks the token out of the response (default: `access_token`).
    """

    def __init__(
        self,
        token_request: Callable[[], httpx.Request],
        *,
        scheme: str = "Bearer",
        header: str = "Authorization",
        read_token: Callable[[Any], str] | None = None,
        label: str = "token endpoint",
    ) -> None:
        self._token_request = token_request
        self._scheme = scheme
        self._header = header
        self._read_token = read_token or (lambda body: str(body["access_token"]))
        self._label = label
        self._token: str | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._token_request()
        response.read()
        if response.status_code in (400, 401, 403):
            raise AuthFailed(
                f"the {self._label} refused the credentials (HTTP {response.status_code}): {_snippet(response)}"
            )
        if response.status_code >= 300:
            raise SourceError(f"the {self._label} answered HTTP {response.status_code}: {_snippet(response)}")
        try:
            token = self._read_token(response.json())
        except (ValueError, KeyError, TypeError):
            raise MalformedPayload(
                f"the {self._label}'s answer has no token in it. It said: {_snippet(response)}"
            ) from None
        remember_secret(token)
        self._token = token
        self.fetches += 1

    def _apply(self, request: httpx.Request) -> None:
        value = f"{self._scheme} {self._token}" if self._scheme else str(self._token)
        request.headers[self._header] = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None:
            yield from self._fetch()
        self._apply(request)
        response = yield request
        if response.status_code == 401:
            # The token expired or was revoked: fetch a new one once and replay the request.
            yield from self._fetch()
            self._apply(request)
            yield request


def client_credentials(
    token_url: str, fields: dict[str, str], *, label: str, as_json: bool = False
) -> TokenAuth:
    """The OAuth client-credentials grant: `fields` (client id and secret, scope or audience) posted as a
    form, or as JSON where the vendor wants that (Pax8)."""
    body = {"grant_type": "client_credentials", **fields}

    def token_request() -> httpx.Request:
        if as_json:
            return httpx.Request("POST", token_url, json=body)
        return httpx.Request("POST", token_url, data=body)

    return TokenAuth(token_request, label=label)


class HeaderAuth(httpx.Auth):
    """A static credential in a header (e.g. SentinelOne's `Authorization: ApiToken <token>`)."""

    def __init__(self, header: str, value: str) -> None:
        remember_secret(value.split(" ", 1)[-1])
        self._header, self._value = header, value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._value
        yield request


def basic_auth(username: str, password: str) -> httpx.BasicAuth:
    remember_secret(password)
    _remember_pair(username, password)  # the header's base64, echoed by some vendors without `Basic `
    return httpx.BasicAuth(username, password)


# --- client -------------------------------------------------------------------------------------


class RunBudget:
    """One run's deadline and caps, shared by every client the run opens (a vendor with several hosts
    or tenants opens one per host). `ends_at` is on the monotonic clock."""

    def __init__(
        self,
        source: str,
        *,
        deadline: float,
        max_pages: int,
        max_items: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.deadline, self.max_pages, self.max_items = source, deadline, max_pages, max_items
        self.ends_at = clock() + deadline
        self.pages = 0
        self._lock = threading.Lock()

    def expired(self) -> bool:
        return time.monotonic() >= self.ends_at

    def deadline_error(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{self.source}: the run took longer than its deadline of {self.deadline:g} s "
            "(run_deadline_seconds) and was stopped; the last good counts are kept"
        )

    def check_time(self) -> None:
        if self.expired():
            raise self.deadline_error()

    def count_page(self) -> None:
        with self._lock:
            self.pages += 1
            pages = self.pages
        if pages > self.max_pages:
            raise LimitExceeded(
                f"{self.source}: the run read more than {self.max_pages:,} pages (max_pages_per_run) and was "
                "stopped; raise the cap if the tool really has that many"
            )

    def check_items(self, items: int) -> None:
        if items > self.max_items:
            raise LimitExceeded(
                f"{self.source}: the run read more than {self.max_items:,} records (max_items_per_run) and was "
                "stopped; raise the cap if the tool really has that many"
            )


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, deadlines, caps and retries. `max_wait` caps any single Retry-After; `total_wait` caps
    the sum. `timeout` bounds each read of the socket; `request_deadline` bounds a whole request,
    headers and body together (a server trickling a byte every few seconds never trips a read timeout);
    `run_deadline`, `max_pages` and `max_items` bound a whole run (see `RunBudget`)."""

    timeout: float = 30.0
    connect_timeout: float = 5.0
    retries: int = 5
    backoff_factor: float = 0.5
    max_wait: float = 60.0
    total_wait: float = 300.0
    retry_statuses: tuple[int, ...] = (429, 500, 502, 503, 504)
    retry_methods: tuple[str, ...] = ("GET", "HEAD", "OPTIONS")
    request_deadline: float = 120.0
    run_deadline: float = 3600.0
    max_pages: int = 10_000
    max_items: int = 2_000_000
    run: RunBudget | None = field(default=None, compare=False)


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that stops with a clear error once its request's deadline has passed."""

    def __init__(self, inner: httpx.SyncByteStream, ends_at: float, fail: Callable[[], Exception]) -> None:
        self._inner, self._ends_at, self._fail = inner, ends_at, fail

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() >= self._ends_at:
                raise self._fail()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class DeadlineTransport(httpx.BaseTransport):
    """Each attempt gets `seconds` in all, and never more than the run has left: every socket timeout
    is shortened to what remains, and the body is cut off when the time is up."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float, run: RunBudget | None) -> None:
        self._inner, self._seconds, self._run = inner, seconds, run

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        ends_at = now + self._seconds
        run = self._run
        if run is not None:
            run.check_time()
            ends_at = min(ends_at, run.ends_at)
        remaining = max(0.01, ends_at - now)
        timeout = dict(request.extensions.get("timeout") or {})
        for key in ("connect", "read", "write", "pool"):
            current = timeout.get(key)
            timeout[key] = remaining if current is None else min(current, remaining)
        request.extensions["timeout"] = timeout
        where = f"{request.method} {_path(str(request.url))}"

        def fail() -> Exception:
            if run is not None and run.expired():
                return run.deadline_error()
            return DeadlineExceeded(
                f"{where} took longer than {self._seconds:g} s in all (request_deadline_seconds): the server "
                "is answering too slowly or not finishing its answer"
            )

        try:
            response = self._inner.handle_request(request)
        except httpx.TimeoutException:
            if run is not None and run.expired():
                raise run.deadline_error() from None
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _DeadlineStream(response.stream, ends_at, fail)
        return response

    def close(self) -> None:
        self._inner.close()


_limiters: dict[tuple[str, int], Limiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(key: str, requests_per_minute: int) -> Limiter:
    """One limiter per vendor account in this process, shared by every client reading it.

    A sliding window: never more than `requests_per_minute` requests in any 60 s. A token bucket that
    starts full would allow a full burst and then one more per refill interval, which breaks vendors
    that count on a sliding window (Huntress: 60 per minute, sliding) and 429 the 61st request.
    """
    with _limiters_lock:
        limiter = _limiters.get((key, requests_per_minute))
        if limiter is None:
            limiter = limiter_factory.create_inmemory_limiter(
                rate_per_duration=requests_per_minute, duration=Duration.MINUTE
            )
            _limiters[(key, requests_per_minute)] = limiter
        return limiter


class _Limited(httpx.BaseTransport):
    """Takes a token from the source's limiter before each attempt (the wait is outside its deadline)."""

    def __init__(self, limiter: Limiter, inner: httpx.BaseTransport) -> None:
        self._limiter, self._inner = limiter, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._limiter.try_acquire("request")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def build_client(
    base_url: str,
    *,
    auth: httpx.Auth | None = None,
    limiter: Limiter | None = None,
    policy: HttpPolicy = HttpPolicy(),
    headers: Mapping[str, str] | None = None,
    window: RequestWindow | None = None,
) -> httpx.Client:
    """An httpx.Client whose transport is retry → shared window → rate limit → deadline → network, so
    every retry takes a slot of the vendor account's window (shared by every process), a token of this
    process's, and has its own deadline (within the run's)."""
    network = DeadlineTransport(httpx.HTTPTransport(), policy.request_deadline, policy.run)
    inner: httpx.BaseTransport = _Limited(limiter, network) if limiter is not None else network
    if window is not None:
        inner = WindowTransport(inner, window)
    retry = Retry(
        total=policy.retries,
        allowed_methods=policy.retry_methods,
        status_forcelist=policy.retry_statuses,
        backoff_factor=policy.backoff_factor,
        max_backoff_wait=policy.max_wait,
        total_timeout=policy.total_wait,
    )
    return httpx.Client(
        base_url=base_url,
        auth=auth,
        transport=RetryTransport(transport=inner, retry=retry),
        timeout=httpx.Timeout(policy.timeout, connect=policy.connect_timeout, pool=policy.connect_timeout),
        headers={"Accept": "application/json", "User-Agent": "MortonCommandCenter/0.1", **(headers or {})},
        follow_redirects=False,
    )


def _snippet(response: httpx.Response, limit: int = 300) -> str:
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        text = ""
    text = " ".join(text.split())
    return redact(text[:limit] + ("…" if len(text) > limit else "")) or "(empty body)"


class Api:
    """One source's authenticated client: JSON reads with clear errors, and paging by strategy."""

    def __init__(self, name: str, client: httpx.Client, run: RunBudget | None = None) -> None:
        self.name = name
        self.client = client
        self.run = run
        self.request_count = 0
        self.page_count = 0
        self.last_response: httpx.Response | None = None  # for paginators that read headers (Link)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.request_count += 1
        where = f"{method} {_path(url)}"
        try:
            response = self.client.request(method, url, **kwargs)
            self.last_response = response
        except DeadlineExceeded as error:
            message = str(error)
            raise DeadlineExceeded(
                message if message.startswith(f"{self.name}:") else f"{self.name}: {message}"
            ) from None
        except httpx.TimeoutException:
            if self.run is not None and self.run.expired():
                raise self.run.deadline_error() from None
            raise SourceError(f"{self.name}: {where} timed out after retries") from None
        except httpx.TransportError as error:
            raise SourceError(f"{self.name}: {where} could not connect: {redact(str(error))}") from None
        if response.status_code == 401:
            raise AuthFailed(
                f"{self.name}: {where} was refused (HTTP 401) even after fetching a new token, answering: {_snippet(response)}"
            )
        if response.status_code == 403:
            raise AuthFailed(
                f"{self.name}: {where} is forbidden (HTTP 403), check the API permissions: {_snippet(response)}"
            )
        if response.status_code >= 400:
            raise SourceError(
                f"{self.name}: {where} failed with HTTP {response.status_code}: {_snippet(response)}"
            )
        return response

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.request(method, url, **kwargs)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MalformedPayload(
                f"{self.name}: {method} {_path(url)} returned a malformed page (not JSON): {_snippet(response, 120)}"
            ) from None

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        # No params at all (not an empty dict): httpx would drop the query a next-page URL carries.
        return self.json("GET", url, params=dict(params) if params else None)

    def pages(
        self,
        url: str,
        paging: Paginator,
        params: Mapping[str, Any] | None = None,
        *,
        query: Any = None,
    ) -> Iterator[Any]:
        """Every item of every page, following `paging` until it says there is no next page.

        With `query`, each page is a POST of that JSON body (a vendor whose searches are POSTed reads,
        e.g. Autotask's `/{Entity}/query`); otherwise a GET."""
        request: tuple[str, dict[str, Any]] | None = (url, paging.first(dict(params or {})))
        seen: set[str] = set()
        while request is not None:
            page_url, page_params = request
            marker = json.dumps([page_url, page_params], sort_keys=True, default=str)
            if marker in seen:
                raise MalformedPayload(
                    f"{self.name}: {_path(url)} returned the same next page twice; stopping"
                )
            seen.add(marker)
            if self.run is not None:
                self.run.check_time()
                self.run.count_page()
            payload = (
                self.get(page_url, page_params)
                if query is None
                else self.json("POST", page_url, params=page_params or None, json=query)
            )
            self.page_count += 1
            items = paging.items(payload)
            if not isinstance(items, list):
                raise MalformedPayload(
                    f"{self.name}: {_path(url)} page {self.page_count} has no list of items"
                )
            yield from items
            request = paging.next(payload, items, page_url, page_params)
            if request is not None and not self._same_origin(request[0]):
                # A next-page link elsewhere would carry our bearer token to that host.
                raise MalformedPayload(
                    f"{self.name}: {_path(url)} named a next page on another host; stopping"
                )

    def _same_origin(self, url: str) -> bool:
        target = httpx.URL(url)
        if target.is_relative_url:
            return True
        base = self.client.base_url
        return (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)

    def close(self) -> None:
        self.client.close()


def _path(url: str) -> str:
    return redact(httpx.URL(url).path or url)
