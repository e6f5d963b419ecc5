"""Reading a book file: TOML text in, plain validated lines out, or one BookError naming the file, the
line and the field. Nothing here touches the database; references to clients and products already in
the database are resolved when the book is applied (store.book)."""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from mcc.config import Config
from mcc.errors import BookError
from mcc.money import MAX_HOURS, MAX_QUANTITY, MAX_UNIT_PRICE, AmountTooLarge, parse_amount
from mcc.names import clean_name, mixed_scripts, name_key, name_problem
from store.book_toml import Locator
from store.frames import attr_text

POLICIES = ("end", "peak", "average")
CATEGORIES = ("rmm", "identity", "security", "backup", "distributor", "time", "psa", "other")
SECTIONS = ("products", "mappings", "clients", "contracts", "exclusions", "blocks")
NAME_FIELDS = ("name", "code", "client", "product")  # compared by name_key, so one visible line each
_PERCENT = re.compile(r"^([0-9]{1,3})(?:\.([0-9]{1,2}))?%$")
MAX_TOLERANCE_BP = 100_00  # a tolerance above 100 % would hide every gap
_TOML_AT = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$")


# --- where a value came from ----------------------------------------------------------------------


class Where(Protocol):
    """The place a line came from, able to word an error about one of its fields."""

    @property
    def label(self) -> str: ...

    def error(self, key: str | None, message: str) -> BookError: ...


@dataclass(frozen=True)
class TomlWhere:
    """`book.toml line 42: contracts[3].quantity: ...`"""

    file: str
    locator: Locator = field(repr=False)
    section: str | None
    index: int = 0

    @property
    def path(self) -> str:
        return f"{self.section}[{self.index}]" if self.section else ""

    @property
    def label(self) -> str:
        line = self.locator.section_line(self.section, self.index) if self.section else None
        return f"{self.path} (line {line})" if line else self.path

    def error(self, key: str | None, message: str) -> BookError:
        line = self.locator.key_line(self.section, self.index, key) if key else None
        if line is None and self.section:
            line = self.locator.section_line(self.section, self.index)
        elif line is None and key:
            line = self.locator.header_line(key)
        place = f"{self.file} line {line}" if line else self.file
        name = ".".join(part for part in (self.path, key) if part)
        return BookError(f"{place}: {name}: {message}" if name else f"{place}: {message}")


@dataclass(frozen=True)
class CsvWhere:
    """`contracts.csv row 14: quantity ...` (rows as a spreadsheet numbers them, header = row 1)."""

    file: str
    row: int

    @property
    def label(self) -> str:
        return f"row {self.row}"

    def error(self, key: str | None, message: str) -> BookError:
        return BookError(
            f"{self.file} row {self.row}: {key} {message}"
            if key
            else f"{self.file} row {self.row}: {message}"
        )


# --- the parsed book --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductLine:
    code: str
    name: str
    unit_price_cents: int
    unit_cost_cents: int | None
    policy: str
    tolerance_units: int
    tolerance_bp: int | None
    prorate: bool
    category: str | None
    where: Where = field(compare=False, repr=False)


@dataclass(frozen=True)
class MappingLine:
    product: str
    source: str
    metric: str
    filter: dict[str, Any]
    where: Where = field(compare=False, repr=False)


@dataclass(frozen=True)
class ClientLine:
    name: str
    accounting_id: str | None
    orgs: tuple[tuple[str, str], ...]  # (source, external id)
    where: Where = field(compare=False, repr=False)


@dataclass(frozen=True)
class ContractLine:
    client: str
    product: str
    quantity: int
    start: date
    end: date | None
    unit_price_cents: int | None
    where: Where = field(compare=False, repr=False)

    @property
    def span(self) -> str:
        return f"{self.start} to {self.end or 'open'}"


@dataclass(frozen=True)
class ExclusionLine:
    client: str
    source: str
    entity: str | None
    filter: dict[str, Any] | None
    reason: str
    where: Where = field(compare=False, repr=False)
    start: date | None = None  # applies to months ending on or after it; None: every month


@dataclass(frozen=True)
class BlockLine:
    client: str
    hours: Decimal
    start: date
    end: date | None
    rate_cents: int | None
    note: str | None
    where: Where = field(compare=False, repr=False)


@dataclass
class Book:
    currency: str | None = None
    products: list[ProductLine] = field(default_factory=list)
    mappings: list[MappingLine] = field(default_factory=list)
    clients: list[ClientLine] = field(default_factory=list)
    contracts: list[ContractLine] = field(default_factory=list)
    exclusions: list[ExclusionLine] = field(default_factory=list)
    blocks: list[BlockLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- decoding ---------------------------------------------------------------------------------------


def decode_text(raw: bytes, name: str, unit: str = "line") -> str:
    """UTF-8 (a leading byte-order mark is fine) and not empty, or a BookError naming the line (or row)."""
    if not raw.strip():
        raise BookError(f"{name}: the file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BookError(
            f"{name} {unit} {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8"
        ) from None


# --- field readers (shared with the contracts CSV) ---------------------------------------------------


def whole_number(value: Any, where: Where, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        if value > MAX_QUANTITY:
            raise where.error(key, f"must be at most {MAX_QUANTITY:,}, got {value!r}")
        return value
    raise where.error(key, f"must be a whole number ≥ 0, got {value!r}")


def amount(value: Any, where: Where, key: str, limit: Decimal = MAX_UNIT_PRICE) -> int:
    """A money amount given as a decimal string ("45.00"), in cents, at most `limit`; never a float."""
    if isinstance(value, float):
        raise where.error(
            key, f'must be a decimal string such as "45.00" (use a decimal string), got {value!r}'
        )
    if not isinstance(value, str) or not value.strip():
        raise where.error(key, f'must be a decimal string such as "45.00", got {value!r}')
    try:
        cents = parse_amount(value, field=key)
    except AmountTooLarge:
        raise where.error(key, f"must be at most {limit:,}, got {value!r}") from None
    except ValueError:
        if re.fullmatch(r"\s*-?[0-9]*\.[0-9]{3,}\s*", value):
            raise where.error(key, f"must have at most two decimal places, got {value!r}") from None
        raise where.error(key, f'must be a decimal amount such as "45.00", got {value!r}') from None
    if cents < 0:
        raise where.error(key, f"must not be negative, got {value!r}")
    if cents > limit * 100:
        raise where.error(key, f"must be at most {limit:,}, got {value!r}")
    return cents


def day(value: Any, where: Where, key: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*", value):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise where.error(key, f"must be a date written YYYY-MM-DD, got {value!r}")


def check_span(start: date, end: date | None, where: Where) -> None:
    if end is not None and end < start:
        raise where.error("end", f"is before start ({end} < {start})")


def check_overlaps(lines: list[ContractLine]) -> None:
    """Two lines for the same client and product may not cover the same day."""
    by_pair: dict[tuple[str, str], list[tuple[int, ContractLine]]] = defaultdict(list)
    for position, line in enumerate(lines):
        by_pair[(line.client, line.product)].append((position, line))
    for pair_lines in by_pair.values():
        ordered = sorted(pair_lines, key=lambda item: (item[1].start, item[0]))
        for (earlier_at, earlier), (later_at, later) in zip(ordered, ordered[1:], strict=False):
            if earlier.end is None or earlier.end >= later.start:
                first, second = (earlier, later) if earlier_at < later_at else (later, earlier)
                raise second.where.error(
                    "start",
                    f"overlaps {first.where.label} for {later.client!r} / {later.product!r} "
                    f"({first.span} and {second.span}); give the earlier line an end before the later start",
                )


# --- the TOML book ------------------------------------------------------------------------------------


class _Entry:
    """One `[[section]]` table being read."""

    def __init__(self, where: TomlWhere, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        self.where = where
        self.data = data
        for key in data:
            if key not in allowed:
                raise where.error(key, f"unknown field (expected {', '.join(allowed)})")

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, *, required: bool = True, limit: int = 200) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.where.error(key, "is missing")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and key in ("accounting_id", "entity"):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.where.error(key, f"must be a non-empty string, got {value!r}")
        if len(value) > limit:
            raise self.where.error(key, f"is longer than {limit} characters")
        return checked_text(value, self.where, key)

    def required(self, key: str) -> Any:
        if key not in self.data:
            raise self.where.error(key, "is missing")
        return self.data[key]

    def source(self, key: str, config: Config) -> str:
        name = self.text(key, limit=40)
        assert name is not None
        return check_source(name, config, self.where, key)


def checked_text(value: str, where: Where, key: str) -> str:
    """A name field cleaned for storage (NFC, spaces trimmed), or an error for control/invisible characters;
    any other text field only refuses NUL, which no database column or terminal keeps intact."""
    if key in NAME_FIELDS:
        problem = name_problem(value)
        if problem:
            raise where.error(key, f"{problem}, got {value!r}")
        return clean_name(value)
    if "\x00" in value:
        raise where.error(key, f"contains a NUL character, got {value!r}")
    return value


def check_source(name: str, config: Config, where: Where, key: str) -> str:
    if name in config.source_names:
        return name
    if not config.source_names:
        raise where.error(
            key,
            f"unknown source {name!r}: no sources are configured; add it to [[sources]] in mcc.toml first",
        )
    raise where.error(
        key,
        f"unknown source {name!r} (sources in mcc.toml: {', '.join(config.source_names)}); "
        "add it to [[sources]] in mcc.toml first",
    )


def _attribute_value(value: Any) -> bool:
    """A value a source's attribute can have: text, true/false, or a whole number (never a float)."""
    return (isinstance(value, str) and value != "") or isinstance(value, int)  # bool is an int


def _attribute_filter(value: Any, where: Where, key: str) -> dict[str, Any]:
    """`{ node_class = ["WINDOWS_WORKSTATION", "MAC"], enabled = true, licensed = true }`"""
    if not isinstance(value, dict):
        raise where.error(key, f'must be a table such as {{ node_class = ["MAC"] }}, got {value!r}')
    for attr, wanted in value.items():
        single = _attribute_value(wanted)
        several = isinstance(wanted, list) and wanted and all(_attribute_value(v) for v in wanted)
        if not (single or several):
            raise where.error(
                key,
                f"{attr} must be a string, true or false, a whole number, or a non-empty list of them, "
                f"got {wanted!r}",
            )
    return dict(value)


def _with_billing_defaults(
    config: Config, source: str, metric: str, given: dict[str, Any], where: Where, warnings: list[str]
) -> dict[str, Any]:
    """A metric whose kind names safe billing defaults (Microsoft 365 `users`: enabled, licensed, own
    mailbox) bills only those when the mapping has no `where`; a `where` that leaves an attribute open or
    widens it is kept as written, with a warning naming what it also counts."""
    defaults: dict[str, Any] = getattr(config.source(source).collector, "billing_defaults", {}).get(
        metric, {}
    )
    if not defaults:
        return given
    safe = ", ".join(f"{attr} = {_toml_text(wanted)}" for attr, wanted in defaults.items())
    if not given:
        warnings.append(
            f"{where.label}: {source} {metric} has no where, so it counts only {safe} (the safe default); "
            "name an attribute in where to count others"
        )
        return dict(defaults)
    open_ = []
    for attr, wanted in defaults.items():
        allowed = given.get(attr)
        values = allowed if isinstance(allowed, list) else [allowed]
        if allowed is None or {attr_text(v) for v in values} != {attr_text(wanted)}:
            open_.append(attr)
    if open_:
        warnings.append(
            f"{where.label}: {source} {metric} where leaves {', '.join(open_)} open, so it also bills "
            f"accounts outside {safe} (disabled, unlicensed, shared or room mailboxes); check that is meant"
        )
    return given


def _toml_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value).replace("'", '"')


def _too_deep_line(text: str, limit: int = 100) -> int:
    """The line where brackets first nest deeper than any book needs (a book nests two or three)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
            if depth > limit:
                return number
    return 1


def parse_book(text: str, name: str, config: Config) -> Book:
    """Parse and validate a book file's text. Raises BookError on the first problem found."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise BookError(
            f"{name} line {_too_deep_line(text)}: not valid TOML: arrays or tables nested too deeply"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_AT.match(message)
        if match:
            raise BookError(
                f"{name} line {match.group(2)}: not valid TOML: {match.group(1)} (column {match.group(3)})"
            ) from None
        last = len(text.rstrip("\n").splitlines())
        raise BookError(f"{name} line {last}: not valid TOML: {message}") from None
    if not data:
        raise BookError(f"{name}: the file is empty")
    locator = Locator(text)
    top = TomlWhere(name, locator, None)
    book = Book()
    for key, value in data.items():
        if key == "currency":
            if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
                raise top.error(key, f'must be a three-letter currency code such as "USD", got {value!r}')
            if value != config.currency:
                raise top.error(key, f"is {value} but mcc.toml uses {config.currency}")
            book.currency = value
        elif key not in SECTIONS:
            raise top.error(
                key, "unknown section (expected currency, " + ", ".join(f"[[{s}]]" for s in SECTIONS) + ")"
            )
        elif not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise top.error(key, f"must be written as [[{key}]] tables")
    for section in SECTIONS:
        for index, table in enumerate(data.get(section, []), start=1):
            where = TomlWhere(name, locator, section, index)
            _READERS[section](book, where, table, config)
    _check_book(book)
    return book


def _read_product(book: Book, where: TomlWhere, data: dict[str, Any], config: Config) -> None:
    entry = _Entry(
        where, data, ("code", "name", "unit_price", "unit_cost", "policy", "tolerance", "category", "prorate")
    )
    code = entry.text("code", limit=60)
    name = entry.text("name")
    assert code is not None and name is not None
    price = amount(entry.required("unit_price"), where, "unit_price")
    cost = amount(data["unit_cost"], where, "unit_cost") if entry.has("unit_cost") else None
    policy = data.get("policy", "end")
    if policy not in POLICIES:
        raise where.error("policy", f"must be one of {', '.join(POLICIES)}, got {policy!r}")
    units, basis_points = _tolerance(data.get("tolerance", 0), where)
    category = data.get("category")
    if category is not None and category not in CATEGORIES:
        raise where.error("category", f"must be one of {', '.join(CATEGORIES)}, got {category!r}")
    prorate = data.get("prorate", False)
    if not isinstance(prorate, bool):
        raise where.error("prorate", f"must be true or false, got {prorate!r}")
    book.products.append(
        ProductLine(code, name, price, cost, policy, units, basis_points, prorate, category, where)
    )


def _tolerance(value: Any, where: Where) -> tuple[int, int | None]:
    if isinstance(value, str):
        match = _PERCENT.match(value.strip())
        if match:
            basis_points = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
            if basis_points > MAX_TOLERANCE_BP:
                raise where.error("tolerance", f"must be at most 100%, got {value!r}")
            return 0, basis_points
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        if value > MAX_QUANTITY:
            raise where.error("tolerance", f"must be at most {MAX_QUANTITY:,} units, got {value!r}")
        return value, None
    raise where.error(
        "tolerance", f'must be a whole number of units or a percentage string such as "2%", got {value!r}'
    )


def _read_mapping(book: Book, where: TomlWhere, data: dict[str, Any], config: Config) -> None:
    entry = _Entry(where, data, ("product", "source", "metric", "where"))
    product, metric = entry.text("product", limit=60), entry.text("metric", limit=40)
    assert product is not None and metric is not None
    source = entry.source("source", config)
    _check_metric(config, source, metric, where)
    attribute_filter = _attribute_filter(data["where"], where, "where") if entry.has("where") else {}
    attribute_filter = _with_billing_defaults(config, source, metric, attribute_filter, where, book.warnings)
    book.mappings.append(MappingLine(product, source, metric, attribute_filter, where))


def _check_metric(config: Config, source: str, metric: str, where: Where) -> None:
    """A kind that declares its metrics rejects a misspelt one (it would silently count nothing)."""
    streams = getattr(config.source(source).collector, "streams", {})
    known = sorted({m for stream in streams.values() for m in getattr(stream, "metrics", ())})
    if known and metric not in known:
        raise where.error("metric", f"{source!r} does not report {metric!r} (it reports {', '.join(known)})")


_ACCOUNTING_ID_FORMATS = {
    # Xero ContactID: a UUID (the Accounting API spec's `format: uuid`).
    "xero": (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "a Xero ContactID (a UUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301)",
    ),
    # QuickBooks Online Customer Id: a number.
    "quickbooks": (re.compile(r"[1-9][0-9]*"), "a QuickBooks customer Id (a number such as 58)"),
}


def accounting_id_problem(kind: str, accounting_id: str) -> str | None:
    """Why this client's accounting id cannot name a customer in the configured accounting system."""
    rule = _ACCOUNTING_ID_FORMATS.get(kind)
    if rule is None or rule[0].fullmatch(accounting_id):
        return None
    return f"{accounting_id!r} is not {rule[1]}, as [accounting] kind = {kind!r} needs"


def _read_client(book: Book, where: TomlWhere, data: dict[str, Any], config: Config) -> None:
    entry = _Entry(where, data, ("name", "accounting_id", "orgs"))
    name = entry.text("name")
    assert name is not None
    accounting_id = entry.text("accounting_id", required=False, limit=100)
    if accounting_id is not None:
        problem = accounting_id_problem(config.accounting.kind, accounting_id)
        if problem:
            raise where.error("accounting_id", problem)
    orgs: list[tuple[str, str]] = []
    raw_orgs = data.get("orgs", {})
    if not isinstance(raw_orgs, dict):
        raise where.error("orgs", f'must be a table such as {{ ninja = "12" }}, got {raw_orgs!r}')
    for source, ids in raw_orgs.items():
        check_source(source, config, where, "orgs")
        for external_id in ids if isinstance(ids, list) and ids else [ids]:
            if isinstance(external_id, int) and not isinstance(external_id, bool):
                external_id = str(external_id)
            if not isinstance(external_id, str) or not external_id.strip():
                raise where.error(
                    "orgs", f"{source} must be an id string or a list of id strings, got {ids!r}"
                )
            orgs.append((source, external_id))
    book.clients.append(ClientLine(name, accounting_id, tuple(orgs), where))


def _read_contract(book: Book, where: TomlWhere, data: dict[str, Any], config: Config) -> None:
    entry = _Entry(where, data, ("client", "product", "quantity", "start", "end", "unit_price"))
    client, product = entry.text("client"), entry.text("product", limit=60)
    assert client is not None and product is not None
    quantity = whole_number(entry.required("quantity"), where, "quantity")
    start = day(entry.required("start"), where, "start")
    end = day(data["end"], where, "end") if entry.has("end") else None
    check_span(start, end, where)
    price = amount(data["unit_price"], where, "unit_price") if entry.has("unit_price") else None
    book.contracts.append(ContractLine(client, product, quantity, start, end, price, where))


def _read_exclusion(book: Book, where: TomlWhere, data: dict[str, Any], config: Config) -> None:
    entry = _Entry(where, data, ("client", "source", "entity", "where", "reason", "start"))
    client = entry.text("client")
    assert client is not None
    source = entry.source("source", config)
    if entry.has("entity") == entry.has("where"):
        raise where.error(None, "give either entity (one external id) or where (a rule), not both or neither")
    entity = entry.text("entity", required=False)
    attribute_filter = _attribute_filter(data["where"], where, "where") if entry.has("where") else None
    if attribute_filter == {}:
        raise where.error(
            "where", "must name at least one attribute (an empty rule would exclude everything)"
        )
    reason = entry.text("reason", limit=2000)
    assert reason is not None
    start = day(data["start"], where, "start") if entry.has("start") else None
    book.exclusions.append(ExclusionLine(client, source, entity, attribute_filter, reason, where, start))


def _read_block(book: Book, where: TomlWhere, data: dict[str, Any], config: Config) -> None:
    entry = _Entry(where, data, ("client", "hours", "start", "end", "rate", "note"))
    client = entry.text("client")
    assert client is not None
    hours = _hours(entry.required("hours"), where)
    start = day(entry.required("start"), where, "start")
    end = day(data["end"], where, "end") if entry.has("end") else None
    check_span(start, end, where)
    rate = amount(data["rate"], where, "rate") if entry.has("rate") else None
    note = entry.text("note", required=False, limit=2000)
    book.blocks.append(BlockLine(client, hours, start, end, rate, note, where))


def _hours(value: Any, where: Where) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", value.strip()):
        try:
            hours = Decimal(value.strip())
        except InvalidOperation:
            pass
        else:
            if hours > MAX_HOURS:
                raise where.error("hours", f"must be at most {MAX_HOURS:,} hours, got {value!r}")
            if hours > 0:
                return hours
    raise where.error("hours", f'must be a positive number of hours such as 10 or "7.5", got {value!r}')


_READERS = {
    "products": _read_product,
    "mappings": _read_mapping,
    "clients": _read_client,
    "contracts": _read_contract,
    "exclusions": _read_exclusion,
    "blocks": _read_block,
}


def _check_book(book: Book) -> None:
    """Checks across lines of the file: duplicates, one org per client, overlapping contract lines."""
    _no_look_alikes([(p.code, p.where) for p in book.products], "code", "product code")
    _no_look_alikes([(c.name, c.where) for c in book.clients], "name", "client")
    for label, names in (
        ("client", [(c.name, c.where) for c in book.clients]),
        ("product", [(p.code, p.where) for p in book.products]),
    ):
        for name, where in names:
            scripts = mixed_scripts(name)
            if scripts:
                book.warnings.append(
                    f"{where.label}: {label} {name!r} mixes {' and '.join(s.title() for s in scripts)} "
                    "letters; check it is not a look-alike of another name"
                )
    owner: dict[tuple[str, str], ClientLine] = {}
    for client in book.clients:
        for org in client.orgs:
            if org in owner:
                other = owner[org]
                what = "twice" if other is client else f"for {other.name!r} ({other.where.label}) too"
                raise client.where.error(
                    "orgs", f"{org[0]} org {org[1]!r} is listed {what}; an org bills to one client"
                )
            owner[org] = client
    _no_duplicates(
        [((m.product, m.source, m.metric, repr(sorted(m.filter.items()))), m.where) for m in book.mappings],
        None,
        "mapping",
    )
    _no_duplicates(
        [
            ((e.client, e.source, e.entity, repr(sorted((e.filter or {}).items())), e.reason), e.where)
            for e in book.exclusions
        ],
        None,
        "exclusion",
    )
    check_overlaps(book.contracts)


def _no_look_alikes(names: list[tuple[str, Where]], field_name: str, what: str) -> None:
    """Two names that compare equal after normalising (case, spacing, Unicode forms) are one name twice."""
    seen: dict[str, tuple[str, Where]] = {}
    for name, where in names:
        key = name_key(name)
        if key in seen:
            first, first_where = seen[key]
            if first.casefold() == name.casefold():
                raise where.error(field_name, f"duplicate {what}: the same as {first_where.label}")
            raise where.error(
                field_name,
                f"duplicate {what}: {name!r} is the same name as {first!r} ({first_where.label}) once "
                "case, spacing and Unicode forms are ignored; use one spelling",
            )
        seen[key] = (name, where)


def _no_duplicates(keys: list[tuple[Any, Where]], field_name: str | None, what: str) -> None:
    seen: dict[Any, Where] = {}
    for key, where in keys:
        if key in seen:
            raise where.error(field_name, f"duplicate {what}: the same as {seen[key].label}")
        seen[key] = where
