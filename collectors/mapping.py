"""Unmapped organisations: every org a source reported with no client yet, shown with a suggested client
(a fuzzy name match) and mapped with one command. Nothing a source reports is ever dropped silently.

Suggestions compare normalised names (case, punctuation and legal suffixes such as Inc, LLC and Ltd
removed) with each client's name and with the names of orgs already mapped to that client in any
source. The score blends rapidfuzz's token_set_ratio (word order and extra words do not matter) with a
little token_sort_ratio, so a bare "Acme" scores below "Acme Dental" when matched to "Acme Dental".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from collectors.records import Org
from mcc.config import Config
from mcc.errors import MccError
from mcc.names import name_key
from mcc.permissions import Actor, require
from store.audit import record_event
from store.db import reading, transaction
from store.models import Client, ClientOrg, SourceOrg, SyncRun, TimeEntry

DEFAULT_MIN_SCORE = 90
TIE_MARGIN = 3  # a runner-up this close to the best makes the suggestion ambiguous

_SUFFIXES = {
    "inc", "incorporated", "llc", "l l c", "ltd", "limited", "corp", "corporation", "co", "company",
    "plc", "llp", "lp", "pllc", "pc", "pty", "gmbh", "ag", "sa", "sarl", "bv", "nv", "srl", "the",
}  # fmt: skip
_PUNCTUATION = re.compile(r"[^\w\s]|_")


class MappingError(MccError):
    """A mapping names an org or client that does not exist."""


@dataclass(frozen=True)
class Suggestion:
    client_id: int
    client: str
    score: int
    ambiguous: bool = False  # another client matches about as well: never accepted automatically


@dataclass(frozen=True)
class UnmappedOrg:
    source: str
    external_id: str
    name: str
    suggested_client_id: int | None
    suggested_client: str | None
    score: int | None
    first_seen: datetime | None
    last_seen: datetime | None = None
    ambiguous: bool = False


@dataclass(frozen=True)
class MappedOrg:
    source: str
    external_id: str
    name: str
    client_id: int
    client: str
    previous_client: str | None  # set when the org was mapped to another client before


def normalise(name: str) -> str:
    """'Acme Dental, Inc.' → 'acme dental'; 'L.L.C.' → 'llc' (then dropped); '&' reads as 'and'."""
    text = _PUNCTUATION.sub(" ", name_key(name).replace("&", " and ").replace(".", ""))
    words = text.split()
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def score(left: str, right: str) -> int:
    """0–100 similarity of two already-normalised names."""
    if not left or not right:
        return 0
    return round(0.7 * fuzz.token_set_ratio(left, right) + 0.3 * fuzz.token_sort_ratio(left, right))


# Candidate names per client: its own name plus every org name already mapped to it.
Candidates = dict[int, tuple[str, set[str]]]


def candidates(session: Session) -> Candidates:
    result: Candidates = {
        client.id: (client.name, {normalise(client.name)}) for client in session.scalars(select(Client))
    }
    aliases = session.execute(
        select(ClientOrg.client_id, SourceOrg.name).join(
            SourceOrg,
            (SourceOrg.source == ClientOrg.source) & (SourceOrg.external_id == ClientOrg.external_id),
        )
    )
    for client_id, name in aliases:
        if client_id in result and normalise(name):
            result[client_id][1].add(normalise(name))
    return result


def suggest_client(name: str, clients: Candidates) -> Suggestion | None:
    """The best-matching client for an org name, or None when there are no clients."""
    wanted = normalise(name)
    ranked = sorted(
        ((max(score(wanted, alias) for alias in aliases), client_id, client_name)
         for client_id, (client_name, aliases) in clients.items()),
        key=lambda item: (-item[0], item[2]),
    )  # fmt: skip
    if not ranked:
        return None
    best, client_id, client_name = ranked[0]
    ambiguous = len(ranked) > 1 and best - ranked[1][0] <= TIE_MARGIN
    return Suggestion(client_id, client_name, best, ambiguous)


def suggest_mappings(engine: Engine, source: str, orgs: Iterable[Org]) -> list[UnmappedOrg]:
    """Suggestions for orgs a source lists (e.g. before its first sync), leaving out mapped ones."""
    with reading(engine) as session:
        clients = candidates(session)
        mapped = set(session.scalars(select(ClientOrg.external_id).where(ClientOrg.source == source)))
    result = []
    for org in orgs:
        if org.external_id in mapped:
            continue
        suggestion = suggest_client(org.name, clients)
        result.append(_unmapped(source, org.external_id, org.name, suggestion, None, None))
    return result


def _unmapped(
    source: str,
    external_id: str,
    name: str,
    suggestion: Suggestion | None,
    first_seen: datetime | None,
    last_seen: datetime | None,
) -> UnmappedOrg:
    return UnmappedOrg(
        source=source,
        external_id=external_id,
        name=name,
        suggested_client_id=suggestion.client_id if suggestion else None,
        suggested_client=suggestion.client if suggestion else None,
        score=suggestion.score if suggestion else None,
        first_seen=first_seen,
        last_seen=last_seen,
        ambiguous=suggestion.ambiguous if suggestion else False,
    )


def unmapped_orgs(
    engine: Engine, config: Config | None = None, source: str | None = None
) -> list[UnmappedOrg]:
    """Every org seen in a source with no client, with a suggested client; configured sources first,
    in mcc.toml order, then any source no longer configured (its orgs are still shown)."""
    with reading(engine) as session:
        query = (
            select(SourceOrg)
            .outerjoin(
                ClientOrg,
                (ClientOrg.source == SourceOrg.source) & (ClientOrg.external_id == SourceOrg.external_id),
            )
            .where(ClientOrg.id.is_(None))
        )
        if source is not None:
            query = query.where(SourceOrg.source == source)
        clients = candidates(session)
        result = [
            _unmapped(
                row.source,
                row.external_id,
                row.name,
                suggest_client(row.name, clients),
                row.first_seen,
                row.last_seen,
            )
            for row in session.scalars(query)
        ]
    order = {name: index for index, name in enumerate(config.source_names if config else [])}
    return sorted(result, key=lambda row: (order.get(row.source, len(order)), row.source, row.name.lower()))


def first_sync_suggestions(engine: Engine, config: Config, source: str) -> list[UnmappedOrg]:
    """After a source's first successful sync: its unmapped orgs with suggestions, for one confirmation."""
    config.source(source)  # a clear error for an unknown name
    return unmapped_orgs(engine, config, source)


def successful_runs(engine: Engine, source: str) -> int:
    with reading(engine) as session:
        return len(
            session.scalars(
                select(SyncRun.id).where(SyncRun.source == source, SyncRun.status == "ok").limit(2)
            ).all()
        )


def find_client(engine: Engine, name: str) -> tuple[int, str]:
    """A client by name (compared by name_key: case, spacing, Unicode forms); else an error with the closest."""
    with reading(engine) as session:
        clients = [(row.id, row.name) for row in session.execute(select(Client.id, Client.name))]
    for client_id, client_name in clients:
        if name_key(client_name) == name_key(name):
            return client_id, client_name
    wanted = normalise(name)
    close = sorted(clients, key=lambda c: -score(wanted, normalise(c[1])))[:3]
    hint = f"; closest: {', '.join(repr(c[1]) for c in close)}" if close else " (the book has no clients yet)"
    raise MappingError(f"no client named {name!r}{hint}")


def map_org(engine: Engine, actor: Actor, source: str, external_id: str, client_id: int) -> MappedOrg:
    """Bill one source org to a client (admin). Remapping moves it; unbilled time entries follow."""
    require(actor, "admin", "map organisations to clients")
    with transaction(engine) as session:
        return _map(session, actor, source, external_id, client_id)


def _map(session: Session, actor: Actor, source: str, external_id: str, client_id: int) -> MappedOrg:
    org = session.scalar(
        select(SourceOrg).where(SourceOrg.source == source, SourceOrg.external_id == str(external_id))
    )
    if org is None:
        raise MappingError(
            f"source {source!r} has not reported an organisation with id {external_id!r} "
            "(see `mcc orgs unmapped`)"
        )
    client = session.get(Client, client_id)
    if client is None:
        raise MappingError(f"no client with id {client_id}")
    existing = session.scalar(
        select(ClientOrg).where(ClientOrg.source == source, ClientOrg.external_id == org.external_id)
    )
    previous = None
    if existing is not None:
        if existing.client_id == client_id:
            return MappedOrg(source, org.external_id, org.name, client.id, client.name, None)
        previous = session.get_one(Client, existing.client_id).name
        existing.client_id = client_id
    else:
        session.add(ClientOrg(client_id=client_id, source=source, external_id=org.external_id))
    session.execute(
        update(TimeEntry)
        .where(
            TimeEntry.source == source,
            TimeEntry.org_external_id == org.external_id,
            TimeEntry.invoice_id.is_(None),
        )
        .values(client_id=client_id)
    )
    record_event(
        session,
        actor=actor.username,
        action="org.remap" if previous else "org.map",
        entity="client_org",
        entity_id=f"{source}:{org.external_id}",
        payload={"org": org.name, "client": client.name, "client_id": client.id, "previous_client": previous},
    )
    return MappedOrg(source, org.external_id, org.name, client.id, client.name, previous)


def accept_suggestions(
    engine: Engine,
    actor: Actor,
    config: Config | None = None,
    *,
    min_score: int = DEFAULT_MIN_SCORE,
    source: str | None = None,
) -> tuple[list[MappedOrg], list[UnmappedOrg]]:
    """Map every unmapped org whose suggestion scores at least `min_score` and is not ambiguous, in one
    transaction. Returns (mapped, left unmapped)."""
    require(actor, "admin", "map organisations to clients")
    pending = unmapped_orgs(engine, config, source)
    accepted = [
        org
        for org in pending
        if org.suggested_client_id is not None and (org.score or 0) >= min_score and not org.ambiguous
    ]
    mapped: list[MappedOrg] = []
    with transaction(engine) as session:
        for org in accepted:
            assert org.suggested_client_id is not None
            mapped.append(_map(session, actor, org.source, org.external_id, org.suggested_client_id))
    done = {(org.source, org.external_id) for org in accepted}
    return mapped, [org for org in pending if (org.source, org.external_id) not in done]
