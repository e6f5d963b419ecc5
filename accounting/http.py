"""HTTP for the writers: timeouts, bearer auth with one refresh on 401, throttling (429 + Retry-After,
clamped) and a client-side per-minute limit. Invoice POSTs are only ever re-sent with their idempotency
key; a timeout or 5xx becomes `OutcomeUnknown`, settled by the outbox on the next push."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from accounting.base import AccountingAuthFailed, OutcomeUnknown
from accounting.tokens import OAuthClient
from collectors.http import redact

DEFAULT_TIMEOUT = 30.0


class MinuteLimiter:
    """At most `per_minute` calls in any 60-second window (Xero: 60/min per tenant)."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.sleep = sleep
        self.calls: deque[float] = deque()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until a call is allowed; returns the seconds waited."""
        waited = 0.0
        with self.lock:
            while True:
                now = self.clock()
                while self.calls and now - self.calls[0] >= 60.0:
                    self.calls.popleft()
                if len(self.calls) < self.per_minute:
                    self.calls.append(now)
                    return waited
                pause = 60.0 - (now - self.calls[0])
                self.sleep(pause)
                waited += pause


class VendorHttp:
    def __init__(
        self,
        vendor: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        limiter: MinuteLimiter | None = None,
        throttle_retries: int = 2,
        max_retry_after: float = 60.0,
        default_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.vendor = vendor
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False
        )
        self.limiter = limiter
        self.throttle_retries = throttle_retries
        self.max_retry_after = max_retry_after
        self.default_retry_after = default_retry_after
        self.sleep = sleep
        self.oauth: OAuthClient | None = None

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, url: str, *, describe: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send once (plus: one resend after a token refresh on 401, and resends after 429 — both mean the
        vendor did not process the request). Returns any 2xx/4xx other than 401/429 for the writer to read."""
        refreshed = False
        throttled = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire()
            all_headers = {"Accept": "application/json", **(headers or {})}
            if self.oauth is not None:
                all_headers["Authorization"] = f"Bearer {self.oauth.token()}"
            try:
                response = self.client.request(method, url, headers=all_headers, **kwargs)
            except httpx.TimeoutException:
                raise OutcomeUnknown(
                    f"{self.vendor} did not answer {describe} in time; it may have been created — "
                    "push again: the retry finds it instead of making a second one"
                ) from None
            except httpx.TransportError as error:
                raise OutcomeUnknown(
                    f"{self.vendor} connection failed during {describe} ({type(error).__name__}); push again"
                ) from None
            if response.status_code == 401 and self.oauth is not None and not refreshed:
                refreshed = True
                self.oauth.refresh()
                continue
            if response.status_code in (401, 403):
                raise AccountingAuthFailed(
                    f"{self.vendor} refused the credentials for {describe} (HTTP {response.status_code}): "
                    f"{vendor_message(response)}"
                )
            if response.status_code == 429:
                if throttled < self.throttle_retries:
                    throttled += 1
                    self.sleep(self._retry_after(response))
                    continue
                raise OutcomeUnknown(
                    f"{self.vendor} is throttling requests (HTTP 429{_problem(response)}); push again later"
                )
            if response.status_code >= 500:
                raise OutcomeUnknown(
                    f"{self.vendor} failed on {describe} (HTTP {response.status_code}): {vendor_message(response)}; "
                    "push again: the retry finds the invoice if it was created"
                )
            return response

    def _retry_after(self, response: httpx.Response) -> float:
        value = response.headers.get("Retry-After")
        try:
            seconds = float(value) if value is not None else self.default_retry_after
        except ValueError:
            seconds = self.default_retry_after
        return max(0.0, min(seconds, self.max_retry_after))


def _problem(response: httpx.Response) -> str:
    problem = response.headers.get("X-Rate-Limit-Problem")
    return f", {problem} limit" if problem else ""


def vendor_message(response: httpx.Response) -> str:
    """The vendor's own error text, whatever its shape (QBO Fault/fault, Xero Error, Sage list, OAuth),
    with anything that looks like a credential redacted (it is stored on the invoice and logged)."""
    try:
        body = response.json()
    except ValueError:
        return redact(response.text.strip()[:500]) or response.reason_phrase
    return redact(describe_error_body(body)) or response.reason_phrase


def describe_error_body(body: Any) -> str:
    if isinstance(body, list):
        parts = [describe_error_body(item) for item in body]
        return "; ".join(p for p in parts if p)
    if not isinstance(body, dict):
        return str(body)[:500]
    fault = body.get("Fault") or body.get("fault")
    if isinstance(fault, dict):
        errors = fault.get("Error") or fault.get("error") or []
        texts = []
        for error in errors:
            message = error.get("Message") or error.get("message") or ""
            detail = error.get("Detail") or error.get("detail") or ""
            code = error.get("code") or error.get("Code")
            text = f"{message}: {detail}" if detail and detail != message else message
            texts.append(f"{text} (code {code})" if code else text)
        return "; ".join(texts) or str(fault.get("type", "Fault"))
    if "$message" in body:
        source = body.get("$source")
        return f"{body['$message']} ({source})" if source else str(body["$message"])
    if "Message" in body or "Detail" in body or "Elements" in body:
        messages = [
            str(validation.get("Message"))
            for element in body.get("Elements") or []
            for validation in element.get("ValidationErrors") or []
        ]
        head = str(body.get("Message") or body.get("Detail") or body.get("Title") or "")
        return f"{head}: {'; '.join(messages)}" if messages else head
    for key in ("error_description", "error", "message", "detail"):
        if body.get(key):
            return str(body[key])
    return str(body)[:500]
