"""Exclusion candidates from entity attributes, as frames: each reason a person would want suggested."""

from __future__ import annotations

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from reconcile.candidates import exclusion_candidates
from reconcile.schemas import ENTITIES, ENTITY_ATTRS, frame

DAY = date(2026, 11, 30)


def _entities(n: int) -> pl.DataFrame:
    rows = [
        {
            "entity_id": i,
            "key_id": 1,
            "source": "m365" if i < 10 else "ninja",
            "metric": "users" if i < 10 else "devices",
            "external_id": f"e{i}",
            "org_external_id": "org",
            "name": f"entity {i}",
            "first_seen": DAY,
            "last_seen": DAY,
        }
        for i in range(1, n + 1)
    ]
    return frame(rows, ENTITIES)


def test_each_reason_is_suggested_and_billable_entities_are_not() -> None:
    attrs = frame(
        [
            (1, "user_purpose", "shared"),
            (2, "enabled", "false"),
            (3, "licensed", "false"),
            (4, "skus", "FLOW_FREE,TEAMS_EXPLORATORY"),  # only free licences
            (5, "skus", "SPB,FLOW_FREE"),  # a paid licence too: billable
            (6, "user_purpose", "user"),
            (11, "last_contact", "2026-09-01T10:00:00+00:00"),  # 90 days silent
            (12, "last_contact", "2026-11-29T10:00:00+00:00"),
        ],
        ENTITY_ATTRS,
    )
    reasons = exclusion_candidates(_entities(12), attrs, {"ninja": 30}, DAY)
    expected = pl.DataFrame(
        {
            "entity_id": [1, 2, 3, 4, 11],
            "reason": [
                "shared mailbox",
                "account disabled",
                "no licence assigned",
                "only free or kiosk licences (FLOW_FREE,TEAMS_EXPLORATORY)",
                "offline for 90 days",
            ],
        }
    )
    assert_frame_equal(reasons.sort("entity_id"), expected, check_dtypes=False)
