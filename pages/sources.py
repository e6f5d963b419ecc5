"""Sources: each source's last run, freshness, error and schedule; Refresh now per source or for all
(with progress); Test connection per source (admins); organisations no client is billed for, with a
suggested client each, reviewed and mapped together on one screen (admins)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from collectors import mapping, refresh
from mcc import onboarding
from pages import actions, common
from pages.formatting import short_error
from store.db import reading
from store.models import SyncRun

user = common.require_user()
ctx = common.context()
data = common.version()
common.header("Sources", "Where the counts come from, how fresh they are, and what failed.")
common.flash()
may_refresh = user.has("approver")


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def last_runs(version: common.DataVersion) -> dict[tuple[str, str], dict[str, object]]:
    with reading(ctx.reader) as session:
        latest = select(func.max(SyncRun.id)).group_by(SyncRun.source, SyncRun.stream)
        runs = session.scalars(select(SyncRun).where(SyncRun.id.in_(latest))).all()
        return {
            (r.source, r.stream): {
                "status": r.status,
                "started": r.started_at,
                "finished": r.finished_at,
                "records": r.records,
                "pages": r.pages,
                "error": r.error,
            }
            for r in runs
        }


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def last_good_coverage(version: common.DataVersion) -> list[dict[str, object]]:
    """Per source and stream, from its latest successful run: values no mapping counts, and notices."""
    with reading(ctx.reader) as session:
        latest = (
            select(func.max(SyncRun.id))
            .where(SyncRun.status == "ok")
            .group_by(SyncRun.source, SyncRun.stream)
        )
        runs = session.scalars(select(SyncRun).where(SyncRun.id.in_(latest)).order_by(SyncRun.source)).all()
        return [
            {
                "source": r.source,
                "stream": r.stream,
                "uncovered": r.uncovered or [],
                "notices": r.notices or [],
            }
            for r in runs
            if r.uncovered or r.notices
        ]


if not ctx.config.sources:
    common.empty_state("No sources configured", "Add [[sources]] to mcc.toml (see the README), then restart.")
    st.stop()

result = common.reconciliation(common.period(), data)
runs = last_runs(data)
rows = []
for source in ctx.config.sources:
    for stream in source.collector.streams:
        run = runs.get((source.name, stream), {})
        rows.append(
            {
                "Source": source.name,
                "Stream": stream,
                "Schedule": source.schedule_for(stream).text,
                "Last run": common.age(run.get("finished") or run.get("started")) if run else "never",  # type: ignore[arg-type]
                "Status": str(run.get("status", "never run")),
                "Records": run.get("records", 0),
                "Data as of": common.age(result.data_as_of.get(source.name)),
                "Fresh": "⚠ stale" if source.name in result.stale_sources else "fresh",
                "Last error": short_error(str(run.get("error") or ""), source.name),
                "error": str(run.get("error") or ""),
            }
        )
st.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    column_config={
        "Source": st.column_config.TextColumn("Source", width=80),
        "Stream": st.column_config.TextColumn("Stream", width=95),
        "Schedule": st.column_config.TextColumn("Schedule", width=120),
        "Last run": st.column_config.TextColumn("Last run", width=85),
        "Status": st.column_config.TextColumn("Status", width=90),
        "Records": st.column_config.NumberColumn("Records", width=70),
        "Data as of": st.column_config.TextColumn("Data as of", width=90),
        "Fresh": st.column_config.TextColumn(
            "Fresh", width=70, help="Stale: the data is older than twice the stream's schedule."
        ),
        "Last error": st.column_config.TextColumn(
            "Last error", width="large", help="The first line; the full text is below the table."
        ),
        "error": None,
    },
    key="sources_table",
)
for row in rows:
    if not row["error"]:
        continue
    st.error(
        f"{row['Source']} / {row['Stream']}: {common.md(row['Last error'])}", icon=":material/sync_problem:"
    )
    full = str(row["error"])
    if full.strip() != row["Last error"]:
        with st.expander(f"Full error from {row['Source']} / {row['Stream']}"):
            st.code(full, language=None, wrap_lines=True)

common.suspicious_drops(confirm=True)
coverage = last_good_coverage(data)
uncovered_rows = [
    {
        "Source": item["source"],
        "Metric": row["metric"],
        "Attribute": row["attr"],
        "Value": row["value"],
        "Units": row["quantity"],
    }
    for item in coverage
    for row in item["uncovered"]  # type: ignore[attr-defined]
]
if uncovered_rows:
    st.subheader("Reported but counted by no mapping", anchor=False)
    st.caption(
        "Device classes, SKUs and products the last sync saw that no mapping feeds into a product: "
        "map them in Billing config, or leave them out on purpose."
    )
    st.dataframe(uncovered_rows, hide_index=True, width="stretch", key="uncovered_table")
for item in coverage:
    for notice in item["notices"]:  # type: ignore[attr-defined]
        st.warning(common.md(f"{item['source']} / {item['stream']}: {notice}"), icon=":material/report:")

st.subheader("Refresh now", anchor=False)
st.caption(
    "Refresh runs a source right away (the worker picks the request up within seconds) — e.g. before "
    "closing a period. Test checks its credentials and reach: a token and a few organisations, nothing stored."
)
requested = None
if st.button("Refresh all", key="refresh_all", type="primary", disabled=not may_refresh):
    requested = common.attempt(
        lambda: refresh.request_refresh(ctx.engine, common.actor(), None, config=ctx.config)
    )
may_test = user.has("admin")
PER_ROW = 4
for first in range(0, len(ctx.config.sources), PER_ROW):
    shelf = ctx.config.sources[first : first + PER_ROW]
    for column, source in zip(st.columns(PER_ROW), shelf, strict=False):
        card = column.container(border=True)
        card.markdown(f"**{common.md(source.name)}**", unsafe_allow_html=True)
        card.caption(f"{source.collector.title} · {source.kind}")
        if card.button(
            "Refresh now",
            key=f"refresh_{source.name}",
            disabled=not may_refresh,
            icon=":material/refresh:",
            width="stretch",
            help=f"Run {source.name} now",
        ):
            requested = common.attempt(
                functools.partial(
                    refresh.request_refresh, ctx.engine, common.actor(), source.name, config=ctx.config
                )
            )
        if card.button(
            "Test connection",
            key=f"test_{source.name}",
            disabled=not may_test,
            icon=":material/network_check:",
            width="stretch",
            help=f"Test the connection to {source.name}: get a token and list a few organisations",
        ):
            check = actions.test_source_connection(source.name)
            if check is not None:
                st.session_state["source_check"] = check
if requested is not None:
    st.session_state["refresh_request"] = requested.id
if not may_refresh:
    st.caption("Refreshing needs the approver role.")
if not may_test:
    st.caption("Testing a connection needs the admin role.")


def show_check(check: onboarding.SourceCheck) -> None:
    """What a connection test found, for a person (the check never carries a secret)."""
    with st.container(border=True):
        (st.success if check.ok else st.error)(
            f"{check.name} ({check.kind}): {common.md(check.message)}",
            icon=":material/check_circle:" if check.ok else ":material/error:",
        )
        seen = f"{check.orgs_seen}{'+' if check.more_orgs else ''}"
        st.markdown(
            f"**Organisations seen:** {seen}"
            + (
                f" · **Sample:** {common.md(', '.join(check.sample_orgs))}"
                if check.sample_orgs and not all(org in check.message for org in check.sample_orgs)
                else ""
            ),
            unsafe_allow_html=True,
        )
        if check.missing_env:
            st.markdown(f"**Missing:** {', '.join(f'`{name}`' for name in check.missing_env)}")
        if check.hint:
            st.info(check.hint, icon=":material/lightbulb:")
        st.caption(f"Checked in {check.seconds:.1f} s; nothing was stored.")
        if st.button("Dismiss", key="source_check_dismiss"):
            st.session_state.pop("source_check", None)
            st.rerun()


checked = st.session_state.get("source_check")
if isinstance(checked, onboarding.SourceCheck):
    show_check(checked)


@st.fragment(run_every="2s")
def progress() -> None:
    request_id = st.session_state.get("refresh_request")
    if not request_id:
        return
    status = common.attempt(lambda: refresh.refresh_status(ctx.engine, int(request_id)))
    if status is None:
        return
    what = status.source or "all sources"
    if status.finished:
        icon = ":material/check_circle:" if status.status == "done" else ":material/error:"
        text = f"Refresh of {what} {status.status}: {status.records} records"
        (st.success if status.status == "done" else st.error)(
            text + (f" — {common.md(status.message)}" if status.message else ""), icon=icon
        )
        if st.button("Dismiss", key="refresh_dismiss"):
            st.session_state.pop("refresh_request", None)
            st.rerun()
        return
    waited = (datetime.now(UTC) - status.requested_at).total_seconds()
    st.info(f"Refresh of {what}: {status.status} ({int(waited)} s)…", icon=":material/hourglass_top:")
    done = [run for run in status.runs if run.status != "running"]
    st.progress(min(1.0, len(done) / max(len(status.runs), 1)) if status.runs else 0.05)
    for run in status.runs:
        st.write(
            f"{run.source} / {run.stream}: {run.status}, {run.records} records"
            + (f" — {common.md(run.error)}" if run.error else "")
        )


progress()

st.subheader("Unmapped organisations", anchor=False)


def _mapped_report() -> None:
    """What the last "Map selected" did, until dismissed."""
    outcome = st.session_state.get("mapped_orgs")
    if not isinstance(outcome, dict):
        return
    mapped, failed = outcome.get("mapped", []), outcome.get("failed", [])
    with st.container(border=True):
        if mapped:
            count = len(mapped)
            st.success(
                f"Mapped {count} organisation{'s' * (count != 1)}; each mapping is in the audit log.",
                icon=":material/check_circle:",
            )
            st.dataframe(
                {
                    "Source": [m["source"] for m in mapped],
                    "Organisation": [m["name"] for m in mapped],
                    "Billed to": [m["client"] for m in mapped],
                    "Was": [m["previous"] or "" for m in mapped],
                },
                column_order=["Source", "Organisation", "Billed to"]
                + (["Was"] if any(m["previous"] for m in mapped) else []),
                hide_index=True,
                width="stretch",
                key="mapped_table",
            )
        for message in failed:
            st.error(common.md(message), icon=":material/error:")
        if st.button("Dismiss", key="mapped_dismiss"):
            st.session_state.pop("mapped_orgs", None)
            st.rerun()


_mapped_report()
orgs = mapping.unmapped_orgs(ctx.reader, ctx.config)
if not orgs:
    st.caption("Every organisation the sources report is billed to a client.")
else:
    is_admin = user.has("admin")
    st.caption(
        "Organisations the sources report that no client is billed for. They are never dropped silently."
    )
    st.markdown("#### Review suggested mappings")
    st.caption(
        f"Each organisation with the client whose name matches best. Ticked: a score of "
        f"{mapping.DEFAULT_MIN_SCORE} or more and no near tie with another client. Untick any that are "
        "wrong, tick others you agree with, then map them all at once; each mapping goes to the audit log."
    )

    def _why(org: mapping.UnmappedOrg) -> str:
        if org.suggested_client_id is None:
            return "no client to suggest"
        reasons = []
        if (org.score or 0) < mapping.DEFAULT_MIN_SCORE:
            reasons.append("low score")
        if org.ambiguous:
            reasons.append("near tie with another client")
        return "; ".join(reasons)

    def _preselected(org: mapping.UnmappedOrg) -> bool:
        return (
            org.suggested_client_id is not None
            and (org.score or 0) >= mapping.DEFAULT_MIN_SCORE
            and not org.ambiguous
        )

    with st.form("map_suggested"):
        edited = st.data_editor(
            pd.DataFrame(
                {
                    "Map": [_preselected(o) for o in orgs],
                    "Source": [o.source for o in orgs],
                    "Organisation": [o.name for o in orgs],
                    "External id": [o.external_id for o in orgs],
                    "Suggested client": [o.suggested_client or "" for o in orgs],
                    "Score": [o.score for o in orgs],
                    "Check": [_why(o) for o in orgs],
                }
            ),
            hide_index=True,
            width="stretch",
            disabled=not is_admin
            or ["Source", "Organisation", "External id", "Suggested client", "Score", "Check"],
            column_config={
                "Map": st.column_config.CheckboxColumn(
                    "Map", width=60, help="Bill this organisation to the suggested client."
                ),
                "Score": st.column_config.NumberColumn("Score", width=70, help="Name similarity, 0-100."),
                "Check": st.column_config.TextColumn("Check", help="Why a suggestion is not ticked."),
            },
            key="suggest_editor",
        )
        submitted = st.form_submit_button(
            "Map selected", type="primary", disabled=not is_admin, icon=":material/link:"
        )
    if submitted:
        ticked = [org for org, tick in zip(orgs, edited["Map"].tolist(), strict=True) if tick]
        chosen = [org for org in ticked if org.suggested_client_id is not None]
        skipped = [org for org in ticked if org.suggested_client_id is None]
        if not ticked:
            st.warning("Tick at least one organisation to map.", icon=":material/info:")
        else:
            outcome = actions.map_orgs(
                [(org.source, org.external_id, int(org.suggested_client_id or 0)) for org in chosen]
            )
            if outcome is not None:
                mapped, failed = outcome
                failed += [f"{org.source}: {org.name}: no client to suggest; map it below" for org in skipped]
                st.session_state["mapped_orgs"] = {
                    "mapped": [
                        {
                            "source": m.source,
                            "name": m.name,
                            "client": m.client,
                            "previous": m.previous_client,
                        }
                        for m in mapped
                    ],
                    "failed": failed,
                }
                st.session_state.pop("suggest_editor", None)
                st.rerun()
    if is_admin:
        names = common.clients(data)
        with (
            st.expander("Map one organisation to another client", icon=":material/edit:"),
            st.form("map_org"),
        ):
            labels = {i: f"{o.source}: {o.name} ({o.external_id})" for i, o in enumerate(orgs)}
            pick = st.selectbox("Organisation", list(labels), format_func=labels.__getitem__, key="map_pick")
            suggested = orgs[pick].suggested_client_id
            ids = list(names)
            client_id = st.selectbox(
                "Bill to client",
                ids,
                index=ids.index(suggested) if suggested in ids else 0,
                format_func=lambda cid: names[cid],
                key="map_client",
            )
            if st.form_submit_button("Map organisation", type="primary"):
                org = orgs[pick]
                if (
                    common.attempt(
                        lambda: mapping.map_org(
                            ctx.engine, common.actor(), org.source, org.external_id, int(client_id)
                        ),
                        success=f"{org.name} is now billed to {names[client_id]}",
                    )
                    is not None
                ):
                    st.rerun()
    else:
        st.caption("Mapping organisations to clients needs the admin role.")
