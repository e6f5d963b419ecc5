"""`writer_for(config, engine)`: the configured writer, with its credentials and token vault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from accounting.base import Writer
from accounting.http import DEFAULT_TIMEOUT, MinuteLimiter, VendorHttp
from accounting.tokens import OAuthClient, Vault
from mcc.config import Config, read_secrets
from mcc.errors import ConfigError

KINDS = ("quickbooks", "xero", "sage", "file", "qbd")


def company_of(config: Config) -> str:
    """The remote company an idempotency key is scoped to."""
    accounting = config.accounting
    return {
        "quickbooks": accounting.realm_id,
        "xero": accounting.tenant_id,
        "sage": accounting.business_id,
        "file": accounting.path,
        "qbd": accounting.file_id or accounting.company_file or "qbd",  # the company file
    }.get(accounting.kind) or ""


def _oauth(
    vendor: str, kind: str, token_url: str, engine: Engine, http: VendorHttp, company: str, basic_auth: bool
) -> OAuthClient:
    secrets = read_secrets(kind, ("CLIENT_ID", "CLIENT_SECRET"), ("REFRESH_TOKEN",))
    _remember(secrets)
    return OAuthClient(
        vendor=vendor,
        token_url=token_url,
        client_id=secrets["CLIENT_ID"],
        client_secret=secrets["CLIENT_SECRET"],
        env_refresh_token=secrets.get("REFRESH_TOKEN"),
        vault=Vault(engine),
        vault_name=f"{kind}:{company}:refresh_token",
        http=http.client,
        basic_auth=basic_auth,
    )


def _remember(secrets: dict[str, Any]) -> None:
    """Register secrets with the shared log redaction, when that layer is present."""
    try:
        from collectors.http import remember_credentials
    except ImportError:
        return
    remember_credentials(value.get_secret_value() for value in secrets.values())


def writer_for(
    config: Config,
    engine: Engine,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] | None = None,
    default_retry_after: float = 60.0,
) -> Writer:
    accounting = config.accounting
    kind = accounting.kind
    options: dict[str, Any] = {"timeout": timeout, "default_retry_after": default_retry_after}
    if sleep is not None:
        options["sleep"] = sleep
    if kind == "file":
        from accounting.files import FileExport

        return FileExport(accounting.path, accounting.format, income_account=accounting.income_account)
    if kind == "quickbooks":
        from accounting.quickbooks import QuickBooks

        if not accounting.realm_id:
            raise ConfigError('[accounting] kind = "quickbooks" needs realm_id (the QuickBooks company id)')
        http = VendorHttp("QuickBooks", **options)
        auth = (accounting.auth_url or QuickBooks.default_auth_url).rstrip("/") + QuickBooks.token_path
        http.oauth = _oauth("QuickBooks", kind, auth, engine, http, accounting.realm_id, basic_auth=True)
        return QuickBooks(http, accounting.base_url or QuickBooks.default_base_url, accounting.realm_id)
    if kind == "xero":
        from accounting.xero import Xero

        if not accounting.tenant_id:
            raise ConfigError(
                '[accounting] kind = "xero" needs tenant_id (see GET https://api.xero.com/connections)'
            )
        http = VendorHttp("Xero", limiter=MinuteLimiter(Xero.calls_per_minute), **options)
        auth = (accounting.auth_url or Xero.default_auth_url).rstrip("/") + Xero.token_path
        http.oauth = _oauth("Xero", kind, auth, engine, http, accounting.tenant_id, basic_auth=True)
        return Xero(
            http,
            accounting.base_url or Xero.default_base_url,
            accounting.tenant_id,
            accounting.income_account,
        )
    if kind == "sage":
        from accounting.sage import Sage

        if not accounting.income_account:
            raise ConfigError(
                '[accounting] kind = "sage" needs income_account (the id of the sales ledger account for invoice lines)'
            )
        http = VendorHttp("Sage", **options)
        auth = (accounting.auth_url or Sage.default_auth_url).rstrip("/") + Sage.token_path
        http.oauth = _oauth(
            "Sage", kind, auth, engine, http, accounting.business_id or "default", basic_auth=False
        )
        return Sage(
            http,
            accounting.base_url or Sage.default_base_url,
            accounting.business_id,
            accounting.income_account,
            accounting.tax_rates,
        )
    if kind == "qbd":
        raise ConfigError(
            'QuickBooks Desktop (kind = "qbd") is not pushed to: approved invoices wait for the Web Connector '
            "to poll `mcc qbwc serve`"
        )
    raise ConfigError(f"unknown accounting kind {kind!r}; expected one of {', '.join(KINDS)}")
