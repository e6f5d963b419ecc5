"""The one error family a person can act on: every message names what is wrong and where."""

from __future__ import annotations


class MccError(Exception):
    """An error whose message is written for the user; shown without a traceback."""


class ConfigError(MccError):
    """mcc.toml or the environment is wrong."""


class BookError(MccError):
    """A book file or contracts CSV is wrong; nothing was written."""


class PermissionDenied(MccError):
    """The signed-in user lacks the role an action needs."""

    def __init__(self, username: str, role: str, action: str) -> None:
        super().__init__(f"{username or 'anonymous'} may not {action}: the '{role}' role is required")
        self.username = username
        self.role = role


class SourceError(MccError):
    """A vendor could not be read (auth, network, malformed payload)."""


class AuthFailed(SourceError):
    """The vendor refused the credentials (401/403 after a token refresh)."""


class MalformedPayload(SourceError):
    """The vendor answered with something that is not what its protocol promises."""


class DeadlineExceeded(SourceError):
    """A request or a whole run took longer than its deadline (a stalled or trickling vendor)."""


class LimitExceeded(SourceError):
    """A run read more pages or items than its cap (a vendor that pages for ever)."""


class AccountingError(MccError):
    """The accounting system refused or could not take an invoice."""
