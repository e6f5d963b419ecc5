"""Review (a billing session on a shared screen): one client at a time, contracted vs observed per
product with the money, the entities behind each count, and a decision per gap."""

from __future__ import annotations

import functools
import json
from datetime import date

import polars as pl
import streamlit as st

from mcc import reconciliation as recon
from pages import actions, common

OPEN_STATUSES = ("under_billed", "over_billed", "no_contract")
ACTION_LABELS = {
    "bump": "Bump the agreement to the observed quantity",
    "back_bill": "Bill the one-time back-bill",
    "write_off": "Write off (leave the billing as it is)",
    "exclude": "Exclude entities from the count",
    "defer": "Defer to a later session",
}

user = common.require_user()
ctx = common.context()
period = common.period()
data = common.version()
result = common.reconciliation(period, data)
gaps = result.gaps.filter(pl.col("client_id").is_not_null())

common.header("Review", f"Walk the book client by client for {period} and decide on each gap.")
common.flash()

if gaps.height == 0:
    common.empty_state("Nothing to review", "There are no reconciled clients for this period yet.")
    st.stop()

only_open = st.toggle("Only clients with open gaps", value=True, key="review_only_open")
ranked = (
    gaps.with_columns(
        open=pl.col("status").is_in(OPEN_STATUSES) & pl.col("decision").is_null(),
        leak=pl.when(pl.col("status") == "under_billed").then(pl.col("monthly_amount_cents")).otherwise(0),
    )
    .group_by("client_id", "client")
    .agg(pl.col("open").sum().alias("open_gaps"), pl.col("leak").sum().alias("leakage"))
    .sort(["leakage", "client"], descending=[True, False])
)
if only_open:
    ranked = ranked.filter(pl.col("open_gaps") > 0)
if ranked.height == 0:
    common.empty_state(
        "All decided", "Every gap this period has a decision. Turn off the filter to browse all clients."
    )
    st.stop()

client_ids = ranked["client_id"].to_list()
labels = {cid: name for cid, name in zip(ranked["client_id"], ranked["client"], strict=True)}
current = st.session_state.get("review_client")
if current not in client_ids:
    current = client_ids[0]
st.session_state["review_client"] = current  # stay on this client while decisions reorder the list
position = client_ids.index(current)


def _go(step: int) -> None:
    st.session_state["review_client"] = client_ids[(position + step) % len(client_ids)]


nav_prev, nav_pick, nav_next = st.columns([1, 4, 1], vertical_alignment="bottom")
nav_prev.button("◀ Previous", key="review_prev", on_click=_go, args=(-1,), width="stretch")
nav_next.button("Next ▶", key="review_next", on_click=_go, args=(1,), width="stretch")
chosen = nav_pick.selectbox(
    f"Client ({position + 1} of {len(client_ids)}, biggest leakage first)",
    client_ids,
    index=position,
    format_func=lambda cid: labels[cid],
    key=f"review_pick_{current}",
)
if chosen != current:
    st.session_state["review_client"] = chosen
    st.rerun()

client_id = int(current)
rows = gaps.filter(pl.col("client_id") == client_id).sort("monthly_amount_cents", descending=True)
row_open = rows.filter(pl.col("status").is_in(OPEN_STATUSES) & pl.col("decision").is_null())

st.markdown(f"## {labels[client_id]}")
one, two, three, four = st.columns(4)
under = rows.filter(pl.col("status") == "under_billed")
one.metric("Monthly leakage", common.money(int(under["monthly_amount_cents"].sum())))
two.metric("One-time back-bill", common.money(int(under["back_bill_cents"].sum())))
three.metric(
    "Over-billed (monthly)",
    common.money(-int(rows.filter(pl.col("status") == "over_billed")["monthly_amount_cents"].sum())),
)
four.metric("Open gaps", str(row_open.height))

st.dataframe(
    {
        "Product": rows["product"].to_list(),
        "Contracted": rows["billed_qty"].to_list(),
        "Observed": rows["observed_qty"].to_list(),
        "Excluded": rows["excluded_qty"].to_list(),
        "Billable": rows["billable_qty"].to_list(),
        "Gap": rows["delta_qty"].to_list(),
        "Unit price": [common.money(v) for v in rows["unit_price_cents"]],
        "Monthly": [common.money(v) for v in rows["monthly_amount_cents"]],
        "Back-bill": [common.money(v) for v in rows["back_bill_cents"]],
        "Since": [v or "" for v in rows["since"].to_list()],
        "Status": [common.STATUS_LABELS.get(s, s) for s in rows["status"]],
        "Decision": [(v or "").replace("_", " ") for v in rows["decision"].to_list()],
    },
    hide_index=True,
    width="stretch",
    key="review_table",
)

may_decide = user.has("approver")
if not may_decide:
    st.info(
        "You can browse the review; deciding on gaps needs the approver role.", icon=":material/visibility:"
    )


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def entities(client: int, product_code: str, period_text: str, version: common.DataVersion) -> pl.DataFrame:
    return recon.entities_behind(ctx.reader, ctx.config, client, product_code, period_text)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def candidates(client: int, period_text: str, version: common.DataVersion) -> pl.DataFrame:
    return recon.exclusion_candidates(ctx.reader, ctx.config, client, period_text)


def _entity_name(names: dict[str, str], external_id: str) -> str:
    return names.get(external_id, external_id)


def _attrs(text: str) -> str:
    """The attributes that say what an entity is (class, purpose, SKU), not timestamps."""
    try:
        values = json.loads(text)
        return ", ".join(
            f"{k}={v}" for k, v in values.items() if not (isinstance(v, str) and "T" in v and ":" in v)
        )
    except (ValueError, AttributeError):
        return text


for gap in rows.iter_rows(named=True):
    is_open = gap["status"] in OPEN_STATUSES and gap["decision"] is None
    if not is_open and gap["decision"] is None:
        continue
    code = gap["product_code"]
    title = (
        f"**{gap['product']}** — {gap['billed_qty']} contracted, {gap['billable_qty']} billable "
        f"({gap['delta_qty']:+d}) · {common.money(gap['monthly_amount_cents'])}/mo"
    )
    if gap["decision"]:
        title += f" · decided: {gap['decision']}"
    with st.expander(title, expanded=is_open and code == row_open["product_code"].first()):
        found = entities(client_id, code, period, data)
        if found.height:
            new_since = [
                (d.isoformat() if isinstance(d, date) else str(d)) if d else "" for d in found["first_seen"]
            ]
            st.dataframe(
                {
                    "Name": found["name"].to_list(),
                    "Source": found["source"].to_list(),
                    "Attributes": [_attrs(a) for a in found["attrs"]],
                    "First seen": new_since,
                    "Excluded": [
                        "yes: " + (r or "") if x else ""
                        for x, r in zip(found["excluded"], found["exclusion_reason"], strict=True)
                    ],
                },
                hide_index=True,
                width="stretch",
                height=min(35 * found.height + 40, 320),
                key=f"entities_{code}",
            )
            newest = found.sort("first_seen", descending=True).head(1)
            st.caption(
                f"{found.height} entities behind this count; newest first seen {newest['first_seen'][0]}."
            )
        else:
            st.caption("No entity detail for this count (the source reports totals only).")
        if not is_open:
            st.caption(f"Decided: {gap['decision']}. {gap['decision_note'] or ''}")
            continue
        with st.form(f"decide_{code}"):
            action = st.radio(
                "Decision",
                list(ACTION_LABELS),
                format_func=ACTION_LABELS.__getitem__,
                horizontal=False,
                key=f"action_{code}",
            )
            left, right = st.columns(2)
            quantity = left.number_input(
                "New contracted quantity (bump)",
                min_value=0,
                value=int(gap["billable_qty"]),
                step=1,
                key=f"qty_{code}",
            )
            effective = right.date_input(
                "Effective from (bump)", value=recon.resolve_period(period), key=f"effective_{code}"
            )
            options = found["external_id"].to_list() if found.height else []
            names = dict(zip(found["external_id"], found["name"], strict=True)) if found.height else {}
            excluded = st.multiselect(
                "Entities to exclude",
                options,
                format_func=functools.partial(_entity_name, names),
                key=f"exclude_{code}",
            )
            note = st.text_input("Note (goes to the audit log and the invoice line)", key=f"note_{code}")
            submitted = st.form_submit_button("Record decision", type="primary", disabled=not may_decide)
        if submitted:
            decided = actions.record_decision(
                client_id=client_id,
                product_code=code,
                period=period,
                action=action,
                quantity=int(quantity) if action == "bump" else None,
                effective_date=effective if action == "bump" else None,
                note=note,
                entity_ids=excluded if action == "exclude" else None,
                gap=gap,
                label=f"{labels[client_id]} / {gap['product']}",
            )
            if decided is not None:
                st.rerun()

# --- exclusion candidates -------------------------------------------------------------------------------
suggested = candidates(client_id, period, data)
st.subheader("Suggested exclusions", anchor=False)
if suggested.height == 0:
    st.caption(
        "No shared mailboxes, offline devices or other likely non-billable entities found for this client."
    )
else:
    st.caption(
        "Entities that look non-billable (shared mailboxes, rooms, long-offline devices). Exclude them from the count with a reason."
    )
    st.dataframe(
        {
            "Name": suggested["name"].to_list(),
            "Source": suggested["source"].to_list(),
            "Why": suggested["reason"].to_list(),
            "Attributes": [_attrs(a) for a in suggested["attrs"]],
        },
        hide_index=True,
        width="stretch",
        key="candidates_table",
    )
