"""The QuickBooks Web Connector service: the Web Connector on the bookkeeper's machine polls this SOAP
service, asks for qbXML requests and hands back QuickBooks Desktop's answers.

Invoices reach it through the outbox like every other target: `queue` (the person's push) claims the
outbox row and leaves it waiting; a Web Connector session claims it again under its own lease, checks
the customer and items, looks the invoice up by our reference, adds it only when absent, and records
the TxnID through the outbox's `record_success` / `record_failure`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from pydantic import SecretStr
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from accounting.base import InvoiceDocument, OutcomeUnknown, Rejected, RemoteInvoice, check_lines
from accounting.outbox import LEASE, Claim, PushResult, claim, new_owner, record_failure, record_success
from accounting.qbd import (
    add_outcome,
    add_request,
    answers,
    check_outcome,
    check_request,
    desktop_reference,
    document_from_json,
    document_to_json,
)
from mcc.config import Config
from mcc.errors import AccountingError, ConfigError, MccError
from mcc.permissions import Actor
from store.db import transaction
from store.models import Client, Invoice, OutboxEntry, QbwcSession
from store.types import utcnow

log = logging.getLogger(__name__)

TARGET = "qbd"
WAITING = "waiting for the Web Connector to poll"
SENDING = "the Web Connector is sending it to QuickBooks Desktop"
KEEP_CLOSED = timedelta(days=30)  # closed sessions are kept this long, for looking back at runs
SESSION_IDLE = timedelta(minutes=30)  # a session silent this long is unknown (the Web Connector died)
NOTHING_LEFT = "nothing is waiting to be sent to QuickBooks Desktop in this session"
UNKNOWN_TICKET = "MCC does not know this Web Connector session (it ended or expired); the next scheduled run starts a new one"


def queue(engine: Engine, actor: Actor, invoice_id: int, *, company: str, due_days: int) -> PushResult:
    """The person's push for QuickBooks Desktop: the outbox row is claimed (key, audit event) and then
    left for the Web Connector, with the invoice saying it waits for the next poll."""
    taken = claim(
        engine, actor, invoice_id, target=TARGET, company=company, due_days=due_days, owner=new_owner()
    )
    if isinstance(taken, PushResult):
        return taken
    try:
        check_lines(taken.document)  # nothing inconsistent is ever handed to the Web Connector
    except Rejected as error:
        return record_failure(engine, actor, taken, error)
    with transaction(engine) as session:
        entry = session.get_one(OutboxEntry, taken.outbox_id)
        invoice = session.get_one(Invoice, entry.invoice_id)
        client = session.get_one(Client, invoice.client_id)
        if entry.lease_owner == taken.owner:
            entry.lease_owner = None
            entry.lease_until = None
        invoice.last_error = WAITING
        return PushResult(invoice.id, client.name, "queued", invoice.total_cents, message=WAITING)


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class Job:
    session_id: int
    owner: str
    outbox_id: int
    step: str
    document: InvoiceDocument
    attempt: int

    def claim(self) -> Claim:
        return Claim(self.outbox_id, self.document, self.attempt, True, self.owner)


class WebConnectorService:
    """The eight Web Connector methods over the database; the SOAP layer (`accounting.soap`) calls these."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        *,
        username: str,
        password: SecretStr,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.config = config
        self.username = username
        self.password = password
        self.clock = clock
        self.company = _company(config)

    @classmethod
    def from_environment(cls, engine: Engine, config: Config) -> WebConnectorService:
        from collectors.http import remember_secret
        from mcc.config import read_secrets

        values = read_secrets("qbd", ("USERNAME", "PASSWORD"))
        remember_secret(values["PASSWORD"].get_secret_value())  # redacted from every log line
        return cls(
            engine, config, username=values["USERNAME"].get_secret_value(), password=values["PASSWORD"]
        )

    # --- the Web Connector's methods --------------------------------------------------------------

    def server_version(self) -> str:
        return "Morton Command Center 1"

    def client_version(self, version: str) -> str:
        """An empty answer lets every Web Connector version run ("W:…" would warn, "E:…" refuse)."""
        return ""

    def authenticate(self, username: str, password: str) -> list[str]:
        """[ticket, ""|company file] when there is work, [ticket, "none"] when not, ["", "nvu"] for bad
        credentials."""
        # Only the first two entries: the optional third and fourth (postpone the next run, minimum run
        # interval) are left to the .qwc file's schedule.
        if not (_same(username, self.username) & _same(password, self.password.get_secret_value())):
            log.warning("Web Connector login refused for user %r", username)
            return ["", "nvu"]
        ticket = secrets.token_urlsafe(32)
        now = self.clock()
        with transaction(self.engine) as session:
            session.execute(delete(QbwcSession).where(QbwcSession.closed_at < now - KEEP_CLOSED))
            row = QbwcSession(
                ticket_hash=_hash(ticket),
                username=username,
                owner=new_owner(),
                created_at=now,
                updated_at=now,
                tried={"outbox": []},
                written=0,
            )
            session.add(row)
            session.flush()
            session_id = row.id
        if self._advance(session_id):
            return [ticket, self.config.accounting.company_file or ""]
        self._close(session_id)
        return [ticket, "none"]

    def send_request_xml(self, ticket: str) -> str:
        """The next qbXML request, or "" (the Web Connector then asks getLastError and stops)."""
        # Unverified: that the Web Connector treats "" as the end of the run (getLastError, then
        # closeConnection) rather than retrying; the programmer's guide says so for QBWC 2.x.
        job = self._job(ticket)
        if job is None:
            return self._nothing_to_send(ticket)
        if not self._still_ours(job):
            return ""
        prefix = f"mcc-{job.outbox_id}"
        return (
            check_request(job.document, prefix) if job.step == "check" else add_request(job.document, prefix)
        )

    def receive_response_xml(self, ticket: str, response: str, hresult: str, message: str) -> int:
        """Percent done: 100 ends the session, less asks for the next request, negative means an error."""
        job = self._job(ticket)
        if job is None:
            self._nothing_to_send(ticket)
            return -1
        if hresult:
            said = f"the Web Connector reported {hresult}: {message or 'no message'}"
            self._failed(
                job,
                OutcomeUnknown(
                    f"QuickBooks Desktop did not take the request ({said}); the next poll looks the invoice up again"
                ),
            )
            return self._progress(job.session_id)
        try:
            found = answers(response)
            if job.step == "check":
                existing = check_outcome(found, job.document)
                if existing is None:
                    return self._to_add(job)
                self._succeeded(job, existing)
            else:
                self._succeeded(job, add_outcome(found, job.document))
        except MccError as error:
            self._failed(job, error)
        return self._progress(job.session_id)

    def connection_error(self, ticket: str, hresult: str, message: str) -> str:
        """The Web Connector could not open QuickBooks: the invoice stays queued for the next poll."""
        job = self._job(ticket)
        if job is not None:
            self._failed(
                job,
                OutcomeUnknown(
                    f"the Web Connector could not open QuickBooks Desktop ({hresult}: {message}); "
                    "it tries again on its next scheduled run"
                ),
            )
        return "done"

    def get_last_error(self, ticket: str) -> str:
        with transaction(self.engine) as session:
            row = self._row(session, ticket, touch=False)
            return UNKNOWN_TICKET if row is None else row.last_error or ""

    def close_connection(self, ticket: str) -> str:
        with transaction(self.engine) as session:
            row = self._row(session, ticket, touch=False)
            if row is None:
                return "OK"
            session_id, written = row.id, row.written
        self._close(session_id)
        return f"OK: {written} invoice(s) written to QuickBooks Desktop"

    # --- sessions and jobs ------------------------------------------------------------------------

    def _row(self, session: Session, ticket: str, *, touch: bool = True) -> QbwcSession | None:
        row = session.scalars(
            select(QbwcSession).where(QbwcSession.ticket_hash == _hash(ticket or "")).with_for_update()
        ).first()
        now = self.clock()
        if row is None or row.closed_at is not None or row.updated_at + SESSION_IDLE < now:
            return None
        if touch:
            row.updated_at = now
        return row

    def _job(self, ticket: str) -> Job | None:
        with transaction(self.engine) as session:
            row = self._row(session, ticket)
            if row is None or row.outbox_id is None or row.document is None or row.step is None:
                return None
            return Job(
                row.id,
                row.owner,
                row.outbox_id,
                row.step,
                document_from_json(row.document["document"]),
                int(row.document.get("attempt", 1)),
            )

    def _nothing_to_send(self, ticket: str) -> str:
        """An empty request for a call with no invoice behind it; getLastError then says why."""
        with transaction(self.engine) as session:
            row = self._row(session, ticket)
            if row is not None:
                row.last_error = row.last_error or NOTHING_LEFT
        return ""

    def _candidates(self) -> list[int]:
        """Invoices whose newest outbox row for this target is open: queued, or retried after a lock."""
        newest = select(func.max(OutboxEntry.id)).group_by(OutboxEntry.invoice_id).scalar_subquery()
        with transaction(self.engine) as session:
            return list(
                session.scalars(
                    select(OutboxEntry.invoice_id)
                    .join(Invoice, Invoice.id == OutboxEntry.invoice_id)
                    .where(
                        OutboxEntry.id.in_(newest),
                        OutboxEntry.target == TARGET,
                        OutboxEntry.state == "sent",
                        Invoice.status.in_(("pushing", "failed")),
                    )
                    .order_by(OutboxEntry.id)
                )
            )

    def _advance(self, session_id: int) -> bool:
        """Claim the next waiting invoice for this session; False when none is left for it."""
        with transaction(self.engine) as session:
            row = session.get_one(QbwcSession, session_id)
            tried = set(row.tried.get("outbox", []))
            owner, username = row.owner, row.username
        actor = Actor(f"qbwc:{username}", frozenset())
        for invoice_id in self._candidates():
            if invoice_id in tried:
                continue
            taken = claim(
                self.engine,
                actor,
                invoice_id,
                target=TARGET,
                company=self.company,
                due_days=self.config.accounting.due_days,
                owner=owner,
            )
            if isinstance(taken, PushResult):
                continue  # pushed meanwhile, or another session holds it
            document = replace(
                taken.document, reference=desktop_reference(invoice_id, taken.document.idempotency_key)
            )
            with transaction(self.engine) as session:
                row = session.get_one(QbwcSession, session_id)
                row.outbox_id = taken.outbox_id
                row.step = "check"
                row.document = {"document": document_to_json(document), "attempt": taken.attempt}
                row.tried = {"outbox": sorted(tried | {invoice_id})}
                row.updated_at = self.clock()
                invoice = session.get_one(Invoice, invoice_id)
                invoice.last_error = SENDING
            return True
        return False

    def _renew(self, job: Job) -> bool:
        """Extend our lease, or learn that we lost it: no request is handed out without a live lease."""
        with transaction(self.engine) as session:
            changed = session.execute(
                update(OutboxEntry)
                .where(
                    OutboxEntry.id == job.outbox_id,
                    OutboxEntry.lease_owner == job.owner,
                    OutboxEntry.state == "sent",
                )
                .values(lease_until=utcnow() + LEASE)
            )
            return bool(getattr(changed, "rowcount", 0))

    def _still_ours(self, job: Job) -> bool:
        """Renew the lease; if another session took the invoice over meanwhile, this one lets go of it
        without sending or recording anything (the other session looks it up before any add)."""
        if self._renew(job):
            return True
        self._drop(job, f"invoice {job.document.invoice_id} was taken over by another Web Connector session")
        return False

    def _to_add(self, job: Job) -> int:
        if not self._still_ours(job):
            return self._progress(job.session_id)
        with transaction(self.engine) as session:
            row = session.get_one(QbwcSession, job.session_id)
            row.step = "add"
        return 50

    def _clear(self, session_id: int, error: str | None = None, written: int = 0) -> None:
        with transaction(self.engine) as session:
            row = session.get_one(QbwcSession, session_id)
            row.outbox_id = None
            row.step = None
            row.document = None
            row.written += written
            if error is not None:
                row.last_error = error

    def _drop(self, job: Job, error: str) -> None:
        log.warning("%s", error)
        self._clear(job.session_id, error)

    def _succeeded(self, job: Job, remote: RemoteInvoice) -> None:
        if not self._still_ours(job):
            return
        record_success(self.engine, self._actor(job), job.claim(), remote)
        self._clear(job.session_id, written=1)

    def _failed(self, job: Job, error: MccError) -> None:
        if not isinstance(error, AccountingError):
            error = AccountingError(str(error))
        if not self._still_ours(job):
            return
        log.warning("QuickBooks Desktop push of invoice %s failed: %s", job.document.invoice_id, error)
        record_failure(self.engine, self._actor(job), job.claim(), error)
        self._clear(job.session_id, f"invoice {job.document.invoice_id}: {error}")

    def _actor(self, job: Job) -> Actor:
        with transaction(self.engine) as session:
            username = session.get_one(QbwcSession, job.session_id).username
        return Actor(f"qbwc:{username}", frozenset())

    def _progress(self, session_id: int) -> int:
        return 50 if self._advance(session_id) else 100

    def _close(self, session_id: int) -> None:
        """End a session; an invoice it still held goes back to waiting (the next session looks it up
        by reference before any add, so a request QuickBooks did run is found, not repeated)."""
        with transaction(self.engine) as session:
            row = session.get_one(QbwcSession, session_id)
            if row.outbox_id is not None:
                session.execute(
                    update(OutboxEntry)
                    .where(OutboxEntry.id == row.outbox_id, OutboxEntry.lease_owner == row.owner)
                    .values(lease_until=None, lease_owner=None)
                )
            row.outbox_id = None
            row.step = None
            row.document = None
            row.closed_at = self.clock()


def _company(config: Config) -> str:
    from accounting.registry import company_of

    return company_of(config)


# --- the .qwc file a bookkeeper opens in the Web Connector -------------------------------------------

OWNER_ID = uuid.uuid5(uuid.NAMESPACE_URL, "https://mortoncommandcenter.local/qbwc/owner")


def file_id_of(config: Config) -> str:
    """The company's FileID: configured, or derived from the company file so it stays the same."""
    if config.accounting.file_id:
        return config.accounting.file_id.strip("{}").upper()
    material = f"https://mortoncommandcenter.local/qbwc/file/{config.accounting.company_file or ''}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, material)).upper()


def qwc_text(config: Config, *, app_url: str, username: str, every_minutes: int = 15) -> str:
    """The QBWCXML document. The Web Connector accepts https URLs, and http only for localhost."""
    parts = urlsplit(app_url)
    local = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ConfigError(
            f"--url {app_url!r}: the Web Connector needs an https:// address (http only for localhost)"
        )
    if not 1 <= every_minutes <= 10080:
        raise ConfigError(f"--every {every_minutes}: give minutes between 1 and 10080 (a week)")
    support = f"{parts.scheme}://{parts.netloc}/"

    def element(name: str, value: str) -> str:
        return f"  <{name}>{escape(value)}</{name}>\n"

    return (
        '<?xml version="1.0"?>\n<QBWCXML>\n'
        + element("AppName", "Morton Command Center")
        + element("AppID", "")
        + element("AppURL", app_url)
        + element("AppDescription", "Approved invoices from Morton Command Center, written once each")
        + element("AppSupport", support)
        + element("UserName", username)
        + element("OwnerID", "{" + str(OWNER_ID).upper() + "}")
        + element("FileID", "{" + file_id_of(config) + "}")
        + element("QBType", "QBFS")
        + f"  <Scheduler>\n    <RunEveryNMinutes>{every_minutes}</RunEveryNMinutes>\n  </Scheduler>\n"
        + element("IsReadOnly", "false")
        + "</QBWCXML>\n"
    )
