"""Invoices: draft from approved gaps and time, preview, edit a line, approve, push (once), see status
and errors, retry."""

from __future__ import annotations

from typing import cast

import polars as pl
import streamlit as st

from mcc import invoicing
from mcc.money import parse_amount, to_str
from pages import actions, common
from pages.labels import target_label

STATUS_KIND = {
    "draft": "info",
    "approved": "warn",
    "pushing": "warn",
    "pushed": "ok",
    "failed": "bad",
    "void": "info",
}

user = common.require_user()
ctx = common.context()
period = common.period()
data = common.version()
target = target_label(ctx.config.accounting.kind)

common.header(
    "Invoices",
    f"Drafts for {period} from approved gaps and unbilled time; pushed to {target} only after approval.",
)
common.flash()
may_invoice = user.has("invoicer")
if not may_invoice:
    st.info(
        "You can look; building, approving and pushing invoices needs the invoicer role.",
        icon=":material/visibility:",
    )


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def invoices(period_text: str, version: common.DataVersion) -> pl.DataFrame:
    return invoicing.list_invoices(ctx.reader, period_text)


common.stale_flag(
    common.fresh(data),
    lead="Before building drafts: stale numbers from",
    advice="Refresh on the Sources page first, so the drafts bill what the tools count today.",
)
top_left, top_right = st.columns([3, 1], vertical_alignment="bottom")
if top_right.button(
    "Build drafts", key="build_drafts", type="primary", disabled=not may_invoice, width="stretch"
):
    built = common.attempt(
        lambda: invoicing.build_drafts(ctx.engine, ctx.config, common.actor(), period),
        success=f"Drafts built for {period}",
    )
    if built is not None:
        st.rerun()

listing = invoices(period, data)
if listing.height == 0:
    common.empty_state(
        "No invoices for this period",
        "Approve gaps on Review or time on Unbilled time, then build drafts here.",
    )
    st.stop()

counts = {status: int((listing["status"] == status).sum()) for status in STATUS_KIND}
top_left.markdown(
    " ".join(common.pill(f"{n} {status}", STATUS_KIND[status]) for status, n in counts.items() if n),
    unsafe_allow_html=True,
)
st.dataframe(
    {
        "#": listing["id"].to_list(),
        "Client": listing["client"].to_list(),
        "Status": [
            f"{status} · stale" if stale else status
            for status, stale in zip(listing["status"], listing["stale"], strict=True)
        ],
        "Total": [common.money(v) for v in listing["total_cents"]],
        "Lines": listing["lines"].to_list(),
        "Approved by": [v or "" for v in listing["approved_by"].to_list()],
        "Remote #": [v or "" for v in listing["remote_number"].to_list()],
        "Error": [
            (f"Stale: {s}. " if s else "") + (e or b or "")
            for e, b, s in zip(
                listing["last_error"], listing["blocked_reason"], listing["stale"], strict=True
            )
        ],
    },
    hide_index=True,
    width="stretch",
    column_config={"Status": st.column_config.TextColumn("Status", width="medium")},
    key="invoice_list",
)

pushable = listing.filter(pl.col("status").is_in(["approved", "failed"]))
if pushable.height and st.button(
    f"Push {pushable.height} approved invoice(s) to {target}",
    key="push_all",
    disabled=not may_invoice,
    icon=":material/send:",
):
    with st.status(f"Pushing to {target}…", expanded=True) as status:

        def report(result: invoicing.PushResult) -> None:
            text = f"#{result.invoice_id} {result.client}: {result.status.replace('_', ' ')}"
            if result.remote_number:
                text += f" as {result.remote_number}"
            status.write(text + (f" — {result.message}" if result.message else ""))

        results = actions.push_invoices(pushable["id"].to_list(), progress=report)
        status.update(label="Push finished" if results is not None else "Push refused", state="complete")
    st.rerun()

labels = {
    row["id"]: f"#{row['id']} · {row['client']} · {row['status']} · {common.money(row['total_cents'])}"
    for row in listing.iter_rows(named=True)
}
chosen = st.selectbox(
    "Open an invoice", listing["id"].to_list(), format_func=labels.__getitem__, key="invoice_pick"
)
invoice = common.attempt(lambda: invoicing.get_invoice(ctx.reader, int(chosen)))
if invoice is None:
    st.stop()

st.markdown(
    f"### {common.md(labels[chosen].split(' · ')[1])} — {invoice.period} &nbsp; {common.pill(invoice.status, STATUS_KIND.get(invoice.status, 'info'))}",
    unsafe_allow_html=True,
)
if invoice.last_error and invoice.status == "pushed":
    st.warning(
        f"Pushed, but the accounting system differs: {common.md(invoice.last_error)}",
        icon=":material/warning:",
    )
elif invoice.last_error:
    st.error(f"Last push failed: {common.md(invoice.last_error)}", icon=":material/error:")
if invoice.blocked_reason:
    st.warning(f"Blocked: {common.md(invoice.blocked_reason)}", icon=":material/block:")
stale = cast(str | None, listing.filter(pl.col("id") == invoice.id)["stale"].first())
if stale:
    st.warning(
        f"Stale: {common.md(stale)}. It cannot be approved or pushed until it is rebuilt: press Build drafts.",
        icon=":material/update:",
    )
if invoice.remote_number or invoice.remote_id:
    st.success(
        f"In {target_label(invoice.target) if invoice.target else target} as invoice "
        f"{common.md(invoice.remote_number or invoice.remote_id)}.",
        icon=":material/check_circle:",
    )
st.dataframe(
    {
        "Line": [line.position for line in invoice.lines],
        "Kind": [line.kind.replace("_", " ") for line in invoice.lines],
        "Item": [line.item_code for line in invoice.lines],
        "Description": [line.description for line in invoice.lines],
        "Qty": [str(line.quantity) for line in invoice.lines],
        "Unit price": [common.money(line.unit_price_cents) for line in invoice.lines],
        "Amount": [common.money(line.amount_cents) for line in invoice.lines],
        "Note": [line.note or "" for line in invoice.lines],
    },
    hide_index=True,
    width="stretch",
    key="invoice_lines",
)
st.markdown(f"**Total {common.money(invoice.total_cents)}**")

editable = invoice.status in ("draft", "approved", "failed") and may_invoice
if invoice.lines and editable:
    with st.expander("Edit a line"):
        line_labels = {line.id: f"{line.position}. {line.description}" for line in invoice.lines}
        with st.form("edit_line"):
            line_id = st.selectbox(
                "Line", list(line_labels), format_func=line_labels.__getitem__, key="edit_line_id"
            )
            line = next(item for item in invoice.lines if item.id == line_id)
            left, right = st.columns(2)
            quantity = left.text_input("Quantity", value=str(line.quantity), key="edit_quantity")
            price = right.text_input(
                f"Unit price ({ctx.config.currency})", value=to_str(line.unit_price_cents), key="edit_price"
            )
            description = st.text_input("Description", value=line.description, key="edit_description")
            note = st.text_input("Note", value=line.note or "", key="edit_note")
            if st.form_submit_button("Save line"):

                def save() -> object:
                    try:
                        cents = parse_amount(price or "", field="unit price")
                    except ValueError as error:
                        from mcc.errors import MccError

                        raise MccError(str(error)) from None
                    return invoicing.edit_line(
                        ctx.engine,
                        common.actor(),
                        int(line_id),
                        quantity=quantity,
                        unit_price_cents=cents,
                        description=description,
                        note=note,
                    )

                if common.attempt(save, success="Line saved; the invoice is a draft again") is not None:
                    st.rerun()

left, right, _ = st.columns([1, 1, 3])
if (
    invoice.status == "draft"
    and left.button("Approve", key="approve_invoice", type="primary", disabled=not may_invoice)
    and actions.approve_invoice(invoice.id) is not None
):
    st.rerun()
if invoice.status in ("approved", "failed") and right.button(
    "Retry push" if invoice.status == "failed" else f"Push to {target}",
    key="push_invoice",
    type="primary",
    disabled=not may_invoice,
):
    with st.spinner(f"Pushing to {target}…"):
        results = actions.push_invoices([invoice.id])
    if results is not None:
        st.rerun()
