"""Secrets are redacted from every text MCC logs or stores; useful vendor details are not."""

from __future__ import annotations

import pytest

from collectors.http import redact, remember_secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /callback?code=abc123&state=1", "GET /callback?code=[redacted]&state=1"),
        (
            "client_secret=s3cr3t&grant_type=client_credentials",
            "client_secret=[redacted]&grant_type=client_credentials",
        ),
        (
            '{"access_token": "eyJ0.abc", "expires_in": 3600}',
            '{"access_token": "[redacted]", "expires_in": 3600}',
        ),
        ("Authorization: Bearer abcdefghijk", "Authorization: Bearer [redacted]"),
        ("Authorization: ApiToken s1tokenvalue", "Authorization: ApiToken [redacted]"),
        ("password: hunter22", "password: [redacted]"),
        # vendor error codes and paging cursors stay readable
        (
            '{"errors": [{"code": 5030000, "title": "Service Unavailable"}]}',
            '{"errors": [{"code": 5030000, "title": "Service Unavailable"}]}',
        ),
        ('"error_code": 6070', '"error_code": 6070'),
        ('{"next_page_token": "p2"}', '{"next_page_token": "p2"}'),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_remembered_secrets_are_redacted_wherever_they_appear() -> None:
    remember_secret("plain-secret-value-42")
    assert redact("the vendor said: plain-secret-value-42 is wrong") == "the vendor said: [redacted] is wrong"


def test_accounting_vendor_errors_are_redacted_before_they_are_stored() -> None:
    import httpx

    from accounting.http import vendor_message

    response = httpx.Response(
        400,
        json={
            "Fault": {"Error": [{"Message": "Invalid", "Detail": "refresh_token=rt-secret-123 was rejected"}]}
        },
    )
    message = vendor_message(response)
    assert "rt-secret-123" not in message
    assert message.startswith("Invalid: refresh_token=[redacted]")


def test_base64_of_key_and_secret_is_redacted_without_the_basic_prefix() -> None:
    import base64

    from collectors.http import remember_credentials

    remember_credentials(["key-7f3a91", "SECRET-b64-c0de"])
    echoed = base64.b64encode(b"key-7f3a91:SECRET-b64-c0de").decode()
    text = redact(f'{{"error": "invalid credentials {echoed}", "hint": "check {echoed.rstrip("=")}"}}')
    assert echoed not in text and echoed.rstrip("=") not in text
    assert text.count("[redacted]") == 2
    assert "invalid credentials" in text  # the vendor's words stay readable


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: __import__("base64").b64encode(s.encode()).decode(),
        lambda s: __import__("base64").urlsafe_b64encode(s.encode()).decode().rstrip("="),
        lambda s: __import__("urllib.parse").parse.quote(s, safe=""),
        lambda s: __import__("urllib.parse").parse.quote_plus(s),
    ],
    ids=["base64", "urlsafe-base64-unpadded", "url-encoded", "form-encoded"],
)
def test_every_encoded_form_of_a_secret_is_redacted(encode) -> None:
    secret = "s3cr+t/with=odd&chars?"
    remember_secret(secret)
    text = redact(f"vendor echoed {encode(secret)} back")
    assert text == "vendor echoed [redacted] back"


def test_basic_auth_pairs_are_redacted_and_the_source_registers_its_pairs() -> None:
    import base64

    from collectors.http import basic_auth

    basic_auth("huntress-key-1", "huntress-SECRET-2")
    echoed = base64.b64encode(b"huntress-key-1:huntress-SECRET-2").decode()
    assert redact(f"401 for {echoed}") == "401 for [redacted]"


def test_our_own_wording_does_not_swallow_the_vendors_first_word() -> None:
    import httpx

    from collectors.http import TokenAuth
    from mcc.errors import MalformedPayload

    auth = TokenAuth(lambda: httpx.Request("POST", "http://127.0.0.1:9/token"), label="token endpoint")
    flow = auth.auth_flow(httpx.Request("GET", "http://127.0.0.1:9/x"))
    next(flow)
    with pytest.raises(MalformedPayload) as raised:
        flow.send(httpx.Response(200, text="Maintenance until 04:00 UTC"))
    # the stored error is redacted once more as a whole (collectors/sync.py): the vendor's words survive
    assert "It said: Maintenance until 04:00 UTC" in redact(str(raised.value))
