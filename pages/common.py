"""What every page shares: the context, the data version that keys every cache, money and date
formatting, the period picker, headers, empty states, and running a service call with its error shown."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import polars as pl
import streamlit as st
from sqlalchemy import func, select

from mcc.context import Context, open_context
from mcc.errors import MccError
from mcc.money import fmt
from mcc.permissions import Actor
from mcc.reconciliation import Reconciliation, freshness, reconcile_period
from mcc.reconciliation import history as leakage_history
from pages.formatting import md as md  # pages call common.md
from store.db import reading
from store.frames import last_successful_syncs
from store.models import AuditEvent, Client, Decision, SyncRun, TimeEntry

if TYPE_CHECKING:
    from pages.auth import SignedIn

T = TypeVar("T")

CATEGORY_COLORS = {
    "devices": "#2563eb",
    "rmm": "#2563eb",
    "identity": "#7c3aed",
    "distributor": "#ea580c",
    "seats": "#7c3aed",
    "security": "#dc2626",
    "backup": "#0891b2",
    "subscriptions": "#ea580c",
    "time": "#16a34a",
    "psa": "#0f766e",
    "other": "#64748b",
}
CATEGORY_LABELS = {  # how owners talk about each source category
    "rmm": "Devices",
    "identity": "Seats (Microsoft 365)",
    "security": "Security",
    "backup": "Backup",
    "distributor": "Subscriptions",
    "time": "Time",
    "psa": "Contracts (PSA)",
    "other": "Other",
}
STATUS_LABELS = {
    "under_billed": "Under-billed",
    "over_billed": "Over-billed",
    "match": "Match",
    "within_tolerance": "Within tolerance",
    "no_contract": "No contract",
    "unmapped": "Unmapped",
}
PLOTLY_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "font": {"family": "Inter, Segoe UI, sans-serif", "size": 13, "color": "#1e293b"},
    "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0, "title": None},
    "hoverlabel": {"font_size": 13},
}

CSS = """
<style>
:root { --mcc-accent: #2563eb; }
.block-container { padding-top: 1.5rem; max-width: 1500px; }
[data-testid='stMainBlockContainer'] { padding-top: 1.5rem; }
.mcc-brand { font-size: 1.6rem; font-weight: 700; margin-top: 3rem; }
.mcc-logo { color: var(--mcc-accent); }
.mcc-muted { color: #64748b; font-size: 0.92rem; }
.mcc-user { line-height: 1.35; margin-bottom: 0.3rem; }
.mcc-subtitle { color: #64748b; margin-top: -0.6rem; margin-bottom: 1rem; }
div[data-testid="stMetric"] { background: #f8fafc; border: 1px solid #e2e8f0; border-radius: 10px;
  padding: 0.8rem 1rem; min-height: 118px; }
div[data-testid="stMetricValue"] { font-weight: 650; }
.mcc-empty { border: 1px dashed #cbd5e1; border-radius: 10px; padding: 1.6rem; text-align: center;
  color: #475569; background: #f8fafc; }
.mcc-empty b { display: block; font-size: 1.05rem; color: #1e293b; margin-bottom: 0.3rem; }
.mcc-pill { display: inline-block; padding: 0.1rem 0.55rem; border-radius: 999px; font-size: 0.8rem;
  font-weight: 600; }
.mcc-ok { background: #dcfce7; color: #166534; } .mcc-warn { background: #fef3c7; color: #92400e; }
.mcc-bad { background: #fee2e2; color: #991b1b; } .mcc-info { background: #e0e7ff; color: #3730a3; }
</style>
"""


@st.cache_resource(show_spinner=False)
def context() -> Context:
    """One context (config + engines) per server process."""
    return open_context()


@dataclass(frozen=True)
class DataVersion:
    """Changes whenever a sync, a decision or any audited change lands; every cached query is keyed on it."""

    sync: int
    decision: int
    audit: int


def data_version(ctx: Context) -> DataVersion:
    with reading(ctx.reader) as session:
        row = session.execute(
            select(
                select(func.max(SyncRun.id)).scalar_subquery(),
                select(func.max(Decision.id)).scalar_subquery(),
                select(func.max(AuditEvent.id)).scalar_subquery(),
            )
        ).one()
    return DataVersion(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


def version() -> DataVersion:
    """This run's data version (read once per run)."""
    return data_version(context())


def money(cents: int | None) -> str:
    return fmt(cents, context().config.currency)


def day_text(value: date | datetime | str | None) -> str:
    """A day as YYYY-MM-DD (never a midnight time), blank when there is none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def blank(value: object) -> str:
    """A cell's text: None (and NaN from pandas) shows as nothing, not as the word None."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def header(title: str, subtitle: str | None = None) -> None:
    st.markdown(CSS, unsafe_allow_html=True)
    st.title(title, anchor=False)
    if subtitle:
        st.markdown(f"<div class='mcc-subtitle'>{md(subtitle)}</div>", unsafe_allow_html=True)


def empty_state(title: str, body: str) -> None:
    st.markdown(f"<div class='mcc-empty'><b>{md(title)}</b>{md(body)}</div>", unsafe_allow_html=True)


def pill(text: str, kind: str = "info") -> str:
    return f"<span class='mcc-pill mcc-{kind}'>{md(text)}</span>"


def recent_periods(count: int = 13, today: date | None = None) -> list[str]:
    today = today or datetime.now(UTC).date()
    year, month = today.year, today.month
    periods = []
    for _ in range(count):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods


def period_picker() -> str:
    """The billing period every page works on, chosen once in the sidebar and kept across pages."""
    periods = recent_periods()
    if st.session_state.get("period") not in periods:
        st.session_state["period"] = periods[0]
    return str(
        st.sidebar.selectbox(
            "Billing period",
            periods,
            key="period",
            help="The calendar month being reconciled; the current month shows counts so far.",
        )
    )


def age(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def attempt(action: Callable[[], T], success: str | None = None) -> T | None:
    """Run a service call; an MccError (bad input, missing role, vendor refusal) is shown, not raised."""
    try:
        result = action()
    except MccError as error:
        st.error(md(error), icon=":material/error:")
        return None
    if success:
        st.session_state["flash"] = success
    return result


def flash() -> None:
    """Show (once) the confirmation left by the last action before its rerun."""
    message = st.session_state.pop("flash", None)
    if message:
        st.toast(md(message), icon=":material/check_circle:")


def require_user() -> SignedIn:
    """Every page starts here: who is signed in (roles from the database), or stop. app.py's gate has
    already asked for a password; this makes a page file safe even if it were run on its own."""
    from pages.auth import current_user

    user = current_user(context())
    if user is None:
        st.warning("Please sign in.", icon=":material/lock:")
        st.stop()
    assert user is not None
    return user


def actor() -> Actor:
    """The actor a write handler passes to a service, read afresh from the database at click time;
    the service re-checks the role itself."""
    return require_user().actor


# --- cached queries (keyed on the data version, so a sync or a decision shows on the next run) ---------


@st.cache_resource(max_entries=8, show_spinner="Reconciling…")
def reconciliation(period: str, data: DataVersion) -> Reconciliation:
    """Frames are immutable, so one shared copy per (period, data version) serves every session."""
    ctx = context()
    return reconcile_period(ctx.reader, ctx.config, period)


@st.cache_resource(max_entries=4, show_spinner="Loading history…")
def history(months: int, data: DataVersion) -> pl.DataFrame:
    ctx = context()
    return leakage_history(ctx.reader, ctx.config, months)


def category_label(category: str | None) -> str:
    return CATEGORY_LABELS.get((category or "other").lower(), str(category).title())


def category_color(category: str | None) -> str:
    return CATEGORY_COLORS.get((category or "other").lower(), CATEGORY_COLORS["other"])


def period() -> str:
    """The period chosen in the sidebar (app.py draws the picker before the page runs)."""
    value = st.session_state.get("period")
    return str(value) if value else recent_periods()[0]


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def open_time_entries(client_id: int, data: DataVersion) -> pl.DataFrame:
    """A client's time not yet invoiced or written off (approved or not)."""
    with reading(context().reader) as session:
        rows = session.execute(
            select(
                TimeEntry.id,
                TimeEntry.day,
                TimeEntry.person,
                TimeEntry.hours,
                TimeEntry.rate_cents,
                TimeEntry.billable,
                TimeEntry.note,
                TimeEntry.approved_by,
                TimeEntry.source,
            )
            .where(
                TimeEntry.client_id == client_id,
                TimeEntry.invoice_id.is_(None),
                TimeEntry.vendor_invoiced.is_(False),
                TimeEntry.written_off_at.is_(None),
            )
            .order_by(TimeEntry.day.desc(), TimeEntry.id)
        ).all()
    return pl.DataFrame(
        [
            {
                "id": r[0],
                "day": r[1],
                "person": r[2],
                "hours": str(r[3]),
                "rate_cents": r[4],
                "billable": r[5],
                "note": r[6],
                "approved_by": r[7],
                "source": r[8],
            }
            for r in rows
        ],
        schema={
            "id": pl.Int64,
            "day": pl.Date,
            "person": pl.String,
            "hours": pl.String,
            "rate_cents": pl.Int64,
            "billable": pl.Boolean,
            "note": pl.String,
            "approved_by": pl.String,
            "source": pl.String,
        },
    )


# --- staleness: one flag wherever a stale source's numbers are shown ------------------------------------


class Freshness(Protocol):
    """What a staleness flag needs; a Reconciliation has both, so does `Fresh` (no reconciliation run)."""

    @property
    def data_as_of(self) -> Mapping[str, datetime | None]: ...

    @property
    def stale_sources(self) -> list[str]: ...


@dataclass(frozen=True)
class Fresh:
    data_as_of: dict[str, datetime | None]
    stale_sources: list[str]


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def fresh(data: DataVersion) -> Fresh:
    """Per source: when its data was last refreshed, and which sources are older than twice their
    schedule (the Overview's rule), without reconciling a period."""
    ctx = context()
    with reading(ctx.reader) as session:
        syncs = last_successful_syncs(session)
    as_of, stale = freshness(ctx.config, syncs, datetime.now(UTC))
    return Fresh(as_of, stale)


def source_names(text: str | None) -> list[str]:
    """A gap row's `sources` cell ("huntress,ninja") as names."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def stale_feeding(gaps: pl.DataFrame, stale: Collection[str]) -> list[str]:
    """The stale sources among those feeding these gap rows, in the order `stale` lists them."""
    if not stale or gaps.height == 0 or "sources" not in gaps.columns:
        return []
    fed = {name for text in gaps["sources"].to_list() for name in source_names(text)}
    return [name for name in stale if name in fed]


def stale_mark(sources_text: str | None, stale: Collection[str]) -> str:
    """A row's sources with each stale one marked: "ninja, s1 ⚠ stale"."""
    return ", ".join(f"{name} ⚠ stale" if name in stale else name for name in source_names(sources_text))


def stale_flag(
    state: Freshness,
    among: Collection[str] | None = None,
    *,
    lead: str = "Stale data from",
    advice: str = "Refresh on the Sources page for current numbers.",
    quiet: bool = False,
) -> list[str]:
    """The one staleness flag: names each stale source (restricted to `among`, when given) with the age
    of its data, as a warning, or as a caption when `quiet`. Returns the names flagged."""
    names = [name for name in state.stale_sources if among is None or name in among]
    if not names:
        return names
    listed = ", ".join(
        f"**{name}** ({'never synced' if state.data_as_of.get(name) is None else 'data from ' + age(state.data_as_of.get(name))})"
        for name in names
    )
    rule = (
        "older than twice its sync schedule" if len(names) == 1 else "older than twice their sync schedules"
    )
    text = f"{lead} {listed} — {rule}. {advice}"
    if quiet:
        st.caption(f":material/warning: {text}")
    else:
        st.warning(text, icon=":material/history_toggle_off:")
    return names


@st.cache_data(ttl=300, max_entries=4, show_spinner=False)
def clients(data: DataVersion) -> dict[int, str]:
    with reading(context().reader) as session:
        return {
            cid: name for cid, name in session.execute(select(Client.id, Client.name).order_by(Client.name))
        }


def suspicious_drops(*, confirm: bool) -> None:
    """Runs held as suspicious (counts collapsed; the last good ones were kept), with the numbers, and on
    Sources a Confirm drop button per run (the service re-checks the role and audits it)."""
    from mcc.drops import confirm_drop
    from store.drops import open_suspicious_runs

    with reading(context().reader) as session:
        held = open_suspicious_runs(session)
    for run in held:
        # org ids come from the vendor: shown as text, never as markdown
        numbers = re.sub(
            r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", "; ".join(d.describe() for d in run.drops[:10])
        )
        more = f" and {len(run.drops) - 10} more" if len(run.drops) > 10 else ""
        st.warning(
            f"{run.source} / {run.stream} run #{run.run_id} looks like an outage, so the last good counts "
            f"were kept: {numbers}{more}. Confirm the drop if it is real; the next run reporting the same "
            "also confirms it.",
            icon=":material/trending_down:",
        )
        if confirm and st.button(
            "Confirm drop",
            key=f"confirm_drop_{run.run_id}",
            disabled=not require_user().has("approver"),
            help="Write these counts: the client really has fewer (audited).",
        ):
            done = attempt(
                partial(confirm_drop, context().engine, context().config, actor(), run.run_id),
                success=f"Drop in {run.source} / {run.stream} confirmed",
            )
            if done is not None:
                st.cache_data.clear()
                st.rerun()
