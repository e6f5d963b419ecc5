"""Small books for reconciliation tests: literal frames for the pure engine, ORM rows for the store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl

from reconcile import schemas as s
from reconcile.periods import month_end, parse_period
from reconcile.schemas import Inputs


def _values(where: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for attr, allowed in where.items():
        for value in allowed if isinstance(allowed, list | tuple) else [allowed]:
            pairs.append((attr, str(value).lower() if isinstance(value, bool) else str(value)))
    return pairs


class PureBook:
    """Builds reconcile.schemas.Inputs row by row; ids are handed out in order from 1."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in s.Inputs.__dataclass_fields__}
        self._keys: dict[tuple[str, str, str, str], int] = {}
        self._clients: dict[str, int] = {}
        self._products: dict[str, int] = {}

    def _next(self, table: str) -> int:
        return len(self.rows[table]) + 1

    def product(
        self,
        code: str,
        price_cents: int,
        *,
        policy: str = "end",
        tolerance_units: int = 0,
        tolerance_bp: int | None = None,
        prorate: bool = False,
        category: str = "rmm",
        unit_cost_cents: int | None = None,
    ) -> int:
        pid = self._next("products")
        self.rows["products"].append(
            (
                pid,
                code,
                f"{code} product",
                category,
                price_cents,
                unit_cost_cents,
                policy,
                tolerance_units,
                tolerance_bp,
                prorate,
            )
        )
        self._products[code] = pid
        return pid

    def mapping(self, product: str, source: str, metric: str, **where: Any) -> int:
        mid = self._next("mappings")
        self.rows["mappings"].append((mid, self._products[product], source, metric))
        self.rows["mapping_filters"].extend((mid, a, v) for a, v in _values(where))
        return mid

    def client(self, name: str, **orgs: str) -> int:
        cid = self._next("clients")
        self.rows["clients"].append((cid, name))
        self._clients[name] = cid
        for source, external_id in orgs.items():
            self.rows["orgs"].append((cid, source, external_id))
        return cid

    def source_org(self, source: str, external_id: str, name: str) -> None:
        self.rows["source_orgs"].append((source, external_id, name))

    def contract(
        self,
        client: str,
        product: str,
        quantity: int,
        start: date,
        end: date | None = None,
        price_cents: int | None = None,
    ) -> None:
        self.rows["contracts"].append(
            (self._clients[client], self._products[product], quantity, price_cents, start, end)
        )

    def key(self, source: str, org: str, metric: str, **attrs: Any) -> int:
        canonical = json.dumps({k: str(v) for k, v in attrs.items()}, sort_keys=True)
        ident = (source, org, metric, canonical)
        if ident not in self._keys:
            kid = len(self._keys) + 1
            self._keys[ident] = kid
            self.rows["keys"].append((kid, source, org, metric))
            self.rows["key_attrs"].extend((kid, a, v) for a, v in _values(attrs))
        return self._keys[ident]

    def count(
        self,
        source: str,
        org: str,
        metric: str,
        period: str,
        qty: int,
        *,
        peak: int | None = None,
        day_sum: int | None = None,
        days: int | None = None,
        cost_cents: int | None = None,
        **attrs: Any,
    ) -> int:
        kid = self.key(source, org, metric, **attrs)
        first = parse_period(period)
        last = month_end(first)
        days = days if days is not None else last.day
        day_sum = day_sum if day_sum is not None else qty * days
        self.rows["monthly"].append(
            (kid, first, qty, qty if peak is None else peak, day_sum, days, last, cost_cents)
        )
        return kid

    def months(self, source: str, org: str, metric: str, quantities: dict[str, int], **attrs: Any) -> None:
        for period, qty in quantities.items():
            self.count(source, org, metric, period, qty, **attrs)

    def exclusion(
        self, client: str, source: str, *, entity: str | None = None, start: date | None = None, **where: Any
    ) -> int:
        eid = self._next("exclusions")
        self.rows["exclusions"].append((eid, self._clients[client], source, entity, "not billed", start))
        self.rows["exclusion_filters"].extend((eid, a, v) for a, v in _values(where))
        return eid

    def entity(
        self,
        source: str,
        org: str,
        metric: str,
        external_id: str,
        *,
        key_attrs: dict[str, Any] | None = None,
        first_seen: date = date(2020, 1, 1),
        last_seen: date = date(2099, 1, 1),
        **attrs: Any,
    ) -> int:
        kid = self.key(source, org, metric, **(key_attrs or {}))
        eid = self._next("entities")
        self.rows["entities"].append(
            (eid, source, metric, external_id, org, kid, external_id, first_seen, last_seen)
        )
        self.rows["entity_attrs"].extend((eid, a, v) for a, v in _values({**(key_attrs or {}), **attrs}))
        return eid

    def decision(
        self,
        client: str,
        product: str,
        period: str,
        action: str,
        *,
        covered: list[str] | None = None,
        note: str = "",
        amount_cents: int | None = None,
        back_bill_cents: int | None = None,
        reverses: int | None = None,
    ) -> int:
        did = self._next("decisions")
        self.rows["decisions"].append(
            (
                did,
                self._clients[client],
                self._products[product],
                period,
                action,
                note,
                "tester",
                covered or [],
                amount_cents,
                back_bill_cents,
                reverses,
            )
        )
        return did

    def inputs(self) -> Inputs:
        schemas = {
            "keys": s.KEYS,
            "key_attrs": s.KEY_ATTRS,
            "monthly": s.MONTHLY,
            "clients": s.CLIENTS,
            "orgs": s.ORGS,
            "source_orgs": s.SOURCE_ORGS,
            "products": s.PRODUCTS,
            "mappings": s.MAPPINGS,
            "mapping_filters": s.FILTERS,
            "contracts": s.CONTRACTS,
            "exclusions": s.EXCLUSIONS,
            "exclusion_filters": s.FILTERS,
            "entities": s.ENTITIES,
            "entity_attrs": s.ENTITY_ATTRS,
            "decisions": s.DECISIONS,
        }
        return Inputs(**{name: s.frame(self.rows[name], schema) for name, schema in schemas.items()})


def at(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


__all__ = ["PureBook", "at", "pl"]


class DbBook:
    """Inserts book and count rows with the ORM, as the book import and the sync writer would."""

    def __init__(self, engine: Any) -> None:
        from store.db import transaction

        self.engine = engine
        self.transaction = transaction
        self.clients: dict[str, int] = {}
        self.products: dict[str, int] = {}
        self._keys: dict[tuple[str, str, str, str], int] = {}

    def _add(self, row: Any) -> int:
        with self.transaction(self.engine) as session:
            session.add(row)
            session.flush()
            return int(row.id)

    def product(self, code: str, price_cents: int, *, category: str = "rmm", **fields: Any) -> int:
        from store.models import Product

        self.products[code] = self._add(
            Product(
                code=code, name=f"{code} product", unit_price_cents=price_cents, category=category, **fields
            )
        )
        return self.products[code]

    def mapping(self, product: str, source: str, metric: str, **where: Any) -> int:
        from store.models import Mapping

        return self._add(
            Mapping(product_id=self.products[product], source=source, metric=metric, where=where)
        )

    def client(self, name: str, **orgs: str) -> int:
        from store.models import Client, ClientOrg

        with self.transaction(self.engine) as session:
            client = Client(name=name)
            session.add(client)
            session.flush()
            for source, external_id in orgs.items():
                session.add(ClientOrg(client_id=client.id, source=source, external_id=external_id))
            self.clients[name] = client.id
            return int(client.id)

    def contract(
        self, client: str, product: str, quantity: int, start: date, end: date | None = None, **fields: Any
    ) -> int:
        from store.models import Contract

        return self._add(
            Contract(
                client_id=self.clients[client],
                product_id=self.products[product],
                quantity=quantity,
                start=start,
                end=end,
                **fields,
            )
        )

    def key(self, source: str, org: str, metric: str, **attrs: Any) -> int:
        from store.models import CountKey

        canonical = json.dumps(
            {k: str(v) for k, v in sorted(attrs.items())}, sort_keys=True, separators=(",", ":")
        )
        ident = (source, org, metric, canonical)
        if ident not in self._keys:
            self._keys[ident] = self._add(
                CountKey(source=source, org_external_id=org, metric=metric, attrs_json=canonical)
            )
        return self._keys[ident]

    def count(
        self,
        source: str,
        org: str,
        metric: str,
        period: str,
        qty: int,
        *,
        peak: int | None = None,
        day_sum: int | None = None,
        days: int | None = None,
        cost_cents: int | None = None,
        **attrs: Any,
    ) -> int:
        from store.models import MonthlyCount

        kid = self.key(source, org, metric, **attrs)
        first = parse_period(period)
        last = month_end(first)
        days = days if days is not None else last.day
        with self.transaction(self.engine) as session:
            session.add(
                MonthlyCount(
                    key_id=kid,
                    month=first,
                    qty_end=qty,
                    qty_peak=qty if peak is None else peak,
                    qty_day_sum=day_sum if day_sum is not None else qty * days,
                    days=days,
                    first_day=first,
                    last_day=last,
                    cost_cents=cost_cents,
                )
            )
        return kid

    def months(self, source: str, org: str, metric: str, quantities: dict[str, int], **attrs: Any) -> None:
        for period, qty in quantities.items():
            self.count(source, org, metric, period, qty, **attrs)

    def entity(
        self,
        source: str,
        org: str,
        metric: str,
        external_id: str,
        *,
        key_attrs: dict[str, Any] | None = None,
        first_seen: date = date(2020, 1, 1),
        last_seen: date = date(2099, 1, 1),
        name: str | None = None,
        **attrs: Any,
    ) -> int:
        from store.models import Entity

        kid = self.key(source, org, metric, **(key_attrs or {}))
        return self._add(
            Entity(
                source=source,
                metric=metric,
                external_id=external_id,
                org_external_id=org,
                key_id=kid,
                name=name or external_id,
                attrs={**(key_attrs or {}), **attrs},
                first_seen=at(first_seen),
                last_seen=at(last_seen),
            )
        )

    def exclusion(self, client: str, source: str, *, entity: str | None = None, **where: Any) -> int:
        from store.models import Exclusion

        return self._add(
            Exclusion(
                client_id=self.clients[client],
                source=source,
                entity_external_id=entity,
                where=where or None,
                reason="not billed",
                author="tester",
            )
        )

    def sync_run(self, source: str, stream: str, finished: datetime, status: str = "ok") -> int:
        from store.models import SyncRun

        return self._add(
            SyncRun(source=source, stream=stream, status=status, started_at=finished, finished_at=finished)
        )
