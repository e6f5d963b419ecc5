"""What-if: if we recover X % of the gaps and back-bill N months — the one-time correction and the
permanently higher recurring baseline, live as the sliders move, with a per-client split."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from mcc import reconciliation as recon
from pages import common
from reconcile.ledger import UNDER_BILLED

user = common.require_user()
ctx = common.context()
period = common.period()
result = common.reconciliation(period, common.version())

common.header("What-if", f"What recovering the gaps still open in {period} would bring in.")
left, right = st.columns(2)
recovery = left.slider("Recovery (% of the open gaps)", 0, 100, 80, step=5, key="whatif_recovery")
max_lookback = max(int(ctx.config.back_bill_months), 1)
lookback = right.slider(
    "Back-bill look-back (months)", 0, max_lookback, min(6, max_lookback), key="whatif_lookback"
)

outcome = common.attempt(lambda: recon.what_if(result, int(recovery), int(lookback)))
if outcome is None:
    st.stop()
one, two, three, four = st.columns(4)
one.metric("One-time correction", common.money(outcome["one_time_cents"]))
two.metric("Monthly uplift", common.money(outcome["monthly_cents"]))
three.metric("Annual uplift", common.money(outcome["annual_cents"]))
four.metric("First-year total", common.money(outcome["one_time_cents"] + outcome["annual_cents"]))
common.stale_flag(
    result,
    common.stale_feeding(
        result.gaps.filter(pl.col("status").is_in(UNDER_BILLED) & pl.col("client_id").is_not_null()),
        result.stale_sources,
    ),
    lead="This estimate uses stale data from",
    quiet=True,
)

if outcome["one_time_cents"] == 0 and outcome["monthly_cents"] == 0:
    common.empty_state(
        "Nothing to recover", "No open under-billed gaps this period, or recovery is set to 0 %."
    )
    st.stop()

months = [f"M{n}" for n in range(1, 13)]
cumulative = [outcome["one_time_cents"] / 100 + outcome["monthly_cents"] / 100 * n for n in range(1, 13)]
figure = go.Figure()
figure.add_bar(
    x=months,
    y=[outcome["monthly_cents"] / 100] * 12,
    name="Recurring uplift",
    marker_color=common.CATEGORY_COLORS["devices"],
)
figure.add_bar(
    x=months,
    y=[outcome["one_time_cents"] / 100] + [0] * 11,
    name="One-time back-bill",
    marker_color=common.CATEGORY_COLORS["subscriptions"],
)
figure.add_scatter(
    x=months, y=cumulative, name="Cumulative", mode="lines+markers", line={"color": "#0f172a", "width": 2}
)
figure.update_layout(**common.PLOTLY_LAYOUT, barmode="stack", height=380)
figure.update_yaxes(tickprefix="$", separatethousands=True, title=None)
st.plotly_chart(figure, width="stretch", key="whatif_chart")

st.subheader("Per client", anchor=False)
clients = outcome["clients"].filter((pl.col("one_time_cents") != 0) | (pl.col("monthly_cents") != 0))
clients = clients.sort("annual_cents", descending=True)
st.dataframe(
    {
        "Client": clients["client"].to_list(),
        "One-time": [common.money(v) for v in clients["one_time_cents"]],
        "Monthly": [common.money(v) for v in clients["monthly_cents"]],
        "Annual": [common.money(v) for v in clients["annual_cents"]],
    },
    hide_index=True,
    width="stretch",
    key="whatif_clients",
)
