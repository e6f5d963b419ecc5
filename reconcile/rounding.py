"""Integer arithmetic on money and quantity columns: products computed in 128 bits, division rounded
half away from zero once per line, results brought back to Int64 with a checked (never wrapping) cast."""

from __future__ import annotations

import polars as pl

MICRO = 1_000_000  # quantities that can be fractional (day averages) are carried in millionths


def wide(value: pl.Expr | int) -> pl.Expr:
    """The column (or literal) as Int128, so a product of two Int64s cannot wrap."""
    expr = value if isinstance(value, pl.Expr) else pl.lit(value)
    return expr.cast(pl.Int128)


def narrow(value: pl.Expr) -> pl.Expr:
    """Back to Int64; a value that does not fit raises (polars' strict cast) instead of wrapping."""
    return value.cast(pl.Int64, strict=True)


def times(*factors: pl.Expr | int) -> pl.Expr:
    """The exact product of the factors as Int64 (computed in Int128; an overflow raises)."""
    product = wide(factors[0])
    for factor in factors[1:]:
        product = product * wide(factor)
    return narrow(product)


def div_round(numerator: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    """numerator / denominator (denominator > 0) rounded half away from zero, as Int64.

    Worked in Int128, so callers pass the exact product (`wide(a) * b`) and nothing wraps on the way."""
    num = wide(numerator)
    den = wide(denominator)
    magnitude = (num.abs() * 2 + den) // (den * 2)
    return narrow(pl.when(num < 0).then(0 - magnitude).otherwise(magnitude))


def wide_sum(column: str | pl.Expr) -> pl.Expr:
    """A sum of cents that cannot wrap: summed in Int128, checked back into Int64."""
    expr = pl.col(column) if isinstance(column, str) else column
    return narrow(wide(expr).sum())


def exact_sum(series: pl.Series) -> int:
    """The exact sum of an integer column as a Python int (an Int64 sum would wrap silently)."""
    total = series.cast(pl.Int128).sum()
    return int(total or 0)


def py_div_round(numerator: int, denominator: int) -> int:
    """The same rule in plain Python (used by tests and edges)."""
    magnitude = (abs(numerator) * 2 + denominator) // (denominator * 2)
    return -magnitude if numerator < 0 else magnitude
