"""Which subjects (count keys, entities) a rule (mapping, exclusion) selects through its attribute filter."""

from __future__ import annotations

import polars as pl


def rule_matches(
    subjects: pl.LazyFrame,
    subject_attrs: pl.LazyFrame,
    rules: pl.LazyFrame,
    filters: pl.LazyFrame,
    *,
    subject_id: str,
    rule_id: str,
    on: list[str],
) -> pl.LazyFrame:
    """Pairs (subject_id, rule_id) where the subject shares the `on` columns with the rule and, for every
    attribute the rule filters on, has one of the allowed values. A rule without filters selects all.

    Args:
        subjects: subject_id plus the `on` columns.
        subject_attrs: subject_id, attr, value (one row per attribute).
        rules: rule_id plus the `on` columns.
        filters: rule_id, attr, value (one row per allowed value).
    """
    candidates = subjects.select(subject_id, *on).join(rules.select(rule_id, *on), on=on)
    filters = filters.rename({"rule_id": rule_id})
    needed = filters.group_by(rule_id).agg(pl.col("attr").n_unique().cast(pl.Int64).alias("_needed"))
    hits = (
        subject_attrs.select(subject_id, "attr", "value")
        .join(filters, on=["attr", "value"])
        .select(subject_id, rule_id, "attr")
        .unique()
        .group_by(subject_id, rule_id)
        .agg(pl.len().cast(pl.Int64).alias("_hits"))
    )
    return (
        candidates.join(needed, on=rule_id, how="left")
        .join(hits, on=[subject_id, rule_id], how="left")
        .filter(pl.col("_needed").is_null() | (pl.col("_hits") == pl.col("_needed")))
        .select(subject_id, rule_id)
    )
