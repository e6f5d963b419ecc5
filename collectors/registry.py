"""Every source kind MCC can read, by its config `kind`."""

from __future__ import annotations

from collectors.base import Source

SOURCE_KINDS: dict[str, type[Source]] = {}


def register(source: type[Source]) -> type[Source]:
    SOURCE_KINDS[source.kind] = source
    return source


def _load() -> None:
    # Importing a vendor module registers it; add new vendors here.
    from collectors import ninjaone  # noqa: F401
    from collectors import huntress  # noqa: F401
    from collectors import sentinelone  # noqa: F401
    from collectors import datto_saas  # noqa: F401


_load()
