"""Review (a billing session on a shared screen): one client at a time, contracted vs observed per
product with the money, the entities behind each count, and a decision per gap."""

from __future__ import annotations

import functools
import re
from typing import Any

import polars as pl
import streamlit as st

from mcc import reconciliation as recon
from mcc import review, undo
from mcc.money import parse_amount
from pages import actions, common
from pages.labels import describe_attributes
from reconcile.periods import month_end

OPEN_STATUSES = ("under_billed", "over_billed", "no_contract")
ACTION_LABELS = {
    "bump": "Bump the agreement to the observed quantity",
    "back_bill": "Bill the one-time back-bill",
    "write_off": "Write off (leave the billing as it is)",
    "exclude": "Exclude entities from the count",
    "defer": "Defer to a later session",
}
FORM_PREFIXES = ("action_", "qty_", "effective_", "exclude_", "note_")
TABLE_COLUMNS = [
    "Product",
    "Contracted",
    "Observed",
    "Excluded",
    "Billable",
    "Gap",
    "Unit price",
    "Monthly",
    "Back-bill",
    "Since",
    "Source",
    "Status",
]
WALK_KEY = "review_walk"
BULK_LABELS = {
    "write_off": "Write off (leave the billing as it is)",
    "defer": "Defer to a later session",
    "back_bill": "Bill each one-time back-bill",
    "bump": "Bump each agreement to the observed quantity",
}

user = common.require_user()
ctx = common.context()
period = common.period()
data = common.version()
seen = recon.entity_version(ctx.reader)  # what the client's entity views are keyed on (decisions leave it)
result = common.reconciliation(period, data)
gaps = result.gaps.filter(pl.col("client_id").is_not_null())

common.header("Review", f"Walk the book client by client for {period} and decide on each gap.")
common.flash()
common.suspicious_drops(confirm=False)

if gaps.height == 0:
    common.empty_state("Nothing to review", "There are no reconciled clients for this period yet.")
    st.stop()

may_decide = user.has("approver")


def bulk_decisions() -> None:
    """Many gaps, one action and one note: e.g. write off every under-billed gap below $20 a month."""
    undecided = result.gaps.filter(
        pl.col("client_id").is_not_null() & pl.col("open") & pl.col("status").is_in(OPEN_STATUSES)
    )
    status_col, category_col, product_col, limit_col = st.columns(4)
    status = status_col.selectbox(
        "Status",
        list(OPEN_STATUSES),
        format_func=lambda s: common.STATUS_LABELS.get(s, s),
        key="bulk_status",
    )
    categories = sorted(c for c in undecided["category"].unique().to_list() if c)
    category = category_col.selectbox(
        "Category",
        [None, *categories],
        format_func=lambda c: "Any" if c is None else common.category_label(c),
        key="bulk_category",
    )
    products = dict(undecided.select("product_code", "product").unique().sort("product").iter_rows())
    product = product_col.selectbox(
        "Product",
        [None, *products],
        format_func=lambda code: "Any" if code is None else f"{products[code]} ({code})",
        key="bulk_product",
    )
    limit_text = limit_col.text_input(
        "Max monthly amount",
        placeholder="any, e.g. 50.00",
        key="bulk_max",
        help="Per gap, in either direction.",
    )
    limit = None
    if limit_text.strip():
        try:
            limit = parse_amount(limit_text.strip().lstrip("$").replace(",", ""), field="max monthly amount")
        except ValueError as error:
            st.error(str(error), icon=":material/error:")
            return
    action_col, note_col = st.columns([1, 2])
    action = action_col.selectbox(
        "Action",
        list(BULK_LABELS),
        index=None,
        placeholder="Choose an action…",
        format_func=BULK_LABELS.__getitem__,
        key="bulk_action",
    )
    note = note_col.text_input(
        "Note for every decision (audit log and invoice lines)"
        + (" — required for a write-off" if action == "write_off" else ""),
        key="bulk_note",
    )
    gap_filter = review.GapFilter(status=status, category=category, product=product, max_amount_cents=limit)
    matching = gap_filter.apply(result.gaps)
    if action == "back_bill":
        matching = matching.filter(pl.col("back_bill_cents") > 0)
    count = matching.height
    monthly = int(matching["monthly_amount_cents"].sum())
    one_time = int(matching["back_bill_cents"].sum())
    st.markdown(
        f"**{count} gap{'s' * (count != 1)} match** · {common.money(monthly)}/mo · back-bill {common.money(one_time)}"
    )
    if count:
        st.dataframe(
            {
                "Client": matching["client"].to_list(),
                "Product": matching["product"].to_list(),
                "Gap": matching["delta_qty"].to_list(),
                "Monthly": [common.money(v) for v in matching["monthly_amount_cents"]],
                "Back-bill": [common.money(v) for v in matching["back_bill_cents"]],
            },
            hide_index=True,
            width="stretch",
            height=min(35 * count + 40, 250),
            key="bulk_preview",
        )
    if not may_decide:
        st.caption("Deciding on gaps needs the approver role.")
    needs_note = action == "write_off" and not note.strip()
    if needs_note:
        st.caption("A write-off needs a note saying why.")
    # What is about to happen, in words and money, before anything happens: the second click confirms.
    summary = _bulk_summary(action, count, monthly, one_time) if action else ""
    asked = st.session_state.get("bulk_confirm")
    wanted = {"summary": summary, "action": action, "filter": gap_filter.describe(), "note": note}
    if asked != wanted:
        st.session_state.pop("bulk_confirm", None)
        if st.button(
            f"{summary}…" if action else "Choose an action first",
            key="bulk_decide",
            disabled=not may_decide or count == 0 or action is None or needs_note,
        ):
            st.session_state["bulk_confirm"] = wanted
            st.rerun()
        return
    assert action is not None
    with st.container(border=True, key="bulk_confirm_box"):
        st.markdown(
            f"**{summary}?** Each gap gets its own decision with this note; one Undo takes back all of it."
        )
        confirm_col, cancel_col = st.columns(2)
        confirmed = confirm_col.button(
            f"Confirm: {summary}",
            key="bulk_confirm_yes",
            type="primary",
            width="stretch",
            disabled=not may_decide,
        )
        if cancel_col.button("Cancel", key="bulk_confirm_no", width="stretch"):
            st.session_state.pop("bulk_confirm", None)
            st.rerun()
    if confirmed:
        st.session_state.pop("bulk_confirm", None)
        decided = actions.decide_bulk(gap_filter, action, note, period)
        if decided:
            st.session_state["review_last"] = {"batch": decided[0].batch_id, "client": None, "label": summary}
            st.rerun()


def _bulk_summary(action: str, count: int, monthly: int, one_time: int) -> str:
    """'Write off 7 gaps, $1,234.00/month': the count and the money the action moves."""
    gaps_text = f"{count} gap{'s' * (count != 1)}"
    if action == "back_bill":
        return f"Bill {count} back-bill{'s' * (count != 1)}, {common.money(one_time)} one-time"
    verb = {"write_off": "Write off", "defer": "Defer", "bump": "Bump"}[action]
    return f"{verb} {gaps_text}, {common.money(monthly)}/month"


with st.expander("Decide many gaps at once", icon=":material/checklist:"):
    bulk_decisions()

progress_text, filter_col, restart = st.columns([3.5, 2.2, 1], vertical_alignment="center")
only_open = filter_col.toggle("Only clients with open gaps", value=True, key="review_only_open")
ranked = (
    gaps.group_by("client_id", "client")
    .agg(pl.col("open").sum().alias("open_gaps"), pl.col("open_monthly_cents").sum().alias("leakage"))
    .sort(["leakage", "client"], descending=[True, False])
)
open_gaps = dict(zip(ranked["client_id"].to_list(), ranked["open_gaps"].to_list(), strict=True))
labels = {cid: name for cid, name in zip(ranked["client_id"], ranked["client"], strict=True)}


def walk_order() -> list[int]:
    """The clients in the order this session walks them: ranked by leakage once, when the walk starts
    (or the period or filter changes), and never re-sorted by the decisions taken on the way."""
    walk = st.session_state.get(WALK_KEY)
    if not walk or walk["period"] != period or walk["only_open"] != only_open:
        chosen = ranked.filter(pl.col("open_gaps") > 0) if only_open else ranked
        walk = {"period": period, "only_open": only_open, "order": chosen["client_id"].to_list()}
        st.session_state[WALK_KEY] = walk
    known = [cid for cid in walk["order"] if cid in labels]  # a client gone from the book drops out
    return known


def _restart_walk() -> None:
    st.session_state.pop(WALK_KEY, None)
    st.session_state.pop("review_client", None)


client_ids = walk_order()
if not client_ids:
    common.empty_state(
        "All decided", "Every gap this period has a decision. Turn off the filter to browse all clients."
    )
    st.stop()

current = st.session_state.get("review_client")
if current not in client_ids:
    current = client_ids[0]
st.session_state["review_client"] = current
position = client_ids.index(current)


def _go(step: int) -> None:
    target = client_ids[(position + step) % len(client_ids)]
    if step > 0 and open_gaps.get(current, 0) == 0:
        st.session_state["flash"] = f"{labels[current]} done → {labels[target]}"
    st.session_state["review_client"] = target


gaps_left = sum(open_gaps.get(cid, 0) for cid in client_ids)
nav_prev, nav_pick, nav_next = st.columns([1, 4, 1], vertical_alignment="bottom")
nav_prev.button("◀ Previous", key="review_prev", on_click=_go, args=(-1,), width="stretch", shortcut="K")
nav_next.button("Next ▶", key="review_next", on_click=_go, args=(1,), width="stretch", shortcut="J")
chosen = nav_pick.selectbox(
    f"Client ({position + 1} of {len(client_ids)}, biggest leakage first when the walk started)",
    client_ids,
    index=position,
    format_func=lambda cid: labels[cid] + (" ✓" if open_gaps.get(cid, 0) == 0 else ""),
    key=f"review_pick_{current}",
)
if chosen != current:
    st.session_state["review_client"] = chosen
    st.rerun()
progress_text.markdown(
    f"**{position + 1} of {len(client_ids)} clients, {gaps_left} gap{'s' * (gaps_left != 1)} left**",
    help="The order is fixed when the walk starts, so decisions never reshuffle it.",
)
restart.button(
    "Re-rank",
    key="review_restart",
    on_click=_restart_walk,
    width="stretch",
    help="Start the walk again from the client with the biggest leakage now.",
)
if st.session_state.get("review_scrolled_for") != current:
    # a new client starts at the top of the page, not where the last one's decisions were
    st.session_state["review_scrolled_for"] = current
    st.html(
        f"<script>/* client {current} */ window.parent.document.querySelectorAll("
        "'[data-testid=\"stMain\"], section.main').forEach((el) => el.scrollTo({top: 0}));"
        "window.parent.scrollTo({top: 0});</script>",
        unsafe_allow_javascript=True,
        width=1,
    )

client_id = int(current)
rows = gaps.filter(pl.col("client_id") == client_id).sort("monthly_amount_cents", descending=True)
row_open = rows.filter(pl.col("open"))


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def suggestions(client: int, period_text: str, version: common.DataVersion) -> dict[str, undo.Suggestion]:
    return undo.last_period_suggestions(ctx.reader, client, period_text)


remembered = suggestions(client_id, period, data)


def _fresh_forms() -> None:
    """The decision forms are keyed by product code, so another client (or period) sets each form's
    starting values afresh; set through the session state, they also replace what the browser shows."""
    shown = (client_id, period)
    if st.session_state.get("review_forms_for") == shown:
        return
    for code in [c for c in gaps["product_code"].unique().to_list() if c]:
        for prefix in FORM_PREFIXES:
            st.session_state.pop(f"{prefix}{code}", None)
    for gap in rows.filter(pl.col("product_code").is_not_null()).iter_rows(named=True):
        code = gap["product_code"]
        # no decision is chosen for the person, except last month's reasoned one, shown as a suggestion
        suggestion = remembered.get(code)
        st.session_state[f"action_{code}"] = suggestion.action if suggestion else None
        st.session_state[f"qty_{code}"] = int(gap["billable_qty"])
        st.session_state[f"effective_{code}"] = recon.resolve_period(period)
        st.session_state[f"exclude_{code}"] = []
        st.session_state[f"note_{code}"] = suggestion.note if suggestion else ""
    st.session_state["review_forms_for"] = shown


_fresh_forms()

client_name = labels[client_id]
heading, downloads = st.columns([3, 1], vertical_alignment="center")
heading.markdown(f"## {common.md(client_name)}")
with downloads.popover("Client billing audit report", icon=":material/description:", width="stretch"):
    st.caption(
        f"Contracted vs observed per product for {period}, the entities behind each count and what "
        "changed since last month — to send to the client. Built when you click."
    )
    stem = re.sub(r"[^A-Za-z0-9]+", "-", client_name).strip("-").lower() or "client"
    for kind, mime in (("html", "text/html"), ("csv", "text/csv")):
        st.download_button(
            f"Download ({kind.upper()})",
            functools.partial(actions.client_report, client_name, period, kind),
            file_name=f"{stem}-{period}-billing-audit.{kind}",
            mime=mime,
            key=f"report_{kind}",
            icon=":material/download:",
            width="stretch",
        )
one, two, three, four = st.columns(4)
client_totals = result.totals_for(client_id)
one.metric("Monthly leakage", common.money(client_totals["leakage_monthly_cents"]))
two.metric("One-time back-bill", common.money(client_totals["back_bill_cents"]))
three.metric("Over-billed (monthly)", common.money(client_totals["over_billed_monthly_cents"]))
four.metric("Open gaps", str(client_totals["open_gaps"]))

stale_here = common.stale_feeding(rows, result.stale_sources)
common.stale_flag(
    result,
    stale_here,
    lead=f"Stale data for {common.md(client_name)} from",
    advice="The rows marked ⚠ may be out of date: refresh on the Sources page before deciding on them.",
)


if not may_decide:
    st.info(
        "You can browse the review; deciding on gaps needs the approver role.", icon=":material/visibility:"
    )


@st.cache_resource(ttl=300, max_entries=64, show_spinner=False)
def client_read(client: int, period_text: str, version: tuple[int, int, int, str]) -> recon.ClientEntities:
    """The client's entities, read once per client and entity version and shared (immutable frames) by every
    gap's list, the suggested exclusions and what each entity is counted toward."""
    return recon.client_entities(ctx.reader, client, period_text)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def entities(
    client: int, product_code: str, period_text: str, version: tuple[int, int, int, str]
) -> pl.DataFrame:
    read = client_read(client, period_text, version)
    return recon.entities_behind(ctx.reader, ctx.config, client, product_code, period_text, read=read)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def candidates(client: int, period_text: str, version: tuple[int, int, int, str]) -> pl.DataFrame:
    read = client_read(client, period_text, version)
    return recon.exclusion_candidates(ctx.reader, ctx.config, client, period_text, read=read)


def _entity_name(names: dict[str, str], external_id: str) -> str:
    return names.get(external_id, external_id)


period_start = recon.resolve_period(period)
period_end = month_end(period_start)
ACTION_SHORT = {
    "bump": "bumped",
    "back_bill": "back-billed once",
    "write_off": "written off",
    "exclude": "entities excluded",
    "defer": "deferred",
}


def _details(gap: dict[str, Any], found: pl.DataFrame) -> None:
    """What stands behind the count: the entities, newest first."""
    code = gap["product_code"]
    if found.height:
        fresh = found["first_seen"].is_between(period_start, period_end).fill_null(False)
        st.dataframe(
            {
                "Name": found["name"].to_list(),
                "First seen": [common.day_text(d) for d in found["first_seen"]],
                "New this period": fresh.to_list(),
                "Source": found["source"].to_list(),
                "Attributes": [describe_attributes(a) for a in found["attrs"]],
                "Excluded": [
                    "yes: " + (r or "") if x else ""
                    for x, r in zip(found["excluded"], found["exclusion_reason"], strict=True)
                ],
            },
            hide_index=True,
            width="stretch",
            height=min(35 * found.height + 40, 320),
            column_config={
                "First seen": st.column_config.TextColumn("First seen", width=96),
                "New this period": st.column_config.CheckboxColumn(
                    "New this period", width=120, help=f"First seen in {period}."
                ),
            },
            key=f"entities_{code}",
        )
        new_count = int(fresh.sum())
        st.caption(
            f"{found.height} entities behind this count, newest first; "
            + (
                f"**{new_count} new this period** (first seen in {period})."
                if new_count
                else f"none new in {period}."
            )
        )
    else:
        st.caption("No entity detail for this count (the source reports totals only).")


def _decided_row(gap: dict[str, Any], title: str, found: pl.DataFrame) -> None:
    """A decided gap collapses to one line with its Undo, laid out like the open row it replaces; the
    Undo sits where the decision was chosen, not where Record was clicked (a double click undoes nothing)."""
    code = gap["product_code"]
    with st.container(border=True, key=f"gap_row_{code}"):
        what, undo_col, note_col, spare = st.columns([3, 2.2, 2.2, 1.5], vertical_alignment="center")
        what.markdown(f"✓ {title}")
        if gap["decision_id"] is not None and may_decide:
            undo_col.button(
                f"Undo · {code}",
                key=f"undo_{gap['decision_id']}",
                help=f"Undo “{ACTION_SHORT.get(gap['decision'], gap['decision'])}” on {gap['product']}: the gap "
                "is open again (audited).",
                on_click=_undo,
                args=(int(gap["decision_id"]), f"{client_name} / {gap['product']}"),
                icon=":material/undo:",
                width="stretch",
            )
        note_col.caption(
            f"Decided: {ACTION_SHORT.get(gap['decision'], gap['decision'])}"
            + (f" · “{common.md(gap['decision_note'])}”" if gap["decision_note"] else "")
        )
        spare.empty()
        with st.expander(f"{found.height} entities behind this count", icon=":material/list:"):
            _details(gap, found)


def _undo(decision_id: int, label: str) -> None:
    if actions.undo_decision(decision_id, label) is not None:
        st.session_state.pop("review_last", None)


def _undo_batch(batch_id: str, label: str) -> None:
    if actions.undo_batch(batch_id, label) is not None:
        st.session_state.pop("review_last", None)


last = st.session_state.get("review_last")
if last and last.get("client") in (None, client_id) and may_decide:
    with st.container(border=True, key="review_last_row"):
        said, button = st.columns([5, 1.4], vertical_alignment="center")
        said.markdown(f":material/check_circle: Just recorded: **{common.md(last['label'])}**")
        if last.get("batch"):
            button.button(
                "Undo all of it",
                key="undo_last",
                on_click=_undo_batch,
                args=(last["batch"], last["label"]),
                icon=":material/undo:",
                width="stretch",
            )
        else:
            button.button(
                "Undo",
                key="undo_last",
                on_click=_undo,
                args=(last["id"], last["label"]),
                icon=":material/undo:",
                width="stretch",
            )

open_codes = [c for c in row_open["product_code"].to_list() if c]
highlighted = st.session_state.get("review_gap")
if highlighted not in open_codes:
    highlighted = open_codes[0] if open_codes else None
st.session_state["review_gap"] = highlighted


def _next_gap() -> None:
    if open_codes:
        at = open_codes.index(highlighted) if highlighted in open_codes else -1
        st.session_state["review_gap"] = open_codes[(at + 1) % len(open_codes)]
        st.session_state["review_scroll_gap"] = True  # only G scrolls: after a decision the page holds still


def _record(client_id: int, code: str, gap: dict[str, Any], client_name: str) -> None:
    """Record a gap's decision in its button's callback, before the page runs: the run that follows
    already shows the decision, so a click is one script run (not a run, a write and a rerun)."""
    state = st.session_state
    action = state.get(f"action_{code}")
    if action is None:
        state[f"review_problem_{code}"] = f"{common.md(gap['product'])}: choose a decision first."
        return
    decided = actions.record_decision(
        client_id=client_id,
        product_code=code,
        period=period,
        action=action,
        quantity=int(state.get(f"qty_{code}") or 0) if action == "bump" else None,
        effective_date=state.get(f"effective_{code}") if action == "bump" else None,
        note=state.get(f"note_{code}") or "",
        entity_ids=(state.get(f"exclude_{code}") or []) if action == "exclude" else None,
        gap=gap,
        label=f"{client_name} / {gap['product']}",
    )
    if decided is not None:
        state["review_last"] = {
            "id": decided.id,
            "client": client_id,
            "label": f"{client_name} / {gap['product']}: {ACTION_SHORT.get(action, action)}",
        }


keys_hint, next_gap = st.columns([5, 1.4], vertical_alignment="center")
keys_hint.caption(
    "Keys: **J** next client · **K** previous client · **G** next gap · **D** record the highlighted gap's "
    "decision (choose it first; Enter in its note records it too)."
)
next_gap.button(
    "Next gap ▼",
    key="review_next_gap",
    on_click=_next_gap,
    shortcut="G",
    width="stretch",
    disabled=len(open_codes) < 2,
)
if highlighted and st.session_state.pop("review_scroll_gap", False):
    st.html(
        f"<script>/* {highlighted} */ window.parent.document.querySelector('.st-key-gap_row_{highlighted}')"
        "?.scrollIntoView({block: 'center'});</script>",
        unsafe_allow_javascript=True,
        width=1,
    )
for gap in rows.iter_rows(named=True):
    is_open = bool(gap["open"])
    if not is_open and gap["decision"] is None:
        continue
    code = gap["product_code"]
    title = (
        f"**{common.md(gap['product'])}** — {gap['billed_qty']} contracted, {gap['billable_qty']} billable "
        f"({gap['delta_qty']:+d}) · {common.money(gap['monthly_amount_cents'])}/mo"
    )
    stale_gap = [name for name in common.source_names(gap["sources"]) if name in stale_here]
    if stale_gap:
        title += f" · ⚠ stale data from {', '.join(stale_gap)}"
    found = entities(client_id, code, period, seen).sort(
        ["first_seen", "name"], descending=[True, False], nulls_last=True
    )
    if not is_open:
        _decided_row(gap, title, found)
        continue
    # One row per gap: what it is, the decision (none chosen for you), a note and Record, side by side;
    # the details a bump or an exclusion needs fold out below it.
    lit = code == highlighted
    with st.container(border=True, key=f"gap_row_{code}"), st.form(f"decide_{code}", border=False):
        what, choice, note_col, record = st.columns([3, 2.2, 2.2, 1.5], vertical_alignment="bottom")
        what.markdown(f"▶ {title}" if lit else title)
        suggestion = remembered.get(code)
        if suggestion:
            what.caption(
                f"Last month: {ACTION_SHORT.get(suggestion.action, suggestion.action)} — "
                f"{common.md(suggestion.note)}, by {common.md(suggestion.author)}. Pre-filled as a suggestion: Record to decide the same again."
            )
        action = choice.selectbox(
            "Decision",
            list(ACTION_LABELS),
            index=None,
            placeholder="Choose a decision…",
            format_func=ACTION_LABELS.__getitem__,
            key=f"action_{code}",
        )
        note = note_col.text_input("Note (audit log and invoice line)", key=f"note_{code}")
        submitted = record.form_submit_button(
            f"Record · {code}",
            type="primary",
            disabled=not may_decide,
            width="stretch",
            key=f"record_{code}",
            shortcut="D" if lit else None,
            on_click=_record,
            args=(client_id, code, gap, client_name),
        )
        with st.expander(
            f"{found.height} entities behind this count · bump quantity and date · entities to exclude",
            expanded=lit and found.height <= 8,
            icon=":material/tune:",
        ):
            left, right = st.columns(2)
            quantity = left.number_input(
                "New contracted quantity (bump)",
                min_value=0,
                step=1,
                key=f"qty_{code}",  # starts at the billable count (_fresh_forms)
            )
            effective = right.date_input("Effective from (bump)", key=f"effective_{code}")
            options = found["external_id"].to_list() if found.height else []
            names = dict(zip(found["external_id"], found["name"], strict=True)) if found.height else {}
            excluded = st.multiselect(
                "Entities to exclude",
                options,
                format_func=functools.partial(_entity_name, names),
                key=f"exclude_{code}",
            )
            _details(gap, found)
    problem = st.session_state.pop(f"review_problem_{code}", None)
    if submitted and problem:
        st.error(problem, icon=":material/error:")


# Every product of the client, matched or not, below the decisions (which stay above the fold).
st.subheader("All products", anchor=False)
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
        "Source": [common.stale_mark(v, stale_here) for v in rows["sources"]],
        "Status": [
            common.STATUS_LABELS.get(status, status)
            + (f" → {decision.replace('_', ' ')}" if decision else "")
            for status, decision in zip(rows["status"], rows["decision"], strict=True)
        ],
    },
    hide_index=True,
    width="stretch",
    column_order=[  # Excluded only when something is excluded: the row stays readable on a laptop
        name for name in TABLE_COLUMNS if name != "Excluded" or int(rows["excluded_qty"].sum()) != 0
    ],
    column_config={
        # widths add up to the main column at 1440 px, so Status (the last column) is never cut off
        "Product": st.column_config.TextColumn("Product", width=177),
        "Contracted": st.column_config.NumberColumn("Contracted", width=80),
        "Observed": st.column_config.NumberColumn("Observed", width=72),
        "Excluded": st.column_config.NumberColumn("Excluded", width=70),
        "Billable": st.column_config.NumberColumn("Billable", width=62),
        "Gap": st.column_config.NumberColumn("Gap", width=44),
        "Unit price": st.column_config.TextColumn("Unit price", width=70),
        "Monthly": st.column_config.TextColumn("Monthly", width=76),
        "Back-bill": st.column_config.TextColumn("Back-bill", width=76),
        "Since": st.column_config.TextColumn("Since", width=80, help="The month the gap opened (YYYY-MM)."),
        "Source": st.column_config.TextColumn(
            "Source",
            width=70,
            help="Where the observed count comes from; ⚠ stale: older than twice its schedule.",
        ),
        "Status": st.column_config.TextColumn("Status", width=165, help="With the decision taken, if any."),
    },
    key="review_table",
)


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def decision_history(client: int, period_text: str, version: common.DataVersion) -> list[undo.HistoryEntry]:
    return undo.history(ctx.reader, client, period_text)


past = decision_history(client_id, period, data)
if past:
    with st.expander(
        f"Decision history for {client_name} in {period} ({len(past)})", icon=":material/history:"
    ):
        offered_batches: set[str] = set()
        for entry in past:
            said, single, whole = st.columns([5, 1.3, 1.5], vertical_alignment="center")
            when = common.day_text(entry.created_at)
            if entry.action == undo.UNDO:
                line = (
                    f"#{entry.id} undo of #{entry.reverses} · {entry.product or ''} · {entry.author} · {when}"
                )
            else:
                line = (
                    f"#{entry.id} {ACTION_SHORT.get(entry.action, entry.action)} · {entry.product or ''} · "
                    f"{entry.author} · {when}"
                    + (f" · “{entry.note}”" if entry.note else "")
                    + (f" · undone by #{entry.undone_by}" if entry.undone_by else "")
                )
            said.markdown(common.md(line))
            if entry.undoable and may_decide:
                single.button(
                    "Undo",
                    key=f"history_undo_{entry.id}",
                    on_click=_undo,
                    args=(entry.id, f"{client_name} / {entry.product}"),
                    width="stretch",
                )
                if entry.batch_id and entry.batch_id not in offered_batches:
                    offered_batches.add(entry.batch_id)
                    whole.button(
                        "Undo its whole bulk batch",
                        key=f"history_undo_batch_{entry.batch_id}",
                        on_click=_undo_batch,
                        args=(entry.batch_id, "Bulk decision"),
                        width="stretch",
                    )

# --- exclusion candidates -------------------------------------------------------------------------------


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def counted_toward(
    client: int, codes: tuple[str, ...], period_text: str, version: tuple[int, int, int, str]
) -> dict[int, str]:
    """entity id -> the product whose count it is in (the first of `codes`, the costliest gap, when several)."""
    feeds: dict[int, str] = {}
    read = client_read(client, period_text, version)
    for product_code in codes:
        found = recon.entities_behind(ctx.reader, ctx.config, client, product_code, period_text, read=read)
        for entity_id in found["entity_id"]:
            feeds.setdefault(int(entity_id), product_code)
    return feeds


def _kind(reason: str) -> str:
    """What a candidate is, for grouping: 'shared mailbox', 'account disabled', 'offline device'…"""
    first = reason.split(";")[0].strip()
    if first.startswith("offline for"):
        return "offline device"
    if first.startswith("only free"):
        return "free or kiosk licences only"
    return first


def _exclude(product_code: str, entity_ids: list[str], reason: str) -> None:
    gap = rows.filter(pl.col("product_code") == product_code).row(0, named=True)
    done = actions.exclude_entities(
        client_id=client_id,
        product_code=product_code,
        period=period,
        entity_ids=entity_ids,
        reason=reason,
        gap=gap,
        label=f"{client_name} / {gap['product']}",
    )
    if done is not None:
        st.rerun()


suggested = candidates(client_id, period, seen)
st.subheader("Suggested exclusions", anchor=False)
if suggested.height == 0:
    st.caption(
        "No shared mailboxes, offline devices or other likely non-billable entities found for this client."
    )
else:
    st.caption(
        "Entities that look non-billable (shared mailboxes, rooms, disabled accounts, long-offline devices). "
        "Exclude one, or all of a kind, with the reason shown (edit it first if needed); the count drops "
        "from this period on and the decision goes to the audit log."
    )
    if not may_decide:
        st.caption("Excluding needs the approver role.")
    codes = tuple(
        rows.filter((pl.col("observed_qty") > 0) & pl.col("product_code").is_not_null())[
            "product_code"
        ].to_list()
    )
    feeds = counted_toward(client_id, codes, period, seen)
    products = dict(zip(rows["product_code"], rows["product"], strict=True))
    listed = suggested.with_columns(
        product_code=pl.col("entity_id").replace_strict(feeds, default=None, return_dtype=pl.String),
        kind=pl.col("reason").map_elements(_kind, return_dtype=pl.String),
    )
    uncounted = listed.filter(pl.col("product_code").is_null())
    listed = listed.filter(pl.col("product_code").is_not_null())
    groups = listed.select("product_code", "kind").unique(maintain_order=True).sort("product_code", "kind")
    for product_code, kind in groups.iter_rows():
        members = listed.filter((pl.col("product_code") == product_code) & (pl.col("kind") == kind))
        size = members.height
        slug = re.sub(r"[^a-z0-9]+", "_", f"{product_code}_{kind}".lower())
        reasons = members["reason"].unique().to_list()
        with st.expander(
            f"**{kind.capitalize()}** · {size} · counted toward {common.md(products.get(product_code, product_code))}",
            expanded=listed.height <= 12,
        ):
            if size > 1:
                left, right = st.columns([4, 1.2], vertical_alignment="bottom")
                reason_all = left.text_input(
                    f"Reason for all {size}",
                    value=reasons[0] if len(reasons) == 1 else kind,
                    key=f"exclude_kind_reason_{slug}",
                )
                if right.button(
                    f"Exclude all {size}",
                    key=f"exclude_kind_{slug}",
                    type="primary",
                    disabled=not may_decide,
                    width="stretch",
                ):
                    _exclude(product_code, members["external_id"].to_list(), reason_all)
            for candidate in members.iter_rows(named=True):
                key = f"{candidate['source']}_{candidate['external_id']}"
                name, reason, button = st.columns([3, 4, 1.2], vertical_alignment="center")
                name.markdown(
                    f"**{common.md(candidate['name'])}**  \n<span class='mcc-muted'>"
                    f"{common.md(candidate['source'])} · {common.md(candidate['metric'])}</span>",
                    unsafe_allow_html=True,
                )
                typed = reason.text_input(
                    f"Reason for {candidate['name']}",
                    value=candidate["reason"],
                    key=f"exclude_reason_{key}",
                    label_visibility="collapsed",
                )
                if button.button(
                    "Exclude", key=f"exclude_one_{key}", disabled=not may_decide, width="stretch"
                ):
                    _exclude(product_code, [candidate["external_id"]], typed)
    if uncounted.height:
        st.caption(
            f"Also suggested but in no product's count (nothing to exclude them from): "
            f"{common.md(', '.join(uncounted['name'].to_list()))}."
        )
