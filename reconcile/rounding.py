"""Integer arithmetic on Int64 columns: division rounded half away from zero, done once per line."""

from __future__ import annotations

import polars as pl

MICRO = 1_000_000  # quantities that can be fractional (day averages) are carried in millionths


def div_round(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """numerator / denominator (denominator > 0) rounded half away from zero, as Int64."""
    den = denominator if isinstance(denominator, pl.Expr) else pl.lit(denominator, dtype=pl.Int64)
    magnitude = (numerator.abs() * 2 + den) // (den * 2)
    return pl.when(numerator < 0).then(-magnitude).otherwise(magnitude).cast(pl.Int64)


def py_div_round(numerator: int, denominator: int) -> int:
    """The same rule in plain Python (used by tests and edges)."""
    magnitude = (abs(numerator) * 2 + denominator) // (denominator * 2)
    return -magnitude if numerator < 0 else magnitude
