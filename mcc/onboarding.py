"""Onboarding a real stack: the commented mcc.toml `mcc init` writes, the environment variables each
source expects (and whether they are set, never their values), and the connection check behind
`mcc sources test` and the Sources page."""

from __future__ import annotations

import os
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors import probes
from collectors.http import HttpPolicy, redact
from collectors.registry import SOURCE_KINDS
from mcc.config import Config, Environment, SourceConfig, env_var, read_secrets
from mcc.errors import AuthFailed, ConfigError, MccError, SourceError
from store.audit import KEY_ENV as AUDIT_KEY_ENV

# A connection check should answer in seconds, not wait out a long outage.
CHECK_POLICY = HttpPolicy(
    timeout=20.0, connect_timeout=5.0, retries=2, backoff_factor=0.5, max_wait=10.0, total_wait=30.0
)
CHECK_PAGES = 2  # organisations are read for at most this many pages
CHECK_MAX_ORGS = 2000
SAMPLE_SIZE = 5

KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
ACCOUNTING_KINDS = ("quickbooks", "xero", "sage", "file")
ACCOUNTING_TITLES = {
    "quickbooks": "QuickBooks Online",
    "xero": "Xero",
    "sage": "Sage Business Cloud Accounting",
    "file": "file export",
    "qbd": "QuickBooks Desktop",
}
ACCOUNTING_SECRET_KEYS = ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN")


# --- environment variables ----------------------------------------------------------------------


@dataclass(frozen=True)
class EnvVar:
    """One environment variable MCC reads: its name, what it is for, and whether it is set (never its value)."""

    name: str
    purpose: str
    required: bool = True
    is_set: bool = False
    problem: str = ""  # set but unusable, e.g. a key shorter than required


def _set_keys(prefix_name: str, keys: tuple[str, ...]) -> set[str]:
    """Which of MCC_<NAME>_<KEY> are set, read exactly as a sync reads them (environment or MCC_SECRETS_DIR)."""
    if not keys:
        return set()
    return set(read_secrets(prefix_name, (), keys))


def source_env(source: SourceConfig) -> list[EnvVar]:
    """The credentials this source reads, in the order the vendor module declares them."""
    collector = source.collector
    required, optional = tuple(collector.secret_keys), tuple(collector.optional_secret_keys)
    present = _set_keys(source.name, (*required, *optional))
    return [
        EnvVar(source.env_name(key), f"{collector.title} {_words(key)}", key in required, key in present)
        for key in (*required, *optional)
    ]


def accounting_env(kind: str) -> list[EnvVar]:
    """The credentials of the accounting target (none for a file export)."""
    if kind == "file":
        return []
    if kind == "qbd":  # no API credentials: the Web Connector logs in to `mcc qbwc serve`
        present = _set_keys(kind, ("USERNAME", "PASSWORD"))
        return [
            EnvVar(
                env_var(kind, "USERNAME"),
                "the Web Connector's user name for mcc qbwc serve",
                True,
                "USERNAME" in present,
            ),
            EnvVar(
                env_var(kind, "PASSWORD"),
                "the Web Connector's password for mcc qbwc serve",
                True,
                "PASSWORD" in present,
            ),
        ]
    present = _set_keys(kind, ACCOUNTING_SECRET_KEYS)
    title = ACCOUNTING_TITLES.get(kind, kind)
    purposes = {
        "CLIENT_ID": f"{title} app client id",
        "CLIENT_SECRET": f"{title} app client secret",
        "REFRESH_TOKEN": f"first {title} refresh token (later ones are kept encrypted in the database)",
    }
    return [
        EnvVar(env_var(kind, key), purposes[key], key != "REFRESH_TOKEN", key in present)
        for key in ACCOUNTING_SECRET_KEYS
    ]


def app_env() -> list[EnvVar]:
    """Keys the app itself needs."""
    env = Environment()
    cookie = env.cookie_key.get_secret_value() if env.cookie_key else ""
    secret = env.secret_key.get_secret_value() if env.secret_key else ""
    short = "shorter than 32 bytes" if cookie and len(cookie.encode()) < 32 else ""
    audit = os.environ.get(AUDIT_KEY_ENV, "")
    return [
        EnvVar(
            "MCC_COOKIE_KEY", "signs the app's sign-in cookies; at least 32 bytes", True, bool(cookie), short
        ),
        EnvVar(
            "MCC_SECRET_KEY", "encrypts the accounting refresh token kept in the database", True, bool(secret)
        ),
        EnvVar(
            AUDIT_KEY_ENV,
            "keys the audit log's chain (HMAC) so a database writer cannot rewrite it; at least 32 bytes",
            True,
            bool(audit),
            "shorter than 32 bytes" if audit and len(audit.encode()) < 32 else "",
        ),
    ]


def _words(key: str) -> str:
    return " ".join("API" if word == "API" else word.lower() for word in key.split("_"))


# --- sources list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceInfo:
    name: str
    kind: str
    title: str
    category: str
    base_url: str  # empty when the kind has no default and none is configured
    enabled: bool
    schedules: tuple[tuple[str, str], ...]  # (stream, schedule text)
    env: tuple[EnvVar, ...]


def describe_sources(config: Config) -> list[SourceInfo]:
    """Every configured source with its host, per-stream schedule and credential variables."""
    infos = []
    for source in config.sources:
        collector = source.collector
        schedules = tuple((stream, source.schedule_for(stream).text) for stream in collector.streams)
        infos.append(
            SourceInfo(
                source.name,
                source.kind,
                collector.title,
                collector.category,
                f"folder {source.csv['folder']}" if collector.reads_folder and source.csv else source.url,
                source.enabled,
                schedules,
                tuple(source_env(source)),
            )
        )
    return infos


# --- sources test -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceCheck:
    """The outcome of one connection check, written for a person (no secret ever appears in it)."""

    name: str
    kind: str
    ok: bool
    orgs_seen: int
    sample_orgs: tuple[str, ...]
    message: str
    hint: str | None
    seconds: float
    more_orgs: bool = False  # stopped reading after the first pages; there are more organisations
    missing_env: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()  # what the account answered for each assumed field (no public spec)


_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_REQUEST = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD) (/\S*)")


def test_source(config: Config, name: str, policy: HttpPolicy | None = None) -> SourceCheck:
    """Get a token and make one cheap read (the source's organisations, first pages only)."""
    policy = policy or CHECK_POLICY
    source = config.source(name)
    started = time.monotonic()

    def result(ok: bool, message: str, hint: str | None = None, **extra: Any) -> SourceCheck:
        return SourceCheck(
            source.name,
            source.kind,
            ok,
            extra.pop("orgs_seen", 0),
            extra.pop("sample_orgs", ()),
            redact(message),
            redact(hint) if hint else None,
            round(time.monotonic() - started, 3),
            **extra,
        )

    collector_class = source.collector
    missing = tuple(var.name for var in source_env(source) if var.required and not var.is_set)
    if missing:
        return result(
            False,
            f"missing environment variable(s): {', '.join(missing)}",
            "set them where MCC runs (or put files of those names in MCC_SECRETS_DIR); "
            f"where to create them: docs/sources/{source.kind}.md",
            missing_env=missing,
        )
    if collector_class.reads_folder:
        return _check_folder(source, collector_class, result)
    if not source.url and not collector_class.secret_keys:
        return result(True, f"{collector_class.title}: nothing to connect to (no host, no credentials)")
    if not source.url:
        return result(
            False,
            f"no base_url for source {source.name!r} in {config.path or 'mcc.toml'}",
            f"{collector_class.title} has no single host; {_base_url_hint(source.kind)}",
        )
    api = None
    collector: Any = collector_class  # the instance once made: vendor hints may use its settings
    names: list[str] = []
    first_org: str | None = None
    assumed: tuple[str, ...] = ()
    more = False
    try:
        collector = collector_class(source, source.secrets(), policy)
        api = collector.open_api()
        for org in collector.orgs(api):
            if api.page_count > CHECK_PAGES or len(names) >= CHECK_MAX_ORGS:
                more = True
                break
            names.append(org.name)
            first_org = first_org or org.external_id
        if collector.probes:
            assumed = tuple(redact(line) for line in probes.answers(api, collector.probes, first_org))
    except NotImplementedError:
        return result(False, f"{collector_class.title} sources have no connection to check")
    except AuthFailed as error:
        message, hint = _explain_auth(source, collector, str(error))
        return result(False, message, hint)
    except MccError as error:
        text = str(error)
        hint = _vendor_hint(collector, text)
        if hint is None and isinstance(error, SourceError) and "could not connect" in text:
            hint = f"check base_url ({source.url}); {_base_url_hint(source.kind)}"
        return result(False, text, hint)
    except Exception as error:  # a vendor module bug: say so plainly rather than crash the whole check
        return result(False, f"unexpected error: {type(error).__name__}: {error}")
    finally:
        if api is not None:
            api.close()
    sample = tuple(names[:SAMPLE_SIZE])
    plus = "+" if more else ""
    message = f"connected; {len(names)}{plus} organisation(s) seen"
    if sample:
        message += ": " + ", ".join(sample)
        if len(names) > len(sample) or more:
            message += f" and {len(names) - len(sample)}{plus} more"
    return result(
        True, message, None, orgs_seen=len(names), sample_orgs=sample, more_orgs=more, assumptions=assumed
    )


def _check_folder(
    source: SourceConfig, collector_class: Any, result: Callable[..., SourceCheck]
) -> SourceCheck:
    """A folder of exports (kind "csv"): read the file(s) a run would read, whole, and say what they hold."""
    api = None
    try:
        collector = collector_class(source, {}, CHECK_POLICY)
        api = collector.open_api()
        names = [org.name for org in collector.orgs(api)]
        files = api.page_count
    except MccError as error:
        return result(False, str(error), f"the file format and settings: docs/sources/{source.kind}.md")
    finally:
        if api is not None:
            api.close()
    sample = tuple(names[:SAMPLE_SIZE])
    message = f"read {files} file(s) in {collector.spec.folder}; {len(names)} organisation(s) seen"
    if sample:
        message += ": " + ", ".join(sample)
        if len(names) > len(sample):
            message += f" and {len(names) - len(sample)} more"
    return result(True, message, None, orgs_seen=len(names), sample_orgs=sample)


def test_sources(
    config: Config, names: list[str] | None = None, policy: HttpPolicy | None = None
) -> list[SourceCheck]:
    """Check the named sources, or every enabled one."""
    if not config.sources:
        raise ConfigError(
            f"no sources in {config.path or 'mcc.toml'}; add one (mcc init writes a starting file)"
        )
    chosen = names or [source.name for source in config.sources if source.enabled]
    if not chosen:
        raise ConfigError(f"every source in {config.path or 'mcc.toml'} is disabled (enabled = false)")
    return [test_source(config, name, policy) for name in chosen]


def test_accounting(config: Config, engine: Any) -> SourceCheck:
    """The accounting system: credentials, then every client's accounting id (format and existence)."""
    from accounting.check import check_customers

    kind = config.accounting.kind
    started = time.monotonic()
    missing = tuple(var.name for var in accounting_env(kind) if var.required and not var.is_set)
    if missing:
        return SourceCheck(
            "accounting",
            kind,
            False,
            0,
            (),
            f"missing environment variable(s): {', '.join(missing)}",
            "set them where MCC runs; see docs/accounting.md",
            round(time.monotonic() - started, 3),
            missing_env=missing,
        )
    outcome = check_customers(config, engine)
    return SourceCheck(
        "accounting",
        kind,
        outcome.ok,
        outcome.checked,
        (),
        redact(outcome.message),
        redact(outcome.hint) if outcome.hint else None,
        round(time.monotonic() - started, 3),
    )


def _explain_auth(source: SourceConfig, collector: Any, text: str) -> tuple[str, str | None]:
    """401 → the credentials; 403 on a path → a missing permission; plus the vendor's own hint."""
    status_match = _STATUS.search(text)
    status = int(status_match.group(1)) if status_match else None
    request = _REQUEST.search(text)
    vendor_hint = _vendor_hint(collector, text)
    names = " / ".join(source.env_name(key) for key in collector.secret_keys)
    credentials = f"credentials rejected: check {names}" if names else "credentials rejected"
    if status == 403 and request is not None and "token endpoint" not in text:
        return (
            f"the API user lacks permission for {request.group(1)}",
            vendor_hint
            or f"give the {collector.title} API credentials read access to it (docs/sources/{source.kind}.md)",
        )
    if "invalid_scope" in text:  # the standard OAuth answer when the client may not have a scope asked for
        return (
            f"the {collector.title} API client lacks a scope MCC asks for",
            vendor_hint or f"see docs/sources/{source.kind}.md for the scopes to grant",
        )
    if status in (400, 401, 403) or status is None:
        if vendor_hint:
            return credentials, vendor_hint
        if GUIDES.get(source.kind, Guide()).regional:
            return credentials, (
                f"if they are right, check that base_url ({source.url}) is the host the credentials belong to; "
                + _base_url_hint(source.kind)
            )
        return credentials, (
            "check that the values were copied whole and are still current (a regenerated secret ends the old one); "
            f"where to create them: docs/sources/{source.kind}.md"
        )
    return text, vendor_hint


def _vendor_hint(collector: Any, text: str) -> str | None:
    """A vendor module may explain its own errors with `permission_hint(error_text) -> str | None`."""
    explain = getattr(collector, "permission_hint", None)
    if explain is None:
        return None
    try:
        hint = explain(text)
    except Exception:  # a hint must never turn a clear failure into a crash
        return None
    return str(hint) if hint else None


# --- mcc init -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guide:
    """What a person needs beside each source in mcc.toml: the hosts to choose from, kind-specific keys."""

    hosts: tuple[str, ...] = ()  # commented lines listing regional or per-customer hosts
    example_base_url: str = ""  # shown (commented) when the kind has no default host
    auth_url: str = ""  # the default token host, when it differs from base_url
    extra: tuple[str, ...] = ()  # commented kind-specific settings
    regional: bool = False  # credentials belong to one of several hosts


# Hosts are from shared research of each vendor's published docs and SDKs (docs/sources/<kind>.md).
GUIDES: dict[str, Guide] = {
    "ninjaone": Guide(
        regional=True,
        hosts=(
            "NinjaOne instance: https://app.ninjarmm.com (US), https://us2.ninjarmm.com (US2),",
            "https://eu.ninjarmm.com (EU), https://ca.ninjarmm.com (Canada), https://oc.ninjarmm.com (Oceania),",
            "https://fed.ninjarmm.com (FedRAMP): use the host you sign in to.",
        ),
    ),
    "datto_rmm": Guide(
        regional=True,
        hosts=(
            "Datto RMM platform API host: https://<platform>-api.centrastage.net, platform one of",
            "pinotage, merlot, concord, vidal, zinfandel, syrah (the API URL shown next to your API keys).",
        ),
        example_base_url="https://merlot-api.centrastage.net",
    ),
    "m365": Guide(
        regional=True,
        hosts=(
            "Microsoft Graph: https://graph.microsoft.com/v1.0 (worldwide); US Government:",
            "https://graph.microsoft.us/v1.0 with auth_url https://login.microsoftonline.us;",
            "China (21Vianet): https://microsoftgraph.chinacloudapi.cn/v1.0 with auth_url https://login.chinacloudapi.cn.",
        ),
        auth_url="https://login.microsoftonline.com",
        extra=(
            "# Your partner tenant id: its customer tenants (GDAP/contracts) are read.",
            '# partner_tenant = "00000000-0000-0000-0000-000000000000"',
            "# More customer tenant ids to read (each must have consented to the app).",
            "# tenants = []",
            '# A group whose members feed the `group_members` metric, e.g. "Managed Users".',
            '# group = "Managed Users"',
        ),
    ),
    "huntress": Guide(hosts=("Huntress has one API host (https://api.huntress.io); no regional hosts.",)),
    "autotask": Guide(
        hosts=(
            "Autotask: keep the default zone lookup host (https://webservices.autotask.net/atservicesrest);",
            "MCC asks it for your tenant's zone (webservicesN.autotask.net) on every read.",
        ),
    ),
    "halopsa": Guide(
        regional=True,
        hosts=(
            "HaloPSA: your tenant's own host, e.g. https://yourcompany.halopsa.com (hosted: set MCC_<NAME>_TENANT).",
        ),
        example_base_url="https://yourcompany.halopsa.com",
    ),
    "rest": Guide(
        example_base_url="https://api.example.com",
        extra=(
            "# The API to read, declared: every key and three worked examples in docs/sources/rest.md.",
            "[sources.rest]",
            'path = "/v1/devices"',
            'auth = { type = "bearer" }',
            'paginator = { type = "page", page_param = "page", size_param = "per_page", size = 100 }',
            'records = "items"',
            'org = "organization_id"',
            'metrics = [{ name = "devices" }]',
        ),
    ),
    "csv": Guide(
        extra=(
            "# The folder of exports to read (files are only read, never moved): docs/sources/csv.md.",
            "[sources.csv]",
            'folder = "data/inbox/exports"',
            'glob = "*.csv"',
            "# newest: the newest matching file is the whole truth; all: every matching file, added up.",
            'files = "newest"',
            'metrics = ["seats"]',
            "# quantity: a quantity column; rows: each row is one entity.",
            'count = "quantity"',
            "# The header names of your export, where they differ from these.",
            '# columns = { organisation = "organisation", metric = "metric", quantity = "quantity", attributes = "attributes" }',
        ),
    ),
    "connectwise": Guide(
        regional=True,
        hosts=(
            "ConnectWise PSA API: https://api-<region>.myconnectwise.net/v4_6_release/apis/3.0, region one of",
            "na, eu, au (cloud), or https://<your server>/v4_6_release/apis/3.0 on premises.",
        ),
    ),
    "sentinelone": Guide(
        regional=True,
        hosts=(
            "Your SentinelOne console: https://<console>.sentinelone.net, e.g. https://usea1-acme.sentinelone.net.",
        ),
        example_base_url="https://usea1-example.sentinelone.net",
    ),
    "datto_saas": Guide(hosts=("Datto partner API: one host, https://api.datto.com; no regional hosts.",)),
    "pax8": Guide(
        hosts=("Pax8 partner API: https://api.pax8.com.",),
        extra=("# Token audience for the partner endpoints.", '# audience = "https://api.pax8.com"'),
    ),
    "ebillity": Guide(hosts=("eBillity Open API: one host, https://api.ebillity.com; no regional hosts.",)),
    "native": Guide(hosts=("Time entered in MCC itself: no host or credentials.",)),
}

ACCOUNTING_GUIDES: dict[str, tuple[str, ...]] = {
    "quickbooks": (
        "# QuickBooks Online API host (sandbox companies: https://sandbox-quickbooks.api.intuit.com).",
        '# base_url = "https://quickbooks.api.intuit.com"',
        "# Token host for the refresh-token flow.",
        '# auth_url = "https://oauth.platform.intuit.com"',
        "# REQUIRED: the QuickBooks company id (realmId), shown in the company settings.",
        '# realm_id = "9130350000000000"',
    ),
    "xero": (
        "# Xero Accounting API host.",
        '# base_url = "https://api.xero.com/api.xro/2.0"',
        "# Token host for the refresh-token flow.",
        '# auth_url = "https://identity.xero.com"',
        "# REQUIRED: the Xero organisation (tenantId from GET https://api.xero.com/connections).",
        '# tenant_id = "00000000-0000-0000-0000-000000000000"',
        "# Sales account code used for lines whose item has none.",
        '# income_account = "200"',
    ),
    "sage": (
        "# Sage Business Cloud Accounting API host.",
        '# base_url = "https://api.accounting.sage.com/v3.1"',
        "# Token host for the refresh-token flow.",
        '# auth_url = "https://oauth.accounting.sage.com"',
        "# The Sage business to invoice in (when the user can reach several).",
        '# business_id = ""',
        "# REQUIRED: the id of the sales ledger account used for invoice lines.",
        '# income_account = ""',
    ),
    "file": (
        "# Folder the exports are written to, and their format: csv, or iif for QuickBooks Desktop.",
        'path = "data/exports"',
        'format = "csv"',
    ),
}


@dataclass(frozen=True)
class SourceChoice:
    kind: str
    name: str


def parse_source_choice(text: str) -> SourceChoice:
    """`KIND` or `KIND:NAME` as given to `mcc init --source`."""
    kind, _, name = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in SOURCE_KINDS:
        raise ConfigError(
            f"--source {text!r}: unknown kind {kind!r}; expected one of {', '.join(sorted(SOURCE_KINDS))}"
        )
    name = name.strip() or kind
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", name):
        raise ConfigError(
            f"--source {text!r}: the name {name!r} must start with a letter and use only letters, digits, - and _"
        )
    return SourceChoice(kind, name)


def check_choices(choices: list[SourceChoice]) -> None:
    seen: set[str] = set()
    for choice in choices:
        if choice.name.lower() in seen:
            raise ConfigError(f"two sources would be named {choice.name!r}; give one a name with KIND:NAME")
        seen.add(choice.name.lower())


def render_config(choices: list[SourceChoice], accounting: str = "file") -> str:
    """A commented mcc.toml for these sources and accounting target; it loads with mcc.config.load_config."""
    if accounting not in ACCOUNTING_KINDS:
        raise ConfigError(f"--accounting {accounting!r}: expected one of {', '.join(ACCOUNTING_KINDS)}")
    check_choices(choices)
    lines = [
        "# mcc.toml: how Morton Command Center reaches your stack (full reference: docs/configuration.md).",
        "#",
        "# Credentials never go in this file. Each source reads MCC_<SOURCE NAME>_<KEY> from the environment",
        "# (upper-cased, '-' becomes '_'), or from files of those names in the folder MCC_SECRETS_DIR names.",
        "# `mcc sources list` shows which are set; `mcc sources test` checks each source can be read.",
        "",
        "# ISO 4217 code of the currency every price and invoice is in.",
        'currency = "USD"',
        "# Where counts, the billing book and decisions are kept. SQLite by default; for several workers use",
        '# PostgreSQL, e.g. "postgresql://mcc@db.internal/mcc". MCC_DATABASE_URL wins when set.',
        'database_url = "sqlite:///data/mcc.db"',
        "# How many past months a back-bill may reach (0-36).",
        "back_bill_months = 12",
    ]
    for choice in choices:
        lines += ["", *_source_block(choice)]
    unused = [kind for kind in sorted(SOURCE_KINDS) if kind not in {choice.kind for choice in choices}]
    if unused:
        lines += [
            "",
            "# Other kinds MCC can read; uncomment a block to add one (see docs/sources/<kind>.md).",
        ]
        for kind in unused:
            block = _source_block(SourceChoice(kind, kind), brief=True)
            lines += ["#", *(line if line.startswith("#") else f"# {line}" for line in block)]
    lines += ["", *_accounting_block(accounting), ""]
    return "\n".join(lines)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _source_block(choice: SourceChoice, brief: bool = False) -> list[str]:
    collector = SOURCE_KINDS[choice.kind]
    guide = GUIDES.get(choice.kind, Guide())
    keys = ", ".join(env_var(choice.name, key) for key in collector.secret_keys) or "none"
    lines = [
        f"# {collector.title} ({collector.category}); credentials: {keys}.",
        "[[sources]]",
    ]
    if not brief:
        lines.append("# Your name for this source: used in the billing book and in the env var names above.")
    lines += [f"name = {_toml_string(choice.name)}", f"kind = {_toml_string(choice.kind)}"]
    lines += [f"# {text}" for text in guide.hosts] if not brief or not collector.default_base_url else []
    if collector.default_base_url:
        lines.append(f"base_url = {_toml_string(collector.default_base_url)}")
    elif choice.kind != "native" and not collector.reads_folder:
        example = guide.example_base_url or "https://api.example.com"
        lines.append(f"# REQUIRED: base_url = {_toml_string(example)}")
    if brief:
        return lines
    if (
        not collector.secret_keys and not collector.default_base_url
    ):  # nothing to connect to (MCC's own timer)
        return [
            *lines,
            *_schedule_lines(collector),
            "# false keeps the entry but stops reading it.",
            "# enabled = true",
            *guide.extra,
        ]
    auth_default = collector.default_auth_url or guide.auth_url
    if auth_default:
        lines += [
            "# Token host, when it differs from base_url.",
            f"# auth_url = {_toml_string(auth_default)}",
        ]
    elif collector.secret_keys:
        host = collector.default_base_url or guide.example_base_url or "https://api.example.com"
        lines += [
            "# Token host, only when it differs from base_url (a proxy or the sandbox).",
            f"# auth_url = {_toml_string(host)}",
        ]
    lines += _schedule_lines(collector)
    lines += guide.extra
    if collector.category == "rmm":
        lines += [
            "# Devices silent longer than this many days are offered as exclusions.",
            "# offline_days = 30",
        ]
    lines += [
        f"# Client-side request limit per minute (default {collector.requests_per_minute}, the vendor's limit or less).",
        f"# rate_limit_per_minute = {collector.requests_per_minute}",
        "# false keeps the entry but stops reading it.",
        "# enabled = true",
    ]
    return lines


def _schedule_lines(collector: Any) -> list[str]:
    streams: dict[str, Any] = collector.streams
    defaults = ", ".join(f"{stream} {spec.default_schedule}" for stream, spec in streams.items())
    lines = [f"# How often to read it (default: {defaults}). One string sets every stream;"]
    if len(streams) == 1:
        (spec,) = streams.values()
        lines += [
            '# write "every 15 minutes", "every 6 hours", "hourly", "nightly" or "daily at 02:00".',
            f"# schedule = {_toml_string(spec.default_schedule)}",
        ]
    else:
        table = ", ".join(
            f"{stream} = {_toml_string(spec.default_schedule)}" for stream, spec in streams.items()
        )
        lines += ["# a table sets streams one by one.", f"# schedule = {{ {table} }}"]
    return lines


def _accounting_block(kind: str) -> list[str]:
    return [
        "# Where approved invoices go: quickbooks | xero | sage | file (a CSV or IIF file to import by hand).",
        "[accounting]",
        f"kind = {_toml_string(kind)}",
        *ACCOUNTING_GUIDES[kind],
        "# Days from invoice date to due date.",
        "# due_days = 30",
    ]


def _base_url_hint(kind: str) -> str:
    guide = GUIDES.get(kind)
    if guide is None or not guide.hosts:
        return f"see docs/sources/{kind}.md for the host to use"
    return " ".join(guide.hosts)


@dataclass(frozen=True)
class InitResult:
    path: Path
    sources: tuple[SourceChoice, ...]
    accounting: str
    env: tuple[tuple[str, tuple[EnvVar, ...]], ...]  # (heading, variables)


def init_config(
    path: Path, choices: list[SourceChoice], accounting: str = "file", force: bool = False
) -> InitResult:
    """Write a commented mcc.toml (never over an existing file unless `force`) and say which env vars to set."""
    text = render_config(choices, accounting)
    _validate(path, text)
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot write: {error.strerror or error}") from None
    return InitResult(path, tuple(choices), accounting, tuple(env_for(choices, accounting)))


def env_for(choices: list[SourceChoice], accounting: str) -> list[tuple[str, tuple[EnvVar, ...]]]:
    """The environment variables to set for these sources and accounting target, grouped for printing."""
    groups: list[tuple[str, tuple[EnvVar, ...]]] = []
    for choice in choices:
        source = SourceConfig(name=choice.name, kind=choice.kind)
        variables = tuple(source_env(source))
        if variables:
            groups.append((f"source {choice.name} ({source.collector.title})", variables))
    if accounting != "file":
        groups.append((f"accounting ({ACCOUNTING_TITLES[accounting]})", tuple(accounting_env(accounting))))
    groups.append(("the app", tuple(app_env())))
    return groups


def _validate(path: Path, text: str) -> None:
    """The file we are about to write must load; anything else is a bug in the template."""
    try:
        Config.model_validate(tomllib.loads(text))
    except Exception as error:  # pragma: no cover - a template bug, shown with its cause
        raise ConfigError(f"{path}: the generated configuration does not load: {error}") from None
