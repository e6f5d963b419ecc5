"""A tiny HTTP framework for the vendor fakes: routes, bearer tokens and switchable faults,
served over a real socket on 127.0.0.1.

Faults are set from tests (`fake.faults.add(...)`) or over HTTP (`POST /_sandbox/faults` with the same
fields as JSON), so a separately started sandbox can be driven too:

    {"path": "/v2/devices", "status": 429, "retry_after": 2, "times": 1}
    {"path": "/v2/devices", "status": 503, "times": 3, "skip": 1}       # fail pages 2..4
    {"path": "/v2/devices", "malformed": true, "times": 1}
    {"path": "/v2/devices", "delay": 5, "times": 1}                     # slow / timeout
    {"path": "/v2/devices", "trickle": 2, "times": -1}                  # one byte every 2 s, for ever
    {"path": "/v2/devices", "empty": true, "times": -1}                 # valid answer, every list empty
    {"expire_tokens": true}                                             # next bearer call is 401
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    trickle: float = 0.0  # seconds between bytes of the body: a server that never quite stalls

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


class HttpError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.response = Response(status, body, headers or {})


@dataclass
class Fault:
    path: str = ""
    status: int | None = None
    retry_after: float | None = None
    body: Any = None
    malformed: bool = False
    delay: float = 0.0
    trickle: float = 0.0
    empty: bool = False
    times: int = 1  # -1: until cleared
    skip: int = 0  # let this many matching requests through first
    method: str | None = None
    hits: int = 0

    def matches(self, request: Request) -> bool:
        return request.path.startswith(self.path) and (self.method is None or self.method == request.method)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.expired_tokens = False

    def add(self, **fields: Any) -> Fault:
        if fields.pop("expire_tokens", False):
            self.expired_tokens = True
        fault = Fault(**fields)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.expired_tokens = False

    def take(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(request):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                harmless = not (fault.malformed or fault.delay or fault.trickle or fault.empty)
                if fault.times == 0 or (fault.status is None and harmless):
                    continue
                if fault.times > 0:
                    fault.times -= 1
                fault.hits += 1
                return fault
        return None


Handler = Callable[[Request], Any]


class Fake:
    """Base of every vendor fake. Subclasses register routes with `self.route(...)` in `__init__`."""

    name = "fake"

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults = Faults()
        self.tokens: set[str] = set()
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.RLock()
        self.serving = False

    # -- routing -----------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """`pattern` is a path with `{name}` placeholders, e.g. `/v2/site/{uid}/devices`."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}$"), handler))

    def dispatch(self, request: Request) -> Response:
        self.requests.append(request)
        if request.path == "/_sandbox/faults" and request.method == "POST":
            payload = request.json() or {}
            if payload.get("clear"):
                self.faults.clear()
            else:
                self.faults.add(**payload)
            return Response(204)
        fault = self.faults.take(request)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                headers = {} if fault.retry_after is None else {"Retry-After": _seconds(fault.retry_after)}
                return Response(
                    fault.status, fault.body or {"error": f"sandbox fault {fault.status}"}, headers
                )
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                try:
                    result = handler(request)
                except HttpError as error:
                    return error.response
                response = result if isinstance(result, Response) else Response(200, result)
                if fault is not None and fault.empty and response.status < 300:
                    response.body = emptied(response.body)
                    response.headers = {k: v for k, v in response.headers.items() if k.lower() != "link"}
                if fault is not None and fault.malformed:
                    response.raw = response.encode()[: max(1, len(response.encode()) // 2)]
                if fault is not None and fault.trickle:
                    response.trickle = fault.trickle
                return response
        return Response(404, {"error": f"no route {request.method} {request.path}"})

    # -- tokens ------------------------------------------------------------------------------
    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return token

    def require_bearer(self, request: Request, scheme: str = "Bearer", header: str = "authorization") -> str:
        value = request.header(header) or ""
        token = value[len(scheme) + 1 :] if value.startswith(scheme + " ") else ""
        if self.faults.expired_tokens:
            with self.lock:
                self.tokens.clear()
                self.faults.expired_tokens = False
        if token not in self.tokens:
            raise HttpError(401, self.unauthorized_body())
        return token

    def unauthorized_body(self) -> Any:
        return {"error": "invalid_token"}

    # -- serving -----------------------------------------------------------------------------
    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                try:
                    response = fake.dispatch(request)
                except Exception as error:  # a fake bug shows as a 500, like a real vendor would
                    response = Response(500, {"error": f"sandbox error: {error}"})
                payload = response.encode()
                try:
                    self.send_response(response.status)
                    headers = {"Content-Type": "application/json", **response.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if response.trickle:
                        self.wfile.flush()
                        for index in range(len(payload)):
                            if not fake.serving:
                                break
                            self.wfile.write(payload[index : index + 1])
                            self.wfile.flush()
                            time.sleep(response.trickle)
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.serving = True
        server = _QuietServer((host, port), _Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{self.name}", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "fake not started"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.serving = False  # trickling answers end, so their threads do not outlive the fake
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def emptied(body: Any) -> Any:
    """An outage-shaped answer: the same JSON with every list empty and every next-page hint gone
    (organisations may still be listed by another path while their devices come back `[]`)."""
    if isinstance(body, list):
        return []
    if isinstance(body, dict):
        return {key: emptied(value) for key, value in body.items() if "next" not in key.lower()}
    return body


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a timed-out collector, a closed demo) is normal for a fake: no traceback on
    the console; anything else is one log line."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        log.warning("sandbox: request from %s failed: %r", client_address, error)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
