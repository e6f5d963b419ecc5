"""After a sync: which attribute values (device classes, M365 SKUs, Pax8 products) a source reported that
no mapping counts, so nothing billable is silently left out of every product."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.counts import KeyTuple, Totals
from store.frames import attr_text
from store.models import Mapping


def _matches(where: dict[str, Any], attrs: dict[str, str]) -> bool:
    for attr, allowed in where.items():
        values = allowed if isinstance(allowed, list | tuple) else [allowed]
        if attrs.get(str(attr), "") not in {attr_text(value) for value in values}:
            return False
    return True


def uncovered(
    session: Session, source: str, totals: dict[KeyTuple, Totals], watched: dict[str, str]
) -> list[dict[str, Any]]:
    """[{metric, attr, value, quantity}] for each value of a watched attribute (metric → attribute) whose
    units no mapping of this source and metric matches, largest first."""
    if not watched:
        return []
    rules: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for mapping in session.scalars(select(Mapping).where(Mapping.source == source)):
        rules[mapping.metric].append(mapping.where or {})
    left: dict[tuple[str, str, str], int] = defaultdict(int)
    for (_org, metric, attrs_text), key_totals in totals.items():
        attr = watched.get(metric)
        if attr is None or key_totals.quantity <= 0:
            continue
        attrs = json.loads(attrs_text)
        if any(_matches(where, attrs) for where in rules.get(metric, [])):
            continue
        left[(metric, attr, attrs.get(attr, ""))] += key_totals.quantity
    return [
        {"metric": metric, "attr": attr, "value": value, "quantity": quantity}
        for (metric, attr, value), quantity in sorted(left.items(), key=lambda item: (-item[1], item[0]))
    ]
