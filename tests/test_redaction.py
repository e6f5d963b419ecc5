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
