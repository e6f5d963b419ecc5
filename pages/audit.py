"""Audit: every decision and change, filterable, and whether the hash chain still holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import streamlit as st

from pages import common, labels
from pages.formatting import describe_payload
from store.audit import verify_chain
from store.audit_search import AuditRow, search_events
from store.db import reading

user = common.require_user()
ctx = common.context()
data = common.version()
common.header(
    "Audit", "Every decision and change, who made it and when. The log is hash-chained: tampering shows."
)


@st.cache_data(ttl=300, max_entries=4, show_spinner="Verifying the chain…")
def chain(version: int) -> tuple[bool, int, str | None, str | None]:
    with reading(ctx.reader) as session:
        report = verify_chain(session)
    return report.ok, report.checked, report.where, report.reason


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def events(
    version: int, since: datetime, actor: str, action: str, text: str, limit: int
) -> list[dict[str, object]]:
    with reading(ctx.reader) as session:
        found = search_events(
            session, since=since, actor=actor, action=action, text=text, limit=limit, describe=_line
        )
        return [
            {
                "#": row.id,
                "When": labels.when_text(row.at),
                "Who": row.actor,
                "Action": labels.action_sentence(row.action, row.payload),
                "Client": ", ".join(row.clients),
                "Entity": f"{row.entity.replace('_', ' ')} {row.entity_id or ''}".strip(),
                "Details": _line(row),
                "payload": row.payload_text,
            }
            for row in found
        ]


def _line(row: AuditRow) -> str:
    return describe_payload(row.payload, common.money)


ok, checked, bad, reason = chain(data.audit)
if ok:
    st.success(f"Chain verified: all {checked} events are intact.", icon=":material/verified:")
else:
    st.error(
        f"Chain broken at {bad}: {reason}. Investigate before trusting the log.",
        icon=":material/gpp_bad:",
    )

left, middle, right, last = st.columns(4)
days = left.selectbox(
    "Period",
    [7, 30, 90, 365, 3650],
    index=1,
    format_func=lambda d: f"last {d} days" if d < 3650 else "all",
    key="audit_days",
)
actor = middle.text_input("Who", key="audit_actor")
action = right.selectbox(
    "Kind",
    ["", "decision.", "invoice.", "time.", "user.", "book.", "refresh.", "org."],
    format_func=lambda a: a.rstrip(".").title() or "All",
    key="audit_action",
)
text = last.text_input(
    "Contains", key="audit_text", help="A client's name, a product, a note, an invoice number…"
)
since = (datetime.now(UTC) - timedelta(days=int(days))).replace(second=0, microsecond=0)
rows = events(data.audit, since, actor.strip(), action, text.strip(), 1000)
if not rows:
    common.empty_state("No events match", "Widen the period or clear the filters.")
else:
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_order=["#", "When", "Who", "Action", "Client", "Details", "Entity"],
        column_config={
            "#": st.column_config.NumberColumn("#", width=50),
            "When": st.column_config.TextColumn("When", width=165, help="Times are in UTC."),
            "Who": st.column_config.TextColumn("Who", width=80),
            "Action": st.column_config.TextColumn("Action", width=210),
            "Client": st.column_config.TextColumn("Client", width=150),
            "Details": st.column_config.TextColumn(
                "Details", width=480, help="What the event recorded; the full record is below the table."
            ),
            "payload": None,
        },
        key="audit_table",
    )
    st.caption(f"{len(rows)} most recent matching events (up to 1,000).")
    by_id = {int(str(row["#"])): row for row in rows}
    with st.expander("Everything an event recorded", icon=":material/data_object:"):
        picked = st.selectbox(
            "Event",
            list(by_id),
            index=None,
            placeholder="Choose an event by its #",
            format_func=lambda n: f"#{n} · {by_id[n]['Action']} · {by_id[n]['When']}",
            key="audit_event",
        )
        if picked is not None:
            event = by_id[picked]
            st.markdown(
                f"**{common.md(event['Action'])}** · {common.md(event['Entity'])} · by {common.md(event['Who'])} "
                f"at {event['When']}"
            )
            if event["Details"]:
                st.write(event["Details"])
            try:
                st.json(json.loads(str(event["payload"])), expanded=True)
            except ValueError:
                st.code(str(event["payload"]), language=None, wrap_lines=True)
