"""Billing config: products, contracts (editable; a change closes the old line so history stays),
mappings, exclusions, and book / contracts-CSV import and export with the CLI's validation."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pandas as pd
import polars as pl
import streamlit as st
from sqlalchemy import select

from mcc import psa_contracts
from mcc.csv_cells import safe_cell
from mcc.money import fmt, to_str
from pages import common, labels
from store.book import export_book, import_file
from store.book_csv import export_contracts_csv
from store.db import reading
from store.models import Client, Contract, Entity, Exclusion, Mapping, Product

user = common.require_user()
ctx = common.context()
data = common.version()
common.header(
    "Billing config", "What each client is contracted for, what feeds each product, and what is excluded."
)
common.flash()
may_edit = user.has("admin")


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def book(version: int) -> dict[str, pl.DataFrame]:
    with reading(ctx.reader) as session:
        products = [
            {
                "Code": p.code,
                "Name": p.name,
                "Unit price": common.money(p.unit_price_cents),
                "Unit cost": "" if p.unit_cost_cents is None else common.money(p.unit_cost_cents),
                "Category": p.category or "",
                "Policy": p.policy,
                "Tolerance": f"{p.tolerance_bp / 100:g}%"
                if p.tolerance_bp is not None
                else common.blank(p.tolerance_units),
            }
            for p in session.scalars(select(Product).order_by(Product.code))
        ]
        codes = {p.id: p.code for p in session.scalars(select(Product))}
        names = {c.id: c.name for c in session.scalars(select(Client))}
        contracts = [
            {
                "client": names[c.client_id],
                "product": codes[c.product_id],
                "quantity": c.quantity,
                "start": c.start,
                "end": c.end,
                "unit_price": to_str(c.unit_price_cents) or "",
                "by": c.created_by or "",
            }
            for c in session.scalars(
                select(Contract).order_by(Contract.client_id, Contract.product_id, Contract.start)
            )
        ]
        mappings = [
            {
                "Product": codes[m.product_id],
                "Source": m.source,
                "Metric": m.metric,
                "Counts": labels.describe_rule(m.where),
            }
            for m in session.scalars(select(Mapping).order_by(Mapping.product_id))
        ]
        active = session.scalars(
            select(Exclusion).where(Exclusion.revoked_at.is_(None)).order_by(Exclusion.client_id)
        ).all()
        wanted = {e.entity_external_id for e in active if e.entity_external_id}
        entity_names = {
            (source, external_id): name
            for source, external_id, name in session.execute(
                select(Entity.source, Entity.external_id, Entity.name).where(Entity.external_id.in_(wanted))
            )
        }
        exclusions = [
            {
                "Client": names[e.client_id],
                "Source": e.source,
                "Excluded": entity_names.get((e.source, e.entity_external_id), e.entity_external_id)
                if e.entity_external_id
                else "every " + labels.describe_rule(e.where),
                "Reason": e.reason,
                "From": e.start.isoformat() if e.start else "every month",
                "By": e.author,
                "When": e.created_at.strftime("%Y-%m-%d"),
                "Entity id": e.entity_external_id or "",
            }
            for e in active
        ]
    return {
        "products": pl.DataFrame(products),
        "contracts": pl.DataFrame(
            contracts,
            schema={
                "client": pl.String,
                "product": pl.String,
                "quantity": pl.Int64,
                "start": pl.Date,
                "end": pl.Date,
                "unit_price": pl.String,
                "by": pl.String,
            },
        ),
        "mappings": pl.DataFrame(mappings),
        "exclusions": pl.DataFrame(exclusions),
    }


frames = book(data.audit)
psa_sources = psa_contracts.psa_sources(ctx.config)
tab_contracts, tab_products, tab_mappings, tab_exclusions, tab_files, *tab_psa = st.tabs(
    ["Contracts", "Products", "Mappings", "Exclusions", "Import / export"]
    + (["Contracts from the PSA"] if psa_sources else [])
)

with tab_contracts:
    contracts = frames["contracts"]
    if contracts.height == 0:
        common.empty_state("No contracts yet", "Import a book or a contracts CSV under Import / export.")
    else:
        show_history = st.toggle("Show closed lines (history)", value=False, key="contracts_history")
        current = contracts if show_history else contracts.filter(pl.col("end").is_null())
        search_col, _ = st.columns([2, 3])
        search = search_col.text_input("Find a client", key="contracts_search")
        if search:
            current = current.filter(
                pl.col("client").str.to_lowercase().str.contains(search.lower(), literal=True)
            )
        st.caption(
            "Change a quantity or price and save: the open line is closed the day before the new start, so history and back-billing stay right."
        )
        shown = pd.DataFrame(
            {
                "Client": current["client"].to_list(),
                "Product": current["product"].to_list(),
                "Quantity": current["quantity"].to_list(),
                "Start": [common.day_text(d) for d in current["start"]],
                "End": [common.day_text(d) for d in current["end"]],
                "Unit price": [common.blank(v) for v in current["unit_price"]],
                "By": [common.blank(v) for v in current["by"]],
            }
        )
        edited = st.data_editor(
            shown,
            hide_index=True,
            width="stretch",
            disabled=["Client", "Product", "Start", "End", "By"] if may_edit else True,
            column_config={
                "Quantity": st.column_config.NumberColumn("Quantity", min_value=0, step=1),
                "Unit price": st.column_config.TextColumn(
                    f"Unit price ({ctx.config.currency})",
                    help="Blank: the product's price. A decimal such as 45.00.",
                ),
                "End": st.column_config.TextColumn("End", help="Blank: open (still billed)."),
            },
            key="contracts_editor",
        )
        when_col, save_col, _ = st.columns([1, 1, 2], vertical_alignment="bottom")
        effective = when_col.date_input(
            "Changes start on", value=datetime.now(UTC).date().replace(day=1), key="contracts_effective"
        )
        if save_col.button(
            "Save contract changes", key="contracts_save", type="primary", disabled=not may_edit
        ):
            changed = edited[
                (edited["Quantity"] != shown["Quantity"])
                | (edited["Unit price"].fillna("") != shown["Unit price"])
            ]
            if changed.empty:
                st.info("Nothing changed.")
            else:
                sheet = io.StringIO()
                pd.DataFrame(
                    {
                        "client": changed["Client"].map(safe_cell),
                        "product": changed["Product"].map(safe_cell),
                        "quantity": changed["Quantity"],
                        "start": effective.isoformat(),
                        "end": "",
                        "unit_price": changed["Unit price"].fillna(""),
                    }
                ).to_csv(sheet, index=False)
                summary = common.attempt(
                    lambda: import_file(
                        ctx.engine,
                        ctx.config,
                        sheet.getvalue().encode(),
                        common.actor(),
                        name="contracts-edit.csv",
                    ),
                    success=f"{len(changed)} contract line(s) changed from {effective}",
                )
                if summary is not None:
                    st.rerun()
        if not may_edit:
            st.caption("Editing the billing configuration needs the admin role.")

with tab_products:
    if frames["products"].height:
        st.dataframe(frames["products"], hide_index=True, width="stretch", key="products_table")
    else:
        common.empty_state("No products yet", "Products come from the book file.")
with tab_mappings:
    if frames["mappings"].height:
        st.dataframe(frames["mappings"], hide_index=True, width="stretch", key="mappings_table")
    else:
        common.empty_state("No mappings yet", "Mappings say which source metric feeds which product.")
with tab_exclusions:
    if frames["exclusions"].height:
        st.dataframe(frames["exclusions"], hide_index=True, width="stretch", key="exclusions_table")
    else:
        common.empty_state("No exclusions", "Exclude shared mailboxes or spare devices from Review.")

with tab_files:
    left, right = st.columns(2)
    with left:
        st.markdown("**Import**")
        st.caption(
            "A book (.toml) or a contracts sheet (.csv). All or nothing: an error names the file, line and field, and nothing is written."
        )
        upload = st.file_uploader(
            "Book or contracts file", type=["toml", "csv"], key="book_upload", disabled=not may_edit
        )
        if upload is not None and st.button(
            "Import", key="book_import", type="primary", disabled=not may_edit
        ):
            content, filename = upload.getvalue(), upload.name
            summary = common.attempt(
                lambda: import_file(ctx.engine, ctx.config, content, common.actor(), name=filename)
            )
            if summary is not None:
                st.session_state["flash"] = str(summary)
                st.session_state["book_warnings"] = list(summary.warnings)
                st.rerun()
        for warning in st.session_state.pop("book_warnings", []):
            st.warning(common.md(warning), icon=":material/warning:")
    with right:
        st.markdown("**Export**")
        st.download_button(
            "Download book (.toml)",
            lambda: export_book(ctx.reader, ctx.config.currency),
            file_name="book.toml",
            key="book_export",
            icon=":material/download:",
        )
        st.download_button(
            "Download contracts (.csv)",
            lambda: export_contracts_csv(ctx.reader),
            file_name="contracts.csv",
            key="contracts_export",
            icon=":material/download:",
        )

KIND_WORDS = {
    "added": "New line",
    "changed": "Changed",
    "closed": "Ends",
    "conflict": "Conflict with the book",
}


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def psa_preview(source: str, version: int, sync_version: int) -> psa_contracts.ContractPreview:
    return psa_contracts.preview(ctx.reader, ctx.config, source)


def psa_tab() -> None:
    source = st.selectbox("PSA", psa_sources, key="psa_source") if len(psa_sources) > 1 else psa_sources[0]
    preview = psa_preview(source, data.audit, data.sync)
    pending = preview.pending
    st.caption(
        f"What {source}'s agreements, as last read, would change in the contracts. Nothing changes until "
        "you apply it; a line typed into the book that disagrees with the PSA is a conflict and stays as "
        "it is unless you take the PSA's figure."
    )
    if not pending:
        st.success("The contracts agree with the PSA.", icon=":material/check_circle:")
    else:
        money = sum(change.monthly_delta_cents for change in pending)
        st.warning(
            f"PSA contracts changed: {len(pending)} line(s), {fmt(money, ctx.config.currency)} a month.",
            icon=":material/sync_problem:",
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "Client": [c.client for c in pending],
                    "Product": [c.product for c in pending],
                    "Change": [KIND_WORDS[c.kind] for c in pending],
                    "Book qty": [common.blank(c.old_quantity) for c in pending],
                    "PSA qty": [common.blank(c.new_quantity) for c in pending],
                    "From": [common.day_text(c.start) for c in pending],
                    "Until": [common.day_text(c.end) for c in pending],
                    "Monthly": [fmt(c.monthly_delta_cents, ctx.config.currency) for c in pending],
                    "Note": [c.note for c in pending],
                }
            ),
            hide_index=True,
            width="stretch",
            key="psa_preview_table",
        )
        take_psa = st.checkbox(
            "On a conflict, take the PSA's figure", value=False, key="psa_take", disabled=not may_edit
        )
        if st.button("Apply these changes", key="psa_apply", type="primary", disabled=not may_edit):
            done = common.attempt(
                lambda: psa_contracts.apply(
                    ctx.engine, ctx.config, source, common.actor(), take_psa=take_psa
                ),
                success=f"Contracts from {source} applied",
            )
            if done is not None:
                st.rerun()
    for org, name in preview.unmapped_orgs:
        st.caption(f"Unmapped PSA company: {common.md(name)} (id {common.md(org)}) — map it on Sources.")
    for product, lines in preview.unmapped_products:
        st.caption(
            f"Unmapped PSA product: {common.md(product)} on {lines} line(s) — add a product with this code."
        )
    for line, reason in preview.skipped:
        st.caption(f"Skipped {common.md(line)}: {common.md(reason)}.")


if tab_psa:
    with tab_psa[0]:
        psa_tab()
