"""Every source kind MCC can read, by its config `kind`."""

from __future__ import annotations

from collectors.base import Source

SOURCE_KINDS: dict[str, type[Source]] = {}


def register(source: type[Source]) -> type[Source]:
    SOURCE_KINDS[source.kind] = source
    return source


def _load() -> None:
    # Importing a vendor module registers it; add new vendors here.
    from collectors import (  # noqa: F401
        autotask,
        connectwise,
        csv_folder,
        datto_rmm,
        datto_saas,
        ebillity,
        halopsa,
        huntress,
        m365,
        native,
        ninjaone,
        pax8,
        rest,
        sentinelone,
    )


_load()
