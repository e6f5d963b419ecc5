"""Audit: every decision and change, filterable, and whether the hash chain still holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import streamlit as st
from sqlalchemy import select

from pages import common
from pages.formatting import describe_payload
from store.audit import verify_chain
from store.db import reading
from store.models import AuditEvent

user = common.require_user()
ctx = common.context()
data = common.version()
common.header(
    "Audit", "Every decision and change, who made it and when. The log is hash-chained: tampering shows."
)


@st.cache_data(ttl=300, max_entries=4, show_spinner="Verifying the chain…")
def chain(version: int) -> tuple[bool, int, int | None, str | None]:
    with reading(ctx.reader) as session:
        report = verify_chain(session)
    return report.ok, report.checked, report.first_bad_id, report.reason


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def events(
    version: int, since: datetime, actor: str, action: str, text: str, limit: int
) -> list[dict[str, object]]:
    with reading(ctx.reader) as session:
        query = select(AuditEvent).where(AuditEvent.at >= since).order_by(AuditEvent.id.desc()).limit(limit)
        if actor:
            query = query.where(AuditEvent.actor == actor)
        if action:
            query = query.where(AuditEvent.action.startswith(action))
        if text:
            query = query.where(AuditEvent.payload.contains(text) | AuditEvent.entity_id.contains(text))
        return [
            {
                "#": e.id,
                "When": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                "Who": e.actor,
                "Action": e.action,
                "Entity": f"{e.entity.replace('_', ' ')} {e.entity_id or ''}".strip(),
                "Details": _details(e.payload),
                "payload": e.payload,
            }
            for e in session.scalars(query)
        ]


def _details(payload: str) -> str:
    return describe_payload(payload, common.money)


ok, checked, bad, reason = chain(data.audit)
if ok:
    st.success(f"Chain verified: all {checked} events are intact.", icon=":material/verified:")
else:
    st.error(
        f"Chain broken at event #{bad}: {reason}. Investigate before trusting the log.",
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
text = last.text_input("Contains", key="audit_text")
since = (datetime.now(UTC) - timedelta(days=int(days))).replace(second=0, microsecond=0)
rows = events(data.audit, since, actor.strip(), action, text.strip(), 1000)
if not rows:
    common.empty_state("No events match", "Widen the period or clear the filters.")
else:
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_order=["#", "When", "Who", "Action", "Details", "Entity"],
        column_config={
            "#": st.column_config.NumberColumn("#", width=50),
            "When": st.column_config.TextColumn("When", width=140),
            "Who": st.column_config.TextColumn("Who", width=80),
            "Action": st.column_config.TextColumn("Action", width=130),
            "Details": st.column_config.TextColumn(
                "Details", width=540, help="What the event recorded; the full record is below the table."
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
