"""The billing book in and out: `import_book` upserts a TOML book all-or-nothing, `export_book` writes
the same shape back deterministically, and `import_file` picks the reader by the file's suffix.

Import semantics: products by code (their mappings replaced), clients by name (their org map
replaced), contract lines per client × product replaced by the book's lines, exclusions matched by
content (new ones added, active ones of the book's clients that the book no longer lists revoked),
hour blocks per client replaced. Nothing the book does not mention is touched.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mcc.config import Config
from mcc.errors import BookError
from mcc.money import to_str
from mcc.names import name_key
from mcc.permissions import Actor, require
from store.audit import record_event
from store.book_parse import (
    BlockLine,
    Book,
    ClientLine,
    ContractLine,
    ExclusionLine,
    ProductLine,
    Where,
    decode_text,
    parse_book,
)
from store.book_toml import TomlValue, toml_document
from store.db import reading, transaction
from store.models import Client, ClientOrg, Contract, Exclusion, HourBlock, Mapping, Product
from store.types import utcnow

BookInput = Path | str | bytes


@dataclass
class ImportSummary:
    """What one import changed; also the payload of its audit event."""

    file: str
    kind: str = "book"
    warnings: list[str] = field(default_factory=list)
    products_added: int = 0
    products_updated: int = 0
    mappings_added: int = 0
    mappings_removed: int = 0
    clients_added: int = 0
    clients_updated: int = 0
    orgs_added: int = 0
    orgs_removed: int = 0
    contracts_added: int = 0
    contracts_removed: int = 0
    contracts_closed: int = 0
    exclusions_added: int = 0
    exclusions_revoked: int = 0
    blocks_added: int = 0
    blocks_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        if not values["warnings"]:
            del values["warnings"]
        return values

    @property
    def changed(self) -> bool:
        return any(v for k, v in self.as_dict().items() if k not in ("file", "kind", "warnings"))

    def describe(self) -> str:
        """One line for people: `book.toml: 2 products added, 1 client updated, ...`."""
        parts = []
        for name, value in self.as_dict().items():
            if name not in ("file", "kind", "warnings") and value:
                noun, verb = name.split("_")
                parts.append(f"{value} {noun.removesuffix('s') if value == 1 else noun} {verb}")
        return f"{self.file}: " + (", ".join(parts) if parts else "no changes")


# --- public entry points ------------------------------------------------------------------------------


def import_file(
    engine: Engine, config: Config, source: BookInput, actor: Actor, *, name: str | None = None
) -> ImportSummary:
    """Import a book (`.toml`) or a contracts sheet (`.csv`), chosen by the file name's suffix.

    Args:
        source: a path, or the uploaded file's bytes (then `name` is its file name).
    """
    from store.book_csv import import_contracts_csv

    display = name or (str(source) if isinstance(source, Path) else None)
    if display is None:
        raise BookError("a file name ending in .toml or .csv is needed to tell a book from a contracts sheet")
    suffix = Path(display).suffix.lower()
    if suffix == ".toml":
        return import_book(engine, config, source, actor, name=name)
    if suffix == ".csv":
        return import_contracts_csv(engine, config, source, actor, name=name)
    raise BookError(f"{display}: expected a book (.toml) or a contracts sheet (.csv)")


def read_input(source: BookInput, name: str | None, default_name: str, unit: str = "line") -> tuple[str, str]:
    """(display name, text) from a path, bytes or text; empty, unreadable or non-UTF-8 input is a BookError."""
    if isinstance(source, Path):
        display = name or str(source)
        try:
            raw = source.read_bytes()
        except FileNotFoundError:
            raise BookError(f"{display}: no such file") from None
        except OSError as exc:
            raise BookError(f"{display}: cannot be read ({exc.strerror})") from None
    elif isinstance(source, bytes):
        display, raw = name or default_name, source
    else:
        display, raw = name or default_name, source.encode("utf-8")
    return display, decode_text(raw, display, unit)


def import_book(
    engine: Engine, config: Config, source: BookInput, actor: Actor, *, name: str | None = None
) -> ImportSummary:
    """Upsert a whole TOML book in one transaction, with one `book.import` audit event; all or nothing.

    Args:
        source: a Path to read, the file's bytes, or its text.
        name: the file name to use in messages (defaults to the path, or "book.toml").
    """
    require(actor, "admin", "import the billing book")
    display, text = read_input(source, name, "book.toml")
    book = parse_book(text, display, config)
    summary = ImportSummary(file=display, warnings=list(book.warnings))
    with transaction(engine) as session:
        _apply(session, config, book, actor, summary)
        record_event(
            session,
            actor=actor.username,
            action="book.import",
            entity="book",
            entity_id=display,
            payload=summary.as_dict(),
        )
    return summary


def export_book(engine: Engine, currency: str) -> str:
    """The whole book as TOML: sorted, fixed key order, so export → import → export is byte-identical."""
    with reading(engine) as session:
        return _export(session, currency)


# --- applying ------------------------------------------------------------------------------------------


def canonical_filter(value: dict[str, Any] | None) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def lookup(names: dict[str, Any], wanted: str, where: Where, key: str, what: str) -> Any:
    """names[wanted], or an error naming the line with the nearest known name as a hint."""
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.6)
    folded = [n for n in names if name_key(n) == name_key(wanted)]
    hint = f" (did you mean {(folded or close)[0]!r}?)" if folded or close else ""
    raise where.error(key, f"names an unknown {what} {wanted!r}{hint}")


def refuse_look_alike(existing: Any, wanted: str, where: Where, key: str, what: str) -> None:
    """A new name that equals a stored one once normalised would be a second record for the same thing."""
    stored = {name_key(n): n for n in existing}
    other = stored.get(name_key(wanted))
    if other is not None and other != wanted:
        raise where.error(
            key,
            f"{what} {wanted!r} is the same name as the existing {what} {other!r} once case, spacing and "
            f"Unicode forms are ignored; write it as {other!r} (or rename the existing one first)",
        )


def _apply(session: Session, config: Config, book: Book, actor: Actor, summary: ImportSummary) -> None:
    products = _apply_products(session, config, book, summary)
    clients = _apply_clients(session, book, summary)
    _apply_contracts(session, book, clients, products, actor, summary)
    _apply_exclusions(session, book, clients, actor, summary)
    _apply_blocks(session, book, clients, summary)


def _inferred_category(config: Config, product: ProductLine, book: Book) -> str:
    first = next((m for m in book.mappings if m.product == product.code), None)
    if first is None:
        return "other"
    category = getattr(config.source(first.source).collector, "category", None)
    return category if isinstance(category, str) and category else "other"


def _apply_products(
    session: Session, config: Config, book: Book, summary: ImportSummary
) -> dict[str, Product]:
    products = {p.code: p for p in session.scalars(select(Product))}
    for line in book.products:
        values = {
            "name": line.name,
            "unit_price_cents": line.unit_price_cents,
            "unit_cost_cents": line.unit_cost_cents,
            "policy": line.policy,
            "tolerance_units": line.tolerance_units,
            "tolerance_bp": line.tolerance_bp,
            "prorate": line.prorate,
            "category": line.category or _inferred_category(config, line, book),
        }
        product = products.get(line.code)
        if product is None:
            refuse_look_alike(products, line.code, line.where, "code", "product")
            product = products[line.code] = Product(code=line.code, **values)
            session.add(product)
            summary.products_added += 1
        elif any(getattr(product, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(product, key, value)
            summary.products_updated += 1
    session.flush()

    wanted: dict[str, list[tuple[str, str, str]]] = {line.code: [] for line in book.products}
    for mapping in book.mappings:
        lookup(products, mapping.product, mapping.where, "product", "product")
        wanted.setdefault(mapping.product, []).append(
            (mapping.source, mapping.metric, canonical_filter(mapping.filter))
        )
    current: dict[int, list[Mapping]] = defaultdict(list)
    for row in session.scalars(select(Mapping).order_by(Mapping.id)):
        current[row.product_id].append(row)
    for code, lines in wanted.items():
        product = products[code]
        existing = current[product.id]
        if [(m.source, m.metric, canonical_filter(m.where)) for m in existing] == lines:
            continue
        for mapping_row in existing:
            session.delete(mapping_row)
        summary.mappings_removed += len(existing)
        for source, metric, filter_json in lines:
            session.add(
                Mapping(product_id=product.id, source=source, metric=metric, where=json.loads(filter_json))
            )
        summary.mappings_added += len(lines)
    return products


def _apply_clients(session: Session, book: Book, summary: ImportSummary) -> dict[str, Client]:
    clients = {c.name: c for c in session.scalars(select(Client))}
    changed: set[str] = set()
    added: set[str] = set()
    for line in book.clients:
        client = clients.get(line.name)
        if client is None:
            refuse_look_alike(clients, line.name, line.where, "name", "client")
            client = clients[line.name] = Client(name=line.name, accounting_id=line.accounting_id)
            session.add(client)
            added.add(line.name)
        elif client.accounting_id != line.accounting_id:
            client.accounting_id = line.accounting_id
            changed.add(line.name)
    session.flush()

    # Orgs: drop every row the book no longer wants where it is (including an org the book moves
    # to another client), flush, then add the missing ones, so the (source, id) key never clashes.
    wanted = {org: clients[line.name].id for line in book.clients for org in line.orgs}
    book_client_ids = {clients[line.name].id for line in book.clients}
    existing = list(session.scalars(select(ClientOrg).order_by(ClientOrg.id)))
    present: set[tuple[tuple[str, str], int]] = set()
    by_id = {c.id: c for c in clients.values()}
    for row in existing:
        org = (row.source, row.external_id)
        moved_away = org in wanted and wanted[org] != row.client_id
        dropped = row.client_id in book_client_ids and org not in wanted
        if moved_away or dropped:
            session.delete(row)
            summary.orgs_removed += 1
            changed.add(by_id[row.client_id].name)
        else:
            present.add((org, row.client_id))
    session.flush()
    for line in book.clients:
        client = clients[line.name]
        for source, external_id in line.orgs:
            if ((source, external_id), client.id) not in present:
                session.add(ClientOrg(client_id=client.id, source=source, external_id=external_id))
                summary.orgs_added += 1
                changed.add(line.name)
    summary.clients_added = len(added)
    summary.clients_updated = len(changed - added)
    session.flush()
    return clients


def _apply_contracts(
    session: Session,
    book: Book,
    clients: dict[str, Client],
    products: dict[str, Product],
    actor: Actor,
    summary: ImportSummary,
) -> None:
    wanted: dict[tuple[int, int], list[ContractLine]] = defaultdict(list)
    for line in book.contracts:
        client = lookup(clients, line.client, line.where, "client", "client")
        product = lookup(products, line.product, line.where, "product", "product")
        wanted[(client.id, product.id)].append(line)
    current: dict[tuple[int, int], list[Contract]] = defaultdict(list)
    for row in session.scalars(select(Contract).order_by(Contract.id)):
        current[(row.client_id, row.product_id)].append(row)
    for pair, lines in wanted.items():
        client_id, product_id = pair
        book_keys = {(c.start, c.end, c.quantity, c.unit_price_cents) for c in lines}
        keep: set[tuple[Any, ...]] = set()
        for row in current[pair]:
            key = (row.start, row.end, row.quantity, row.unit_price_cents)
            if key in book_keys and key not in keep:
                keep.add(key)
            else:
                session.delete(row)
                summary.contracts_removed += 1
        for line in lines:
            if (line.start, line.end, line.quantity, line.unit_price_cents) not in keep:
                session.add(
                    Contract(
                        client_id=client_id,
                        product_id=product_id,
                        quantity=line.quantity,
                        unit_price_cents=line.unit_price_cents,
                        start=line.start,
                        end=line.end,
                        created_by=actor.username,
                    )
                )
                summary.contracts_added += 1


def _exclusion_key(
    client_id: int,
    source: str,
    entity: str | None,
    filter_: dict[str, Any] | None,
    reason: str,
    start: date | None,
) -> tuple[Any, ...]:
    canonical = canonical_filter(filter_) if filter_ is not None else None
    return (client_id, source, entity, canonical, reason, start)


def _apply_exclusions(
    session: Session, book: Book, clients: dict[str, Client], actor: Actor, summary: ImportSummary
) -> None:
    wanted: dict[tuple[Any, ...], ExclusionLine] = {}
    for line in book.exclusions:
        client = lookup(clients, line.client, line.where, "client", "client")
        key = _exclusion_key(client.id, line.source, line.entity, line.filter, line.reason, line.start)
        wanted[key] = line
    scope = {clients[c.name].id for c in book.clients} | {key[0] for key in wanted}
    if not scope:
        return
    found: set[tuple[Any, ...]] = set()
    now = utcnow()
    active = select(Exclusion).where(Exclusion.client_id.in_(scope), Exclusion.revoked_at.is_(None))
    for row in session.scalars(active.order_by(Exclusion.id)):
        key = _exclusion_key(
            row.client_id, row.source, row.entity_external_id, row.where, row.reason, row.start
        )
        if key in wanted and key not in found:
            found.add(key)
        else:
            row.revoked_at, row.revoked_by = now, actor.username
            summary.exclusions_revoked += 1
    for key, line in wanted.items():
        if key not in found:
            session.add(
                Exclusion(
                    client_id=key[0],
                    source=line.source,
                    entity_external_id=line.entity,
                    where=line.filter,
                    reason=line.reason,
                    author=actor.username,
                    start=line.start,
                )
            )
            summary.exclusions_added += 1


def _block_key(line: BlockLine | HourBlock) -> tuple[Any, ...]:
    return (line.hours, line.start, line.end, line.rate_cents, line.note)


def _apply_blocks(session: Session, book: Book, clients: dict[str, Client], summary: ImportSummary) -> None:
    wanted: dict[int, list[BlockLine]] = defaultdict(list)
    for line in book.blocks:
        wanted[lookup(clients, line.client, line.where, "client", "client").id].append(line)
    current: dict[int, list[HourBlock]] = defaultdict(list)
    for row in session.scalars(select(HourBlock).order_by(HourBlock.id)):
        current[row.client_id].append(row)
    for client_id, lines in wanted.items():
        rows = current[client_id]
        if Counter(map(_block_key, lines)) == Counter(map(_block_key, rows)):
            continue
        for row in rows:
            session.delete(row)
        summary.blocks_removed += len(rows)
        for line in lines:
            session.add(
                HourBlock(
                    client_id=client_id,
                    hours=line.hours,
                    start=line.start,
                    end=line.end,
                    rate_cents=line.rate_cents,
                    note=line.note,
                )
            )
        summary.blocks_added += len(lines)


# --- exporting -----------------------------------------------------------------------------------------


def _tolerance_value(product: Product) -> TomlValue:
    if product.tolerance_bp is not None:
        whole, rest = divmod(product.tolerance_bp, 100)
        return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"
    return product.tolerance_units


Table = list[tuple[str, Any]]


def _export(session: Session, currency: str) -> str:
    products = sorted(session.scalars(select(Product)), key=lambda p: p.code)
    code_of = {p.id: p.code for p in products}
    clients = sorted(session.scalars(select(Client)), key=lambda c: c.name)
    name_of = {c.id: c.name for c in clients}

    product_tables: list[Table] = [
        [
            ("code", p.code),
            ("name", p.name),
            ("unit_price", to_str(p.unit_price_cents)),
            ("unit_cost", to_str(p.unit_cost_cents)),
            ("policy", p.policy),
            ("tolerance", _tolerance_value(p)),
            ("category", p.category),
            ("prorate", True if p.prorate else None),
        ]
        for p in products
    ]
    mappings = sorted(
        session.scalars(select(Mapping)),
        key=lambda m: (code_of[m.product_id], m.source, m.metric, canonical_filter(m.where)),
    )
    mapping_tables: list[Table] = [
        [
            ("product", code_of[m.product_id]),
            ("source", m.source),
            ("metric", m.metric),
            ("where", m.where or None),
        ]
        for m in mappings
    ]
    orgs: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for org in session.scalars(select(ClientOrg)):
        orgs[org.client_id][org.source].append(org.external_id)
    client_tables: list[Table] = []
    for client in clients:
        org_map = {
            s: sorted(ids)[0] if len(ids) == 1 else sorted(ids) for s, ids in orgs.get(client.id, {}).items()
        }
        client_tables.append(
            [("name", client.name), ("accounting_id", client.accounting_id), ("orgs", org_map or None)]
        )
    contracts = sorted(
        session.scalars(select(Contract)),
        key=lambda c: (
            name_of[c.client_id],
            code_of[c.product_id],
            c.start,
            c.end or c.start.max,
            c.quantity,
        ),
    )
    contract_tables: list[Table] = [
        [
            ("client", name_of[c.client_id]),
            ("product", code_of[c.product_id]),
            ("quantity", c.quantity),
            ("start", c.start.isoformat()),
            ("end", c.end.isoformat() if c.end else None),
            ("unit_price", to_str(c.unit_price_cents)),
        ]
        for c in contracts
    ]
    exclusions = sorted(
        session.scalars(select(Exclusion).where(Exclusion.revoked_at.is_(None))),
        key=lambda e: (
            name_of[e.client_id],
            e.source,
            e.entity_external_id or "",
            canonical_filter(e.where),
            e.reason,
            e.start or date.min,
        ),
    )
    exclusion_tables: list[Table] = [
        [
            ("client", name_of[e.client_id]),
            ("source", e.source),
            ("entity", e.entity_external_id),
            ("where", e.where if e.entity_external_id is None else None),
            ("reason", e.reason),
            ("start", e.start.isoformat() if e.start else None),
        ]
        for e in exclusions
    ]
    blocks = sorted(
        session.scalars(select(HourBlock)),
        key=lambda b: (
            name_of[b.client_id],
            b.start,
            b.end or b.start.max,
            b.hours,
            b.rate_cents or 0,
            b.note or "",
        ),
    )
    block_tables: list[Table] = [
        [
            ("client", name_of[b.client_id]),
            ("hours", str(b.hours)),
            ("start", b.start.isoformat()),
            ("end", b.end.isoformat() if b.end else None),
            ("rate", to_str(b.rate_cents)),
            ("note", b.note),
        ]
        for b in blocks
    ]
    return toml_document(
        [("currency", currency)],
        [
            ("products", product_tables),
            ("mappings", mapping_tables),
            ("clients", client_tables),
            ("contracts", contract_tables),
            ("exclusions", exclusion_tables),
            ("blocks", block_tables),
        ],
    )


__all__ = [
    "BookInput",
    "ClientLine",
    "ImportSummary",
    "export_book",
    "import_book",
    "import_file",
    "read_input",
]
