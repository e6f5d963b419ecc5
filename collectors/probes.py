"""What a real account answers for each field and behaviour MCC assumes of a vendor without a public
spec (`mcc sources test NAME` prints it), so a first real connection shows at once what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from collectors.http import Api
from mcc.errors import MccError


@dataclass(frozen=True)
class Probe:
    """One read of the first page of `path` (`{org}`: the first organisation's id), its rows under
    `items` (a dotted key; "" for a bare list), and the fields MCC assumes each row has. `values` are
    fields whose distinct values are listed (statuses, types) so an assumed meaning can be checked."""

    label: str
    path: str
    items: str
    fields: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    values: tuple[str, ...] = ()


def _dig(body: Any, dotted: str) -> Any:
    for part in dotted.split(".") if dotted else []:
        body = body.get(part) if isinstance(body, dict) else None
    return body


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def answers(api: Api, probes: tuple[Probe, ...], org: str | None) -> Iterator[str]:
    """One line per assumption: `ok`, `MISSING` or `DIFFERS`, with what the account sent."""
    for probe in probes:
        if "{org}" in probe.path and org is None:
            yield f"{probe.label}: not checked (no organisation to read it for)"
            continue
        path = probe.path.replace("{org}", org or "")
        try:
            body = api.get(path, probe.params or None)
        except MccError as error:
            yield f"{probe.label}: GET {path} failed: {error}"
            continue
        rows = _dig(body, probe.items)
        if not isinstance(rows, list):
            yield f"{probe.label}: DIFFERS: GET {path} has no list at {probe.items or 'the top level'!r}"
            continue
        if not rows:
            yield f"{probe.label}: GET {path} answered no rows; the fields could not be checked"
            continue
        sample = [row for row in rows[:50] if isinstance(row, dict)]
        for name in probe.fields:
            present = [row[name] for row in sample if name in row]
            if not present:
                yield f"{probe.label}: MISSING {name!r} (in none of {len(sample)} row(s))"
            else:
                note = "" if len(present) == len(sample) else f" (in {len(present)} of {len(sample)} rows)"
                yield f"{probe.label}: ok {name!r} = {_shown(present[0])}{note}"
        for name in probe.values:
            seen = sorted({str(row.get(name)) for row in sample if name in row})
            yield f"{probe.label}: values of {name!r} seen: {', '.join(seen) or 'none'}"
        extra = sorted({key for row in sample for key in row} - set(probe.fields) - set(probe.values))
        if extra:
            yield f"{probe.label}: also sent (not read): {', '.join(extra[:20])}"
