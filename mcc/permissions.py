"""Who may do what. Every service function that changes something calls `require` itself, so a
page that forgot to hide a button, or a forged session, still cannot act beyond the user's roles."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from mcc.errors import PermissionDenied

ROLES = ("viewer", "approver", "invoicer", "admin")
ROLE_HELP = {
    "viewer": "read everything",
    "approver": "decide gaps and approve time",
    "invoicer": "approve and push invoices",
    "admin": "users, sources and billing configuration",
}


@dataclass(frozen=True)
class Actor:
    """The person behind an action: a logged-in user, or the operator at the command line."""

    username: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles

    @classmethod
    def cli(cls, username: str | None = None) -> Actor:
        """Whoever runs `mcc` on the server already holds the database; they act with every role,
        under their login name (or MCC_USER) so the audit log says who it was."""
        name = username or os.environ.get("MCC_USER") or getpass.getuser()
        return cls(f"cli:{name}", frozenset(ROLES))


def require(actor: Actor | None, role: str, action: str) -> Actor:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if actor is None:
        raise PermissionDenied("(nobody)", role, action)
    if not actor.has(role):
        raise PermissionDenied(actor.username, role, action)
    return actor
