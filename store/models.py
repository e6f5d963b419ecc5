"""The schema: the book (clients, products, mappings, contracts, exclusions), what sources saw,
what people decided, and what was invoiced. Every change goes through an Alembic migration."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.types import DecimalText, UTCDateTime, created_now, intpk, metadata, str40, str200, utc_datetime


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UTCDateTime(), Decimal: DecimalText(), dict[str, Any]: JSON()}


# --- the book ---------------------------------------------------------------------------------


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[intpk]
    name: Mapped[str200] = mapped_column(unique=True)
    accounting_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[created_now]

    orgs: Mapped[list[ClientOrg]] = relationship(back_populates="client", cascade="all, delete-orphan")


class ClientOrg(Base):
    """One external organisation (NinjaOne org, M365 tenant, Pax8 company…) billed to one client."""

    __tablename__ = "client_orgs"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    source: Mapped[str40]
    external_id: Mapped[str200]

    client: Mapped[Client] = relationship(back_populates="orgs")


class Product(Base):
    __tablename__ = "products"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(60), unique=True, comment="accounting item code")
    name: Mapped[str200]
    unit_price_cents: Mapped[int]
    unit_cost_cents: Mapped[int | None]
    policy: Mapped[str] = mapped_column(String(10), default="end", comment="end | peak | average")
    tolerance_units: Mapped[int] = mapped_column(default=0)
    tolerance_bp: Mapped[int | None] = mapped_column(comment="tolerance in basis points (2% = 200)")
    prorate: Mapped[bool] = mapped_column(default=False)
    category: Mapped[str | None] = mapped_column(String(20))


class Mapping(Base):
    """Which source metric (with an attribute filter) feeds which product; several are summed."""

    __tablename__ = "mappings"

    id: Mapped[intpk]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    source: Mapped[str40]
    metric: Mapped[str40]
    where: Mapped[dict[str, Any]] = mapped_column("where_json", default=dict)


class Contract(Base):
    """An effective-dated contract line; a quantity change closes one line and opens the next."""

    __tablename__ = "contracts"
    __table_args__ = (Index("ix_contracts_client_product", "client_id", "product_id", "start"),)

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int | None]
    start: Mapped[date]
    end: Mapped[date | None]
    created_at: Mapped[created_now]
    created_by: Mapped[str | None] = mapped_column(String(100))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    origin: Mapped[str | None] = mapped_column(
        String(240), comment="psa:<source>:<line id> for lines applied from a PSA; empty for the book's"
    )


class Exclusion(Base):
    """Entities (entity_external_id) or a rule (where) left out of a client's billable count."""

    __tablename__ = "exclusions"

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    source: Mapped[str40]
    entity_external_id: Mapped[str | None] = mapped_column(String(200))
    where: Mapped[dict[str, Any] | None] = mapped_column("where_json")
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created_now]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    start: Mapped[date | None] = mapped_column(
        comment="applies to months ending on or after it; null: every month"
    )


class HourBlock(Base):
    """Prepaid block hours for a client; time beyond the block is overage."""

    __tablename__ = "hour_blocks"

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    hours: Mapped[Decimal]
    start: Mapped[date]
    end: Mapped[date | None]
    rate_cents: Mapped[int | None] = mapped_column(
        comment="hourly rate of the block's time, if not the default"
    )
    note: Mapped[str | None] = mapped_column(Text)


# --- what the sources saw ---------------------------------------------------------------------


class SourceOrg(Base):
    """Every organisation a source reported, mapped or not (unmapped ones are shown, never dropped)."""

    __tablename__ = "source_orgs"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[intpk]
    source: Mapped[str40]
    external_id: Mapped[str200]
    name: Mapped[str200]
    first_seen: Mapped[utc_datetime]
    last_seen: Mapped[utc_datetime]


class CountKey(Base):
    """One counted series: a source's metric for one org with one set of attributes."""

    __tablename__ = "count_keys"
    __table_args__ = (UniqueConstraint("source", "org_external_id", "metric", "attrs_json"),)

    id: Mapped[intpk]
    source: Mapped[str40]
    org_external_id: Mapped[str200]
    metric: Mapped[str40]
    attrs_json: Mapped[str] = mapped_column(String(500), comment="canonical JSON object of str -> str")


class Observation(Base):
    """A count as observed, stored only when it changed."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_key_at", "key_id", "observed_at"),)

    id: Mapped[intpk]
    key_id: Mapped[int] = mapped_column(ForeignKey("count_keys.id", ondelete="CASCADE"))
    observed_at: Mapped[utc_datetime]
    quantity: Mapped[int]
    cost_cents: Mapped[int | None]
    sync_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"))


class DailyCount(Base):
    """Daily rollup: the count at the end of each day (and its peak that day)."""

    __tablename__ = "daily_counts"

    key_id: Mapped[int] = mapped_column(ForeignKey("count_keys.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    qty_end: Mapped[int]
    qty_peak: Mapped[int]
    cost_cents: Mapped[int | None]


class MonthlyCount(Base):
    """Monthly rollup kept in step with the daily one; what reconciliation and history read."""

    __tablename__ = "monthly_counts"
    __table_args__ = (Index("ix_monthly_counts_month", "month"),)

    key_id: Mapped[int] = mapped_column(ForeignKey("count_keys.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True, comment="first day of the month")
    qty_end: Mapped[int]
    qty_peak: Mapped[int]
    qty_day_sum: Mapped[int] = mapped_column(comment="sum of end-of-day counts over `days` days")
    days: Mapped[int]
    first_day: Mapped[date]
    last_day: Mapped[date]
    cost_cents: Mapped[int | None] = mapped_column(comment="total vendor cost at the last day")


class Entity(Base):
    """A device, user, mailbox, agent or seat behind a count, with when it was first and last seen."""

    __tablename__ = "entities"
    __table_args__ = (
        UniqueConstraint("source", "metric", "external_id"),
        Index("ix_entities_source_org", "source", "org_external_id"),
    )

    id: Mapped[intpk]
    source: Mapped[str40]
    metric: Mapped[str40]
    external_id: Mapped[str200]
    org_external_id: Mapped[str200]
    key_id: Mapped[int] = mapped_column(ForeignKey("count_keys.id", ondelete="CASCADE"), index=True)
    name: Mapped[str200]
    attrs: Mapped[dict[str, Any]] = mapped_column("attrs_json", default=dict)
    first_seen: Mapped[utc_datetime]
    last_seen: Mapped[utc_datetime]


class TimeEntry(Base):
    """Hours worked, from a time source (eBillity) or the native timer."""

    __tablename__ = "time_entries"
    __table_args__ = (UniqueConstraint("source", "external_id"), Index("ix_time_entries_client", "client_id"))

    id: Mapped[intpk]
    source: Mapped[str40]
    external_id: Mapped[str200]
    org_external_id: Mapped[str | None] = mapped_column(String(200))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    day: Mapped[date]
    person: Mapped[str200]
    hours: Mapped[Decimal]
    rate_cents: Mapped[int | None]
    rate: Mapped[Decimal | None] = mapped_column(
        comment="the exact hourly rate the source gave (rate_cents is it in whole cents); null: rate_cents"
    )
    billable: Mapped[bool]
    note: Mapped[str] = mapped_column(Text, default="")
    vendor_invoiced: Mapped[bool] = mapped_column(default=False)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    written_off_by: Mapped[str | None] = mapped_column(String(100))
    written_off_at: Mapped[datetime | None]
    created_at: Mapped[created_now]
    created_by: Mapped[str | None] = mapped_column(String(100))


class PsaContractLine(Base):
    """The agreement lines a PSA listed on its last successful read, replaced as a whole each time.

    Read-only state: a person applies them to `contracts` through `mcc contracts sync`; until then they
    only feed the preview and the "PSA contracts changed" flag.
    """

    __tablename__ = "psa_contract_lines"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[intpk]
    source: Mapped[str40]
    external_id: Mapped[str200]
    org_external_id: Mapped[str200]
    product: Mapped[str200] = mapped_column(comment="the PSA's product identifier")
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal]
    unit_cost: Mapped[Decimal | None]
    start: Mapped[date | None]
    end: Mapped[date | None]
    billed: Mapped[bool]
    description: Mapped[str] = mapped_column(Text, default="")
    agreement: Mapped[str200]
    seen_at: Mapped[utc_datetime]


# --- running the sources ----------------------------------------------------------------------


class SyncRun(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_source_started", "source", "started_at"),)

    id: Mapped[intpk]
    source: Mapped[str40]
    stream: Mapped[str40]
    trigger: Mapped[str] = mapped_column(String(20), default="schedule", comment="schedule | manual | cli")
    status: Mapped[str] = mapped_column(
        String(20), default="running", comment="running | ok | failed | suspicious"
    )
    started_at: Mapped[created_now]
    finished_at: Mapped[datetime | None]
    pages: Mapped[int] = mapped_column(default=0)
    records: Mapped[int] = mapped_column(default=0)
    orgs: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))
    refresh_request_id: Mapped[int | None] = mapped_column(ForeignKey("refresh_requests.id"))
    # A suspicious run's held drops (JSON: what each org x metric had and what this run reported, with
    # the per-key counts to apply if a person confirms); who confirmed them, and when.
    drops: Mapped[str | None] = mapped_column(Text)
    drop_confirmed_by: Mapped[str | None] = mapped_column(String(100))
    drop_confirmed_at: Mapped[datetime | None]
    notices: Mapped[list[str] | None] = mapped_column(
        JSON, comment="records skipped or read with doubt, each located at the vendor"
    )
    uncovered: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON,
        comment="attribute values (device class, SKU, product) no mapping counts: {metric, attr, value, quantity}",
    )


class SourceJob(Base):
    """When each source stream is next due; claimed with a lease so each due run happens once."""

    __tablename__ = "source_jobs"
    __table_args__ = (UniqueConstraint("source", "stream"),)

    id: Mapped[intpk]
    source: Mapped[str40]
    stream: Mapped[str40]
    next_due_at: Mapped[utc_datetime]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    runs: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0, comment="consecutive failures, for back-off")
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)


class RefreshRequest(Base):
    """'Refresh now' from the UI or CLI: queued → running → done | failed."""

    __tablename__ = "refresh_requests"

    id: Mapped[intpk]
    source: Mapped[str | None] = mapped_column(String(40), comment="None = every source")
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[created_now]
    status: Mapped[str] = mapped_column(String(20), default="queued")
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    records: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(
        comment="a dead worker's request is taken over after this"
    )


# --- people, decisions, audit -----------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str200]
    email: Mapped[str200] = mapped_column(default="")
    password_hash: Mapped[str] = mapped_column(String(100))
    roles: Mapped[str] = mapped_column(String(100), comment="comma-separated: viewer,approver,invoicer,admin")
    disabled: Mapped[bool] = mapped_column(default=False)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[created_now]
    last_login_at: Mapped[datetime | None]

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]


class UserSession(Base):
    """One signed-in browser session. The sign-in cookie carries its random id (only a hash is stored);
    signing out, or a password change, disable or lockout of the user, ends it for good."""

    __tablename__ = "user_sessions"

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, comment="sha256 of the cookie's session id"
    )
    username: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[created_now]
    expires_at: Mapped[utc_datetime]
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(40))


class Decision(Base):
    """A person's decision on one gap (append-only): bump, back_bill, write_off, exclude, defer, or undo
    (which names the decision it reverses in `reverses_decision_id`)."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_client_period", "client_id", "period"),)

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    period: Mapped[str] = mapped_column(String(7), comment="YYYY-MM")
    action: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int | None]
    amount_cents: Mapped[int | None] = mapped_column(comment="monthly amount of the gap when decided")
    back_bill_cents: Mapped[int | None]
    effective_date: Mapped[date | None]
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created_now]
    batch_id: Mapped[str | None] = mapped_column(String(40))
    gap: Mapped[dict[str, Any]] = mapped_column(
        "gap_json", default=dict, comment="the gap as shown when decided"
    )
    reverses_decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id"), comment="an undo: the decision it reverses"
    )


class AuditEvent(Base):
    """Hash-chained, append-only (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_events"

    id: Mapped[intpk]
    at: Mapped[utc_datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column("payload_json", Text, comment="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- invoices ---------------------------------------------------------------------------------


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("client_id", "period", "sequence"),)

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    period: Mapped[str] = mapped_column(String(7))
    sequence: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(
        String(20), default="draft", comment="draft | approved | pushing | pushed | failed | void"
    )
    currency: Mapped[str] = mapped_column(String(3))
    total_cents: Mapped[int] = mapped_column(default=0)
    target: Mapped[str | None] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(default=1, comment="bumped on every edit")
    created_at: Mapped[created_now]
    created_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    pushed_at: Mapped[datetime | None]
    remote_id: Mapped[str | None] = mapped_column(String(100))
    remote_number: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    basis: Mapped[dict[str, Any] | None] = mapped_column(
        "basis_json", comment="the decisions and time entries (with their state) the lines were built from"
    )

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20), comment="recurring | back_bill | time | adjustment")
    item_code: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal]
    unit_price_cents: Mapped[int]
    amount_cents: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    time_entry_id: Mapped[int | None] = mapped_column(ForeignKey("time_entries.id"))
    note: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class OutboxEntry(Base):
    """One push of one invoice, keyed so a retry finds the first instead of making a second."""

    __tablename__ = "outbox"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    target: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(
        String(20), default="pending", comment="pending | sent | confirmed | failed"
    )
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    remote_id: Mapped[str | None] = mapped_column(String(100))
    remote_number: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_now]
    updated_at: Mapped[created_now]


class Installation(Base):
    """This database's identity: one row, made when the schema is created and never changed. Every
    idempotency key sent to an accounting system includes it, so two databases never share a key."""

    __tablename__ = "installation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, comment="32 hex characters")
    created_at: Mapped[created_now]


class VaultEntry(Base):
    """Encrypted secrets that must survive restarts (a rotated accounting refresh token)."""

    __tablename__ = "vault"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[created_now]


class QbwcSession(Base):
    """One QuickBooks Web Connector session: its ticket (stored hashed), who logged in, and the invoice it
    is working on between SOAP calls (`document` is what was handed out, so every call sends the same)."""

    __tablename__ = "qbwc_sessions"

    id: Mapped[intpk]
    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(100), comment="lease owner on the outbox rows it claims")
    created_at: Mapped[created_now]
    updated_at: Mapped[created_now]
    closed_at: Mapped[datetime | None]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    step: Mapped[str | None] = mapped_column(String(20), comment="check | add, while an invoice is out")
    document: Mapped[dict[str, Any] | None]
    tried: Mapped[dict[str, Any]] = mapped_column(default=dict, comment="outbox ids already tried")
    written: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class RequestSlot(Base):
    """One request a source made, kept for a window: every process reading a vendor account takes its
    slots here, so together they never exceed the vendor's limit (collectors/limits.py)."""

    __tablename__ = "request_slots"
    __table_args__ = (Index("ix_request_slots_key_at", "key", "at"),)

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(200), comment="kind:source name")
    at: Mapped[float] = mapped_column(comment="seconds since the epoch, this host's clock")


class StagedEntity(Base):
    """An entity a running sync has read, held under its run until the run switches over in one short
    transaction (collectors/sync.py); a failed or suspicious run's rows are deleted, never applied."""

    __tablename__ = "staged_entities"
    __table_args__ = (UniqueConstraint("run_id", "metric", "external_id"),)

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"))
    metric: Mapped[str40]
    external_id: Mapped[str200]
    org_external_id: Mapped[str200]
    key_attrs_json: Mapped[str] = mapped_column(Text, comment="the counted attributes, canonical JSON")
    name: Mapped[str200]
    attrs: Mapped[dict[str, Any]] = mapped_column("attrs_json", default=dict)
