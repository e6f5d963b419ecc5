"""Entities that look non-billable (shared mailboxes, disabled or unlicensed users, free SKUs,
long-offline devices): suggested for exclusion, never excluded without a person deciding."""

from __future__ import annotations

from datetime import date

import polars as pl

from reconcile.schemas import ENGINE

CANDIDATE_COLUMNS = ["entity_id", "reason"]
NON_PERSON_PURPOSES = ("shared", "room", "equipment")
FREE_SKU_WORDS = ("KIOSK", "FREE", "EXPLORATORY", "TRIAL")
# Unverified: the attribute names RMM collectors use for a device's last check-in are taken to be
# `last_contact` (ISO date or date-time) or `offline_days` (whole days); NinjaOne's `offline` flag is
# only a hint and is not used on its own.
LAST_CONTACT_ATTRS = ("last_contact", "lastContact", "last_seen_online")


def exclusion_candidates(
    entities: pl.DataFrame, entity_attrs: pl.DataFrame, offline_days: dict[str, int], reference_day: date
) -> pl.DataFrame:
    """entity_id, reason for each entity in `entities` (ENTITIES schema) that looks non-billable on
    `reference_day`; `offline_days` is the per-source threshold for silent devices."""
    attrs = entity_attrs.lazy().join(entities.lazy().select("entity_id", "source"), on="entity_id")
    value = pl.col("value").str.to_lowercase()
    thresholds = pl.LazyFrame(
        {"source": list(offline_days), "_limit": list(offline_days.values())},
        schema={"source": pl.String, "_limit": pl.Int64},
    )
    contact = pl.col("value").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    silent = (pl.lit(reference_day) - contact).dt.total_days()
    reasons = attrs.join(thresholds, on="source", how="left").with_columns(
        reason=pl.when((pl.col("attr") == "user_purpose") & value.is_in(NON_PERSON_PURPOSES))
        .then(pl.format("{} mailbox", value))
        .when((pl.col("attr") == "enabled") & (value == "false"))
        .then(pl.lit("account disabled"))
        .when((pl.col("attr") == "licensed") & (value == "false"))
        .then(pl.lit("no licence assigned"))
        .when(
            # `sku` (one part number) or `skus` (the user's comma-joined part numbers): every one is free
            pl.col("attr").is_in(("sku", "skus"))
            & (pl.col("value") != "")
            & pl.col("value")
            .str.split(",")
            .list.eval(
                pl.element().str.strip_chars().str.to_uppercase().str.contains("|".join(FREE_SKU_WORDS))
            )
            .list.all()
        )
        .then(pl.format("only free or kiosk licences ({})", pl.col("value")))
        .when(pl.col("attr").is_in(LAST_CONTACT_ATTRS) & (silent > pl.col("_limit").fill_null(30)))
        .then(pl.format("offline for {} days", silent))
        .when(
            (pl.col("attr") == "offline_days")
            & (pl.col("value").cast(pl.Int64, strict=False) > pl.col("_limit").fill_null(30))
        )
        .then(pl.format("offline for {} days", pl.col("value")))
    )
    return (
        reasons.filter(pl.col("reason").is_not_null())
        .sort("entity_id", "attr")
        .group_by("entity_id", maintain_order=True)
        .agg(pl.col("reason").str.join("; "))
        .select(CANDIDATE_COLUMNS)
        .collect(engine=ENGINE)
    )
