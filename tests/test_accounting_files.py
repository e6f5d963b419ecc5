"""File export (QuickBooks Desktop IIF and CSV), the Xero per-minute pacing, and the token vault."""

from __future__ import annotations

import csv
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from accounting.http import MinuteLimiter
from accounting.tokens import Vault
from mcc import invoicing
from mcc.config import Config
from store.db import reading
from store.models import TimeEntry
from tests.invoicebook import ACME_TOTAL, APPROVER, INVOICER, PERIOD, seed


def push_files(engine, tmp_path, format: str) -> list:
    book = seed(engine)
    config = Config.model_validate(
        {
            "accounting": {
                "kind": "file",
                "path": str(tmp_path / "out"),
                "format": format,
                "income_account": "Managed Services",
            }
        }
    )
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)
    results = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)
    assert [r.status for r in results] == ["pushed"]
    again = invoicing.push(engine, config, INVOICER, invoice_ids=[results[0].invoice_id])
    assert again[0].status == "already_pushed"
    with reading(engine) as session:
        assert (
            None
            not in session.scalars(
                select(TimeEntry.invoice_id).where(TimeEntry.id.in_(book.time_entries))
            ).all()
        )
    return sorted((tmp_path / "out").iterdir())


def test_csv_export_has_one_row_per_line_summing_to_the_total(engine, tmp_path) -> None:
    [path] = push_files(engine, tmp_path, "csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [row["item_code"] for row in rows] == ["M365-BP", "WS", "WS", "LABOR", "LABOR"]
    assert sum(Decimal(row["amount"]) for row in rows) * 100 == ACME_TOTAL
    assert rows[0]["customer_id"] == "58" and rows[4]["quantity"] == "0.333" and rows[4]["amount"] == "49.95"


def test_iif_export_balances_and_uses_quickbooks_desktop_layout(engine, tmp_path) -> None:
    [path] = push_files(engine, tmp_path, "iif")
    text = path.read_bytes().decode("utf-8")
    lines = [line.split("\t") for line in text.split("\r\n") if line]
    assert [line[0] for line in lines] == [
        "!TRNS",
        "!SPL",
        "!ENDTRNS",
        "TRNS",
        "SPL",
        "SPL",
        "SPL",
        "SPL",
        "SPL",
        "ENDTRNS",
    ]
    trns = lines[3]
    assert trns[2] == "INVOICE" and trns[4] == "Accounts Receivable" and trns[5] == "58"
    assert Decimal(trns[6]) * 100 == ACME_TOTAL
    splits = lines[4:9]
    assert sum(Decimal(split[6]) for split in splits) == -Decimal(trns[6])  # the transaction balances
    assert splits[1][4] == "Managed Services" and splits[1][9] == "-712" and splits[1][11] == "WS"


def test_minute_limiter_paces_the_61st_call() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = MinuteLimiter(60, clock=lambda: now[0], sleep=sleep)
    for _ in range(60):
        assert limiter.acquire() == 0.0
        now[0] += 0.5
    assert limiter.acquire() == 30.0 and slept == [30.0]


def test_vault_keeps_the_rotated_token_until_the_environment_gives_a_new_one(engine, monkeypatch) -> None:
    import httpx
    from pydantic import SecretStr

    from accounting.tokens import OAuthClient

    monkeypatch.setenv("MCC_SECRET_KEY", "k" * 40)
    issued = iter(["rotated-1", "rotated-2"])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(x.split("=") for x in request.content.decode().split("&"))["refresh_token"])
        return httpx.Response(200, json={"access_token": "a", "refresh_token": next(issued)})

    def client(env_token: str) -> OAuthClient:
        return OAuthClient(
            "Xero",
            "https://token.test/connect/token",
            SecretStr("id"),
            SecretStr("secret"),
            SecretStr(env_token),
            Vault(engine),
            "xero:t:refresh_token",
            httpx.Client(transport=httpx.MockTransport(handler)),
        )

    client("from-env").refresh()
    client("from-env").refresh()  # the vault copy wins over the stale environment value
    assert seen == ["from-env", "rotated-1"]
    assert Vault(engine).get("xero:t:refresh_token")["token"] == "rotated-2"  # type: ignore[index]
    issued = iter(["rotated-3"])
    client("reauthorised").refresh()  # a new token in the environment means a re-authorisation: it wins
    assert seen[-1] == "reauthorised"


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), "answered HTTP 200 with no JSON object"),
        (httpx.Response(200, json=["access_token"]), "answered HTTP 200 with no JSON object"),
        (httpx.Response(200, json={"token_type": "bearer"}), "answered without an access token"),
    ],
)
def test_a_token_answer_without_a_token_is_a_clear_accounting_error(
    engine, monkeypatch, response: httpx.Response, message: str
) -> None:
    """A push turns an AccountingError into a failed invoice with its message; a raw JSON or key error
    would escape the push and leave the invoice leased as 'pushing'."""
    from pydantic import SecretStr

    from accounting.base import AccountingAuthFailed
    from accounting.tokens import OAuthClient

    monkeypatch.setenv("MCC_SECRET_KEY", "k" * 40)
    oauth = OAuthClient(
        "Xero",
        "https://token.test/connect/token",
        SecretStr("id"),
        SecretStr("secret"),
        SecretStr("from-env"),
        Vault(engine),
        "xero:t:refresh_token",
        httpx.Client(transport=httpx.MockTransport(lambda request: response)),
    )
    with pytest.raises(AccountingAuthFailed, match=message):
        oauth.token()
    assert oauth.access_token is None
