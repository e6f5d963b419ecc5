"""Unbilled time: per client, the billable hours not on any invoice, block-hour balance and overage;
select entries and approve them for invoicing (or write them off); enter time with the native timer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import streamlit as st

from mcc import review, timer
from mcc.money import parse_amount
from pages import common
from pages.labels import block_sentence, hours_text

hours = hours_text


user = common.require_user()
ctx = common.context()
period = common.period()
data = common.version()
result = common.reconciliation(period, data)
unbilled = result.unbilled_time

common.header("Unbilled time", f"Billable hours not on any invoice, up to the end of {period}.")
common.flash()
may_approve = user.has("approver")

one, two, three = st.columns(3)
one.metric(
    "Unbilled billable hours", hours(int(unbilled["billable_hours_x100"].sum()) if unbilled.height else 0)
)
two.metric("Unbilled amount", common.money(int(unbilled["billable_cents"].sum()) if unbilled.height else 0))
three.metric("Clients with unbilled time", str(unbilled.height))

if unbilled.height == 0:
    common.empty_state(
        "No unbilled time",
        "All billable time is invoiced. New entries from time sources or the timer below show here.",
    )
else:
    st.dataframe(
        {
            "Client": unbilled["client"].to_list(),
            "Entries": unbilled["entries"].to_list(),
            "Unbilled hours": [hours(v) for v in unbilled["unbilled_hours_x100"]],
            "Billable hours": [hours(v) for v in unbilled["billable_hours_x100"]],
            "Billable amount": [common.money(v) for v in unbilled["billable_cents"]],
            "Prepaid block": [
                block_sentence(block, used, billable)
                for block, used, billable in zip(
                    unbilled["block_hours_x100"],
                    unbilled["block_used_hours_x100"],
                    unbilled["billable_hours_x100"],
                    strict=True,
                )
            ],
        },
        hide_index=True,
        width="stretch",
        column_config={
            "Client": st.column_config.TextColumn("Client", width="medium"),
            "Prepaid block": st.column_config.TextColumn(
                "Prepaid block",
                width="large",
                help="Hours the client prepaid, how many billable hours inside the block's dates used it "
                "(invoiced ones too), and the unbilled hours it does not cover: those are billed.",
            ),
        },
        key="unbilled_summary",
    )
    st.caption(
        "Billable hours are the unbilled hours a prepaid block does not pay for; a block pays for billable "
        "time in date order until it is used up."
    )

names = common.clients(data)
if not names:
    st.stop()
with_time = unbilled["client_id"].to_list() if unbilled.height else []
choices = with_time + [cid for cid in names if cid not in with_time]
client_id = st.selectbox(
    "Client", choices, format_func=lambda cid: names.get(cid, str(cid)), key="time_client"
)
entries = common.open_time_entries(int(client_id), data)

st.subheader(f"Entries for {common.md(names.get(client_id, ''))}", anchor=False)
if entries.height == 0:
    st.caption("No open time entries for this client.")
else:
    with st.form("time_select"):
        shown = pd.DataFrame(
            {
                "Select": [False] * entries.height,
                "Day": [common.day_text(d) for d in entries["day"]],
                "Person": [common.blank(v) for v in entries["person"]],
                "Hours": entries["hours"].to_list(),
                "Rate": ["" if v is None else common.money(v) for v in entries["rate_cents"]],
                "Billable": entries["billable"].to_list(),
                "Note": [common.blank(v) for v in entries["note"]],
                "Approved by": [common.blank(v) for v in entries["approved_by"]],
                "id": entries["id"].to_list(),
            }
        )
        table = st.data_editor(
            shown,
            hide_index=True,
            width="stretch",
            disabled=[column for column in shown.columns if column != "Select"],
            column_config={
                "Select": st.column_config.CheckboxColumn("Select", width=70),
                "Day": st.column_config.TextColumn("Day", width=100),
                "Hours": st.column_config.TextColumn("Hours", width=70),
                "Rate": st.column_config.TextColumn("Rate", help="Blank: the product's hourly rate."),
                "Approved by": st.column_config.TextColumn(
                    "Approved by", help="Blank: not approved for invoicing yet."
                ),
                "id": None,
            },
            key="time_editor",
        )
        note = st.text_input("Note", key="time_note")
        left, right, _ = st.columns([1.4, 1, 4])
        approve = left.form_submit_button("Approve for invoicing", type="primary", disabled=not may_approve)
        write_off = right.form_submit_button("Write off", disabled=not may_approve)
    selected = [int(row["id"]) for _, row in table.iterrows() if row["Select"]]
    if approve or write_off:
        service = review.approve_time if approve else review.write_off_time
        done = common.attempt(
            lambda: service(ctx.engine, common.actor(), selected, note),
            success=f"{len(selected)} entr{'y' if len(selected) == 1 else 'ies'} {'approved' if approve else 'written off'}",
        )
        if done is not None:
            st.rerun()
    if not may_approve:
        st.caption("Approving or writing off time needs the approver role.")

st.subheader("Log time", anchor=False)
with st.form("timer", clear_on_submit=True):
    left, middle, right = st.columns(3)
    day = left.date_input("Day", value=datetime.now(UTC).date(), key="timer_day")
    person = middle.text_input("Who", value=user.name, key="timer_person")
    worked = right.number_input(
        "Hours", min_value=0.25, max_value=24.0, value=1.0, step=0.25, key="timer_hours"
    )
    rate = left.text_input("Hourly rate (blank: the product rate)", key="timer_rate")
    billable = middle.checkbox("Billable", value=True, key="timer_billable")
    what = st.text_input("What was done", key="timer_note")
    if st.form_submit_button("Add entry", disabled=not may_approve):

        def add() -> object:
            rate_cents = None
            if rate.strip():
                try:
                    rate_cents = parse_amount(rate, field="hourly rate")
                except ValueError as error:
                    from mcc.errors import MccError

                    raise MccError(str(error)) from None
            return timer.add_time_entry(
                ctx.engine,
                common.actor(),
                int(client_id),
                day,
                person,
                Decimal(str(worked)),
                rate_cents,
                billable,
                what,
            )

        if common.attempt(add, success=f"{worked} h logged for {names.get(client_id, '')}") is not None:
            st.rerun()
