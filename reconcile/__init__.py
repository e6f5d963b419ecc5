"""Pure Polars reconciliation: frames in, frames out. No I/O, no clock, no database.

`ledger.monthly_ledger` turns counts and the book into one row per client x product x month;
`gaps.period_gaps`, `history.leakage_history` and `whatif.what_if` read that ledger.
"""
