"""Who may do what. Every service function that changes something calls `require` itself, so a
page that forgot to hide a button, or a forged session, still cannot act beyond the user's roles."""

from __future__ import annotations

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
    """The person behind an action: a signed-in user, or the MCC user a CLI command names with --as."""

    username: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


def require(actor: Actor | None, role: str, action: str) -> Actor:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if actor is None:
        raise PermissionDenied("(nobody)", role, action)
    if not actor.has(role):
        raise PermissionDenied(actor.username, role, action)
    return actor
