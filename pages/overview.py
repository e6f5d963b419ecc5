"""Overview (owners): how much is leaking, where, since when — and how fresh the numbers are."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pages import common

user = common.require_user()
period = common.period()
data = common.version()
result = common.reconciliation(period, data)
totals = result.totals

common.header(
    "Overview", f"Billing leakage for {period}: what your tools deliver that your invoices do not cover."
)
common.flash()

# --- freshness of each source -------------------------------------------------------------------
if result.data_as_of:
    cells = []
    for source, moment in sorted(result.data_as_of.items()):
        stale = source in result.stale_sources
        kind = "warn" if stale else "ok"
        label = f"{source} · {common.age(moment)}" + (" · stale" if stale else "")
        cells.append(common.pill(label, kind))
    st.markdown("**Data as of** &nbsp; " + " &nbsp; ".join(cells), unsafe_allow_html=True)
    common.stale_flag(
        result,
        lead="Stale:",
        advice="Refresh on the Sources page before closing the period.",
        quiet=True,
    )
else:
    st.info("No sources are configured yet; add them to mcc.toml to start counting.", icon=":material/info:")

# --- the numbers ----------------------------------------------------------------------------------
one, two, three, four = st.columns(4)
one.metric(
    "Monthly leakage",
    common.money(totals.get("leakage_monthly_cents", 0)),
    help="Under-billed units × price, this period, for gaps not yet decided.",
)
two.metric(
    "One-time back-bill",
    common.money(totals.get("back_bill_cents", 0)),
    help="Past months' own under-billed amounts, within the configured look-back, for gaps not yet decided.",
)
three.metric(
    "Over-billing (monthly)",
    common.money(totals.get("over_billed_monthly_cents", 0)),
    help="Billed for more than delivered: a client relationship risk worth fixing too.",
)
recovered_monthly = totals.get("recovered_monthly_cents", 0)
four.metric(
    "Recovered this period",
    common.money(totals.get("recovered_one_time_cents", 0)),
    f"+{common.money(recovered_monthly)}/mo" if recovered_monthly else None,
    help="Approved back-bills (one-time) and the monthly uplift of approved contract bumps, this period.",
)
decided = [
    (label, totals.get(f"{state}_monthly_cents", 0), totals.get(f"{state}_one_time_cents", 0))
    for label, state in (("Written off", "written_off"), ("Deferred", "deferred"))
]
if any(monthly or one_time for _, monthly, one_time in decided):
    st.caption(
        " · ".join(
            f"{label}: {common.money(monthly)}/mo and {common.money(one_time)} one-time"
            for label, monthly, one_time in decided
        )
    )

gaps = result.gaps
if gaps.height == 0:
    common.empty_state(
        "Nothing to reconcile yet",
        "Import a billing book (Billing config) and let the sources run once; gaps will show here.",
    )
    st.stop()

left, right = st.columns([1, 1.25], gap="large")

# --- leakage per client -----------------------------------------------------------------------------
with left:
    st.subheader("Leakage by client", anchor=False)
    per_client = (
        gaps.filter(pl.col("client_id").is_not_null())
        .group_by("client")
        .agg(
            pl.col("open_monthly_cents").sum().alias("monthly"),
            pl.col("open_one_time_cents").sum().alias("back"),
        )
        .filter(pl.col("monthly") > 0)
        .sort(["monthly", "client"], descending=[True, False])
        .head(15)
        .sort("monthly")
    )
    if per_client.height == 0:
        common.empty_state("No leakage this period", "Every client is billed for what they get.")
    else:
        figure = go.Figure(
            go.Bar(
                x=[v / 100 for v in per_client["monthly"]],
                y=per_client["client"].to_list(),
                orientation="h",
                marker_color=common.CATEGORY_COLORS["devices"],
                text=[common.money(v) for v in per_client["monthly"]],  # exact, like every amount
                textposition="auto",
                customdata=[common.money(v) for v in per_client["back"]],
                hovertemplate="%{y}<br>%{x:$,.2f} a month<br>back-bill %{customdata}<extra></extra>",
            )
        )
        figure.update_layout(**common.PLOTLY_LAYOUT, height=max(260, 28 * per_client.height + 60))
        figure.update_xaxes(tickprefix="$", separatethousands=True, title=None)
        st.plotly_chart(figure, width="stretch", key="leakage_by_client")
        st.caption(
            "Top 15 clients by open monthly leakage; hover for the back-bill. Decide on each gap in **Review**."
        )

# --- leakage over time ------------------------------------------------------------------------------
with right:
    st.subheader("Leakage over time", anchor=False)
    months = common.history(13, data)
    if months.height == 0:
        common.empty_state("No history yet", "Leakage over time appears once sources have run for a month.")
    else:
        by_category = (
            months.group_by("period", "category")
            .agg(pl.col("leakage_cents").sum())
            .sort("period", "category")
        )
        figure = go.Figure()
        order = list(common.CATEGORY_LABELS)
        categories = by_category["category"].unique().to_list()
        for category in sorted(categories, key=lambda c: order.index(c) if c in order else len(order)):
            rows = by_category.filter(pl.col("category") == category)
            figure.add_bar(
                x=rows["period"].to_list(),
                y=[v / 100 for v in rows["leakage_cents"]],
                name=common.category_label(category),
                marker_color=common.category_color(category),
                hovertemplate="%{x}: %{y:$,.2f}<extra>" + common.category_label(category) + "</extra>",
            )
        figure.update_layout(**common.PLOTLY_LAYOUT, barmode="stack", height=420, showlegend=True)
        figure.update_layout(legend_traceorder="normal")  # Devices, Seats, … as listed, not stack order
        figure.update_yaxes(tickprefix="$", separatethousands=True, title=None)
        calendar = sorted(by_category["period"].unique().to_list())  # YYYY-MM sorts as the calendar does
        figure.update_xaxes(type="category", categoryorder="array", categoryarray=calendar, title=None)
        st.plotly_chart(figure, width="stretch", key="leakage_over_time")
        st.caption("Monthly under-billed amount by category, last 13 months.")

# --- the biggest open gaps --------------------------------------------------------------------------
st.subheader("Largest open gaps", anchor=False)
top = (
    gaps.filter(pl.col("open") & pl.col("status").is_in(["under_billed", "no_contract", "unmapped"]))
    .sort(["monthly_amount_cents", "client"], descending=[True, False])
    .head(10)
)
if top.height == 0:
    common.empty_state("No open gaps", "Every gap this period has a decision.")
else:
    st.dataframe(
        {
            "Client": top["client"].to_list(),
            "Product": top["product"].to_list(),
            "Contracted": top["billed_qty"].to_list(),  # the same words as Review
            "Billable": top["billable_qty"].to_list(),
            "Gap": top["delta_qty"].to_list(),
            "Monthly": [common.money(v) for v in top["monthly_amount_cents"]],
            "Back-bill": [common.money(v) for v in top["open_one_time_cents"]],
            "Since": [common.blank(v) for v in top["since"]],
            "Status": [common.STATUS_LABELS.get(s, s) for s in top["status"]],
        },
        hide_index=True,
        width="stretch",
        key="top_gaps",
    )
