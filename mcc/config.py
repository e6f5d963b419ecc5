"""mcc.toml (how MCC reaches the stack) and secrets from MCC_<SOURCE>_<KEY> environment variables."""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcc.errors import ConfigError
from mcc.schedules import Schedule, parse_schedule

DEFAULT_CONFIG = "mcc.toml"
DEFAULT_DATABASE_URL = "sqlite:///data/mcc.db"


class Environment(BaseSettings):
    """Process-wide settings that only ever come from the environment."""

    model_config = SettingsConfigDict(env_prefix="MCC_", extra="ignore")

    config: Path = Path(DEFAULT_CONFIG)
    database_url: str | None = None
    cookie_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    secrets_dir: Path | None = None
    demo: bool = False


class SourceConfig(BaseModel):
    """One `[[sources]]` entry."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
    kind: str
    base_url: str | None = None
    auth_url: str | None = None
    schedule: str | dict[str, str] | None = None
    enabled: bool = True
    # kind-specific, optional
    partner_tenant: str | None = None  # m365: partner tenant whose /contracts lists customer tenants
    tenants: list[str] = Field(default_factory=list)  # m365: extra customer tenant ids to read
    audience: str | None = None  # pax8
    group: str | None = None  # m365: the group whose members feed `group_members`
    offline_days: int = Field(
        default=30, ge=1, le=3650
    )  # RMM: devices silent longer than this are flagged as exclusion candidates
    rate_limit_per_minute: int | None = None  # override the vendor's documented limit
    # Bounds on one run (defaults in collectors.http.HttpPolicy): a request's whole answer, the run,
    # and how many pages / records a run may read before it fails as a vendor paging for ever.
    request_deadline_seconds: float | None = Field(default=None, gt=0, le=86_400)
    run_deadline_seconds: float | None = Field(default=None, gt=0, le=7 * 86_400)
    max_pages_per_run: int | None = Field(default=None, ge=1)
    max_items_per_run: int | None = Field(default=None, ge=1)
    # A run in which an org x metric loses more than this share of its count (or all of it) keeps the
    # last good counts and waits for a person or a second run agreeing (store/drops.py); default 0.5.
    drop_share: float | None = Field(default=None, gt=0, le=1)
    rest: dict[str, Any] | None = None  # kind "rest": the declared API (collectors/rest.py)
    csv: dict[str, Any] | None = None  # kind "csv": the folder of exports (collectors/csv_folder.py)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from collectors.registry import SOURCE_KINDS

        if value not in SOURCE_KINDS:
            raise ValueError(f"unknown kind {value!r}; expected one of {', '.join(sorted(SOURCE_KINDS))}")
        return value

    @model_validator(mode="after")
    def _rest_declaration(self) -> SourceConfig:
        if self.kind == "rest":
            from collectors.rest import parse_spec

            if self.rest is None:
                raise ValueError('kind "rest" needs a [sources.rest] table (see docs/sources/rest.md)')
            parse_spec(self.rest, self.name)
        elif self.rest is not None:
            raise ValueError(f'rest: only kind = "rest" takes a [sources.rest] table, not {self.kind!r}')
        if self.kind == "csv":
            from collectors.csv_folder import parse_spec as parse_csv

            if self.csv is None:
                raise ValueError('kind "csv" needs a [sources.csv] table (see docs/sources/csv.md)')
            parse_csv(self.csv, self.name)
        elif self.csv is not None:
            raise ValueError(f'csv: only kind = "csv" takes a [sources.csv] table, not {self.kind!r}')
        return self

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        for text in [value] if isinstance(value, str) else (value or {}).values():
            parse_schedule(text)
        return value

    @cached_property
    def collector(self) -> Any:
        from collectors.registry import SOURCE_KINDS

        return SOURCE_KINDS[self.kind]

    @property
    def url(self) -> str:
        return (self.base_url or self.collector.default_base_url or "").rstrip("/")

    @property
    def token_url_base(self) -> str:
        return (self.auth_url or self.collector.default_auth_url or self.url).rstrip("/")

    def schedule_for(self, stream: str) -> Schedule:
        """This stream's schedule: the per-stream override, the source override, or the kind's default."""
        if isinstance(self.schedule, dict) and stream in self.schedule:
            return parse_schedule(self.schedule[stream])
        if isinstance(self.schedule, str):
            return parse_schedule(self.schedule)
        return parse_schedule(self.collector.streams[stream].default_schedule)

    def env_name(self, key: str) -> str:
        return env_var(self.name, key)

    def secrets(self) -> dict[str, SecretStr]:
        """The credentials this kind needs, from the environment (or MCC_SECRETS_DIR files)."""
        keys_for = getattr(self.collector, "secret_keys_for", None)
        required = keys_for(self.rest) if keys_for is not None else self.collector.secret_keys
        return read_secrets(self.name, required, self.collector.optional_secret_keys)


class AccountingConfig(BaseModel):
    """The `[accounting]` table: where approved invoices go."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["quickbooks", "xero", "sage", "file", "qbd"] = "file"
    base_url: str | None = None
    auth_url: str | None = None
    realm_id: str | None = None
    tenant_id: str | None = None
    business_id: str | None = None
    path: str = "data/exports"
    format: Literal["iif", "csv"] = "csv"
    income_account: str | None = None  # xero AccountCode / sage ledger account used when an item has none
    due_days: int = Field(default=30, ge=0, le=365)  # payment terms: 0 (on receipt) to a year
    # Sage: product code -> tax rate id sent on each line ("*" for every product not listed); none: no tax.
    tax_rates: dict[str, str] = Field(default_factory=dict)
    company_file: str | None = None  # qbd: the .qbw the Web Connector opens (empty: the one already open)
    file_id: str | None = (
        None  # qbd: the company's FileID GUID in the .qwc (default derived from company_file)
    )


class Config(BaseModel):
    """The whole of mcc.toml."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    database_url: str = DEFAULT_DATABASE_URL
    back_bill_months: int = Field(default=12, ge=0, le=36)
    sources: list[SourceConfig] = Field(default_factory=list)
    accounting: AccountingConfig = Field(default_factory=AccountingConfig)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in sources:
            if source.name.lower() in seen:
                raise ValueError(f"two sources are named {source.name!r}; names must be unique")
            seen.add(source.name.lower())
        return sources

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} in {self.path or 'mcc.toml'} (sources: {known})")

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]


def env_var(name: str, key: str) -> str:
    """MCC_<SOURCE NAME>_<KEY>, upper-cased, '-' -> '_'."""
    return f"MCC_{name}_{key}".upper().replace("-", "_")


def read_secrets(name: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, SecretStr]:
    """Read MCC_<NAME>_<KEY> for each key with pydantic-settings; a missing one is a ConfigError naming it."""
    prefix = env_var(name, "")
    fields: dict[str, Any] = {k.lower(): (SecretStr | None, None) for k in (*keys, *optional)}
    env = Environment()
    model = create_model(
        f"Secrets_{prefix}",
        __base__=BaseSettings,
        __config__=None,
        **fields,
    )
    model.model_config = SettingsConfigDict(
        env_prefix=prefix, extra="ignore", secrets_dir=str(env.secrets_dir) if env.secrets_dir else None
    )
    values = model()
    missing = [env_var(name, k) for k in keys if getattr(values, k.lower()) is None]
    if missing:
        raise ConfigError(f"source {name!r}: set the environment variable(s) {', '.join(missing)}")
    return {
        k: getattr(values, k.lower()) for k in (*keys, *optional) if getattr(values, k.lower()) is not None
    }


def _format_errors(path: Path, error: ValidationError, data: dict[str, Any]) -> str:
    lines = []
    for item in error.errors():
        parts: list[str] = []
        for loc in item["loc"]:
            if isinstance(loc, int):
                parts[-1:] = [f"{parts[-1]}[{loc + 1}]" if parts else f"[{loc + 1}]"]
            else:
                parts.append(str(loc))
        where = ".".join(parts) or "(top level)"
        source_name = _source_name(data, item["loc"])
        hint = f" (source {source_name!r})" if source_name else ""
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{path}: {where}{hint}: {message}")
    return "\n".join(lines)


def _source_name(data: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        try:
            return str(data["sources"][loc[1]].get("name"))
        except (IndexError, KeyError, AttributeError, TypeError):
            return None
    return None


def load_config(path: Path | str | None = None) -> Config:
    """Read mcc.toml (MCC_CONFIG, else ./mcc.toml); a missing file gives an empty config. MCC_DATABASE_URL wins."""
    env = Environment()
    path = Path(path) if path is not None else env.config
    data: dict[str, Any] = {}
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a configuration file (set by MCC_CONFIG)")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    elif path != Path(DEFAULT_CONFIG):
        raise ConfigError(f"{path}: no such file (set by MCC_CONFIG)")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc, data)) from None
    config.path = path
    if env.database_url:
        config.database_url = env.database_url
    return config


def secret_key() -> SecretStr | None:
    return Environment().secret_key


def demo_mode() -> bool:
    return Environment().demo or os.environ.get("MCC_DEMO", "") == "1"
