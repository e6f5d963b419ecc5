"""OAuth2 refresh-token flow for the accounting writers, and the vault that keeps a rotated refresh token
encrypted (Fernet, key derived from MCC_SECRET_KEY) so the next push uses the newest one."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy import Engine

from accounting.base import AccountingAuthFailed, OutcomeUnknown
from collectors.http import redact, remember_secret
from mcc.config import secret_key
from mcc.errors import ConfigError
from store.db import reading, transaction
from store.models import VaultEntry
from store.types import utcnow

log = logging.getLogger(__name__)


def _fernet(key: SecretStr | None) -> Fernet:
    if key is None or not key.get_secret_value():
        raise ConfigError(
            "set MCC_SECRET_KEY: the accounting system rotates its refresh token and MCC keeps the newest one "
            "encrypted with a key derived from it"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mcc-vault", info=b"accounting refresh token")
    return Fernet(base64.urlsafe_b64encode(derived.derive(key.get_secret_value().encode())))


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Vault:
    """Encrypted name -> secret storage in the `vault` table."""

    def __init__(self, engine: Engine, key: SecretStr | None = None) -> None:
        self.engine = engine
        self.fernet = _fernet(key if key is not None else secret_key())

    def get(self, name: str) -> dict[str, str] | None:
        with reading(self.engine) as session:
            entry = session.get(VaultEntry, name)
            ciphertext = entry.ciphertext if entry else None
        if ciphertext is None:
            return None
        try:
            data: dict[str, str] = json.loads(self.fernet.decrypt(ciphertext.encode()))
        except InvalidToken:
            raise ConfigError(
                f"the stored secret {name!r} cannot be decrypted: MCC_SECRET_KEY changed since it was saved; "
                "set the refresh token again in the environment"
            ) from None
        return data

    def put(self, name: str, value: dict[str, str]) -> None:
        ciphertext = self.fernet.encrypt(json.dumps(value).encode()).decode()
        with transaction(self.engine) as session:
            entry = session.get(VaultEntry, name)
            if entry is None:
                session.add(VaultEntry(name=name, ciphertext=ciphertext))
            else:
                entry.ciphertext = ciphertext
                entry.updated_at = utcnow()


@dataclass
class OAuthClient:
    """The refresh-token grant against one vendor's token endpoint.

    `basic_auth` sends client id/secret as HTTP Basic (Intuit, Xero); otherwise in the form body (Sage).
    The environment's refresh token seeds the vault; once the vendor rotates it, the vault copy wins until
    someone puts a different token in the environment (a re-authorisation)."""

    vendor: str
    token_url: str
    client_id: SecretStr
    client_secret: SecretStr
    env_refresh_token: SecretStr | None
    vault: Vault
    vault_name: str
    http: httpx.Client
    basic_auth: bool = True
    access_token: str | None = None

    def _current_refresh_token(self) -> str:
        env_token = self.env_refresh_token.get_secret_value() if self.env_refresh_token else None
        stored = self.vault.get(self.vault_name)
        if stored and (env_token is None or stored.get("seed") == _fingerprint(env_token)):
            return stored["token"]
        if env_token is None:
            raise ConfigError(
                f"{self.vendor}: no refresh token; set MCC_{self.vault_name.split(':')[0].upper()}_REFRESH_TOKEN"
            )
        return env_token

    def refresh(self) -> str:
        refresh_token = self._current_refresh_token()
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        extra: dict[str, Any] = {}
        if self.basic_auth:
            extra["auth"] = httpx.BasicAuth(
                self.client_id.get_secret_value(), self.client_secret.get_secret_value()
            )
        else:
            form |= {
                "client_id": self.client_id.get_secret_value(),
                "client_secret": self.client_secret.get_secret_value(),
            }
        try:
            response = self.http.post(
                self.token_url, data=form, headers={"Accept": "application/json"}, **extra
            )
        except httpx.HTTPError as error:
            raise OutcomeUnknown(
                f"{self.vendor}: token endpoint unreachable ({type(error).__name__})"
            ) from None
        if response.status_code != 200:
            detail = _oauth_error(response)
            raise AccountingAuthFailed(
                f"{self.vendor} refused the refresh token (HTTP {response.status_code}: {detail}); "
                "connect the app again and set a new refresh token"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AccountingAuthFailed(
                f"{self.vendor}: the token endpoint answered HTTP 200 with no JSON object; nothing was sent"
            )
        new_refresh = body.get("refresh_token")
        for token in (new_refresh, body.get("access_token")):
            if isinstance(token, str):
                remember_secret(token)  # never in a log line or a stored error from here on
        if new_refresh and new_refresh != refresh_token:
            # Persist before using the new access token: a crash now must not lose the rotated token.
            env_token = self.env_refresh_token.get_secret_value() if self.env_refresh_token else ""
            seed = _fingerprint(env_token) if env_token else self._stored_seed()
            self.vault.put(self.vault_name, {"token": new_refresh, "seed": seed})
            log.info("%s refresh token rotated; the new one is stored encrypted", self.vendor)
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise AccountingAuthFailed(
                f"{self.vendor}: the token endpoint answered without an access token; nothing was sent"
            )
        self.access_token = access_token
        return self.access_token

    def _stored_seed(self) -> str:
        stored = self.vault.get(self.vault_name) or {}
        return stored.get("seed", "")

    def token(self) -> str:
        return self.access_token or self.refresh()


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return redact(response.text[:200])
    if isinstance(body, dict):
        return redact(str(body.get("error_description") or body.get("error") or body)[:300])
    return redact(str(body)[:300])
