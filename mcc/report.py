"""The client billing audit report (CSV, or print-ready HTML with inline CSS): contracted vs observed per
product, the entities behind each count, and what changed since the previous period."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine

from mcc.config import Config
from mcc.csv_cells import SafeDictWriter
from mcc.errors import MccError
from mcc.money import fmt, to_str
from mcc.reconciliation import client_entities, entities_behind, reconcile_period, resolve_period
from mcc.review import find_client
from reconcile.periods import add_months, period_of
from store.db import reading

STATUS_TEXT = {
    "under_billed": "billed for fewer than delivered",
    "over_billed": "billed for more than delivered",
    "match": "matches",
    "within_tolerance": "within tolerance",
    "no_contract": "delivered, not on the agreement",
}


@dataclass
class ProductSection:
    gap: dict[str, Any]
    previous_observed: int | None
    entities: list[dict[str, Any]]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]


# How each state of the client's gap money (reconcile.outcomes) reads in a report sent to the client.
OUTCOME_TEXT = {
    "open": "still under review",
    "recovered": "added to your agreement or billed once for past months",
    "written_off": "not charged (written off)",
    "deferred": "held over to a later period",
}


def outcome_lines(totals: dict[str, int]) -> list[tuple[str, int, int]]:
    """(text, monthly cents, one-time cents) per state of the client's gap money, the empty ones left out."""
    lines = []
    for state, text in OUTCOME_TEXT.items():
        monthly, one_time = totals[f"{state}_monthly_cents"], totals[f"{state}_one_time_cents"]
        if monthly or one_time:
            lines.append((text, monthly, one_time))
    return lines


def _sections(
    engine: Engine, config: Config, client_id: int, period: str
) -> tuple[list[ProductSection], dict[str, int]]:
    previous = period_of(add_months(resolve_period(period), -1))
    reconciliation = reconcile_period(engine, config, period)
    now = reconciliation.gaps.filter(pl.col("client_id") == client_id)
    before = reconcile_period(engine, config, previous).gaps.filter(pl.col("client_id") == client_id)
    sections = []
    this_read = client_entities(engine, client_id, period) if now.height else None
    last_read = client_entities(engine, client_id, previous) if now.height else None
    for gap in now.iter_rows(named=True):
        prior = before.filter(pl.col("product_code") == gap["product_code"])
        code = gap["product_code"]
        current = entities_behind(engine, config, client_id, code, period, read=this_read)
        earlier = entities_behind(engine, config, client_id, code, previous, read=last_read)
        added = current.join(earlier.select("entity_id"), on="entity_id", how="anti")
        removed = earlier.join(current.select("entity_id"), on="entity_id", how="anti")
        sections.append(
            ProductSection(
                gap=gap,
                previous_observed=prior["observed_qty"][0] if prior.height else None,
                entities=current.to_dicts(),
                added=added.to_dicts(),
                removed=removed.to_dicts(),
            )
        )
    # what the client asked about first: products whose count differs from the bill, biggest first
    ordered = sorted(
        sections,
        key=lambda section: (section.gap["delta_qty"] == 0, -abs(section.gap["monthly_amount_cents"])),
    )
    return ordered, reconciliation.totals_for(client_id)


def client_report(
    engine: Engine,
    config: Config,
    name: str,
    period: str | None = None,
    *,
    format: str = "html",
    today: date | None = None,
) -> str:
    """The report for client `name` and `period` (default: this month) as CSV or HTML text."""
    with reading(engine) as session:
        client = find_client(session, name)
        client_id, client_name = client.id, client.name
    period_text = period_of(resolve_period(period, today))
    sections, totals = _sections(engine, config, client_id, period_text)
    if format == "csv":
        return _csv(client_name, period_text, sections, totals)
    if format == "html":
        return _html(client_name, period_text, config.currency, sections, totals)
    raise MccError(f"report format must be csv or html, got {format!r}")


CSV_COLUMNS = [
    "client",
    "period",
    "row",
    "product_code",
    "product",
    "contracted",
    "observed",
    "previous_observed",
    "excluded",
    "billable",
    "unit_price",
    "monthly_difference",
    "one_time_amount",
    "status",
    "entity_name",
    "entity_id",
    "source",
    "first_seen",
    "last_seen",
    "excluded_reason",
    "change",
]


def _csv(client: str, period: str, sections: list[ProductSection], totals: dict[str, int]) -> str:
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for section in sections:
        gap = section.gap
        base = {
            "client": client,
            "period": period,
            "product_code": gap["product_code"],
            "product": gap["product"],
        }
        writer.writerow(
            {
                **base,
                "row": "product",
                "contracted": gap["billed_qty"],
                "observed": gap["observed_qty"],
                "previous_observed": section.previous_observed,
                "excluded": gap["excluded_qty"],
                "billable": gap["billable_qty"],
                "unit_price": to_str(gap["unit_price_cents"]),
                "monthly_difference": to_str(gap["monthly_amount_cents"]),
                "status": gap["status"],
            }
        )
        added = {e["entity_id"] for e in section.added}
        for entity, change in [(e, "new" if e["entity_id"] in added else "") for e in section.entities] + [
            (e, "gone") for e in section.removed
        ]:
            writer.writerow(
                {
                    **base,
                    "row": "entity",
                    "entity_name": entity["name"],
                    "entity_id": entity["external_id"],
                    "source": entity["source"],
                    "first_seen": entity["first_seen"],
                    "last_seen": entity["last_seen"],
                    "excluded_reason": entity["exclusion_reason"] if entity["excluded"] else "",
                    "change": change,
                }
            )
    for text, monthly, one_time in outcome_lines(totals):
        writer.writerow(
            {
                "client": client,
                "period": period,
                "row": "total",
                "status": text,
                "monthly_difference": to_str(monthly),
                "one_time_amount": to_str(one_time),
            }
        )
    return out.getvalue()


CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1a1a1a;margin:2em;font-size:11pt}
h1{font-size:18pt;margin:0 0 .2em}h2{font-size:13pt;margin:1.6em 0 .4em;border-bottom:2px solid #333}
.muted{color:#666}table{border-collapse:collapse;width:100%;margin:.4em 0 1em}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.under_billed,.no_contract{color:#b00020;font-weight:600}.over_billed{color:#6a1b9a;font-weight:600}
.match,.within_tolerance{color:#2e7d32}.new{color:#b00020}.gone{color:#666;text-decoration:line-through}
@page{size:A4;margin:15mm}@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
"""


def _html(
    client: str, period: str, currency: str, sections: list[ProductSection], totals: dict[str, int]
) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Billing audit: {e(client)} {e(period)}</title><style>{CSS}</style></head><body>",
        f"<h1>Billing audit: {e(client)}</h1><p class='muted'>Period {e(period)}. Counts come from the tools we "
        "use to manage your systems; excluded items are not billed.</p>",
        "<h2>Summary</h2><table><tr><th>Product</th><th>Contracted</th><th>Observed</th><th>Last period</th>"
        "<th>Excluded</th><th>Billable</th><th>Unit price</th><th>Monthly difference</th><th>Status</th></tr>",
    ]
    for section in sections:
        gap = section.gap
        status = gap["status"]
        parts.append(
            f"<tr><td>{e(gap['product'])} ({e(gap['product_code'])})</td><td class='n'>{gap['billed_qty']}</td>"
            f"<td class='n'>{gap['observed_qty']}</td><td class='n'>{'' if section.previous_observed is None else section.previous_observed}</td>"
            f"<td class='n'>{gap['excluded_qty']}</td><td class='n'>{gap['billable_qty']}</td>"
            f"<td class='n'>{e(fmt(gap['unit_price_cents'], currency))}</td>"
            f"<td class='n'>{e(fmt(gap['monthly_amount_cents'], currency))}</td>"
            f"<td class='{e(status)}'>{e(STATUS_TEXT.get(status, status))}</td></tr>"
        )
    parts.append("</table>")
    lines = outcome_lines(totals)
    if lines:
        parts.append("<table><tr><th>Differences this period</th><th>Monthly</th><th>Past months</th></tr>")
        for text, monthly, one_time in lines:
            parts.append(
                f"<tr><td>{e(text.capitalize())}</td><td class='n'>{e(fmt(monthly, currency))}</td>"
                f"<td class='n'>{e(fmt(one_time, currency))}</td></tr>"
            )
        parts.append("</table>")
    for section in sections:
        gap = section.gap
        added = {x["entity_id"] for x in section.added}
        parts.append(
            f"<h2>{e(gap['product'])} ({e(gap['product_code'])}): {gap['observed_qty']} counted</h2>"
            f"<p class='muted'>{len(section.added)} new since last period, {len(section.removed)} gone.</p>"
            "<table><tr><th>Name</th><th>Id</th><th>Source</th><th>First seen</th><th>Last seen</th><th>Billed</th></tr>"
        )
        rows = [(x, "new" if x["entity_id"] in added else "") for x in section.entities] + [
            (x, "gone") for x in section.removed
        ]
        for entity, change in rows:
            billed = "no: " + e(entity["exclusion_reason"] or "excluded") if entity["excluded"] else "yes"
            if change == "gone":
                billed = "gone since last period"
            parts.append(
                f"<tr class='{change}'><td>{e(entity['name'])}{' (new)' if change == 'new' else ''}</td>"
                f"<td>{e(entity['external_id'])}</td><td>{e(entity['source'])}</td>"
                f"<td>{entity['first_seen']}</td><td>{entity['last_seen']}</td><td>{billed}</td></tr>"
            )
        if not rows:
            parts.append(
                "<tr><td colspan='6' class='muted'>No itemised list from this source (counted in total).</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)
