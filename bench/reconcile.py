"""Reconciliation benchmark: 2,000 clients x 8 products x 365 days of counts.

Times our period reconciliation and 12-month history (Polars, reconcile/) against the same computation in
DuckDB SQL and in pandas, each engine in its own process (so peak RSS is its own), and the read of the
inputs from SQLite through the monthly rollup. Run: `.venv/bin/python bench/reconcile.py`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconcile import schemas as s
from reconcile.schemas import Inputs

CLIENTS, PRODUCTS, DAYS = 2_000, 8, 365
FIRST_DAY = date(2025, 4, 1)
PERIOD = date(2026, 3, 1)
HISTORY_FIRST = date(2025, 4, 1)
BACK_BILL_MONTHS = 12
CATEGORIES = ["rmm", "rmm", "identity", "identity", "security", "backup", "distributor", "security"]


def generate(folder: Path) -> None:
    """Daily counts (a random walk per key), rolled up by month; a book with one contract line per
    client x product and a mid-year change on every fifth."""
    rng = np.random.default_rng(7)
    keys = CLIENTS * PRODUCTS
    base = rng.integers(5, 200, keys)
    steps = rng.choice([-1, 0, 0, 0, 1], size=(DAYS, keys))
    qty = np.clip(base + np.cumsum(steps, axis=0), 0, None)
    days = pl.date_range(FIRST_DAY, date(2026, 3, 31), "1d", eager=True)
    daily = pl.DataFrame(
        {
            "key_id": np.tile(np.arange(1, keys + 1), DAYS),
            "day": np.repeat(days.to_numpy(), keys),
            "qty": qty.reshape(-1),
        }
    )
    daily.write_parquet(folder / "daily.parquet")
    monthly = (
        daily.sort("key_id", "day")
        .group_by("key_id", pl.col("day").dt.truncate("1mo").alias("month"))
        .agg(
            pl.col("qty").last().alias("qty_end"),
            pl.col("qty").max().alias("qty_peak"),
            pl.col("qty").sum().alias("qty_day_sum"),
            pl.len().cast(pl.Int64).alias("days"),
            pl.col("day").max().alias("last_day"),
        )
        .with_columns(cost_cents=pl.lit(None, dtype=pl.Int64))
        .select(list(s.MONTHLY))
    )
    key_ids = np.arange(1, keys + 1)
    client_of = (key_ids - 1) // PRODUCTS + 1
    product_of = (key_ids - 1) % PRODUCTS + 1
    start = base + rng.integers(-10, 10, keys)
    changed = rng.random(keys) < 0.2
    lines = pl.concat(
        [
            pl.DataFrame(
                {
                    "client_id": client_of,
                    "product_id": product_of,
                    "quantity": np.clip(start, 0, None),
                    "unit_price_cents": None,
                    "start": date(2024, 1, 1),
                    "end": np.where(changed, np.datetime64("2025-09-30"), np.datetime64("NaT")),
                }
            ),
            pl.DataFrame(
                {
                    "client_id": client_of[changed],
                    "product_id": product_of[changed],
                    "quantity": np.clip(start[changed] + 5, 0, None),
                    "unit_price_cents": None,
                    "start": date(2025, 10, 1),
                    "end": None,
                }
            ),
        ],
        how="vertical_relaxed",
    )
    frames = {
        "keys": pl.DataFrame(
            {
                "key_id": key_ids,
                "source": [f"src{p}" for p in product_of],
                "org_external_id": client_of.astype(str),
                "metric": "units",
            }
        ),
        "monthly": monthly,
        "clients": pl.DataFrame(
            {
                "client_id": np.arange(1, CLIENTS + 1),
                "client": [f"Client {n:04d}" for n in range(1, CLIENTS + 1)],
            }
        ),
        "orgs": pl.DataFrame(
            {
                "client_id": client_of,
                "source": [f"src{p}" for p in product_of],
                "org_external_id": client_of.astype(str),
            }
        ),
        "products": pl.DataFrame(
            {
                "product_id": np.arange(1, PRODUCTS + 1),
                "product_code": [f"P{p}" for p in range(1, PRODUCTS + 1)],
                "product": [f"Product {p}" for p in range(1, PRODUCTS + 1)],
                "category": CATEGORIES,
                "unit_price_cents": [4500, 1200, 2200, 600, 300, 900, 1500, 450],
                "unit_cost_cents": None,
                "policy": "end",
                "tolerance_units": 0,
                "tolerance_bp": None,
                "prorate": False,
            }
        ),
        "mappings": pl.DataFrame(
            {
                "mapping_id": np.arange(1, PRODUCTS + 1),
                "product_id": np.arange(1, PRODUCTS + 1),
                "source": [f"src{p}" for p in range(1, PRODUCTS + 1)],
                "metric": "units",
            }
        ),
        "contracts": lines,
    }
    for name, frame in frames.items():
        schema = {
            "keys": s.KEYS,
            "monthly": s.MONTHLY,
            "clients": s.CLIENTS,
            "orgs": s.ORGS,
            "products": s.PRODUCTS,
            "mappings": s.MAPPINGS,
            "contracts": s.CONTRACTS,
        }[name]
        frame.select([pl.col(c).cast(t) for c, t in schema.items()]).write_parquet(folder / f"{name}.parquet")


def load(folder: Path) -> dict[str, pl.DataFrame]:
    return {p.stem: pl.read_parquet(p) for p in folder.glob("*.parquet") if p.stem != "daily"}


def best(fn, runs: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


# --- Polars (our engine) -----------------------------------------------------------------------


def run_polars(folder: Path) -> dict[str, object]:
    from reconcile.history import leakage_history
    from reconcile.ledger import monthly_ledger
    from reconcile.run import reconcile_inputs

    inputs = Inputs(**load(folder))
    period_s, result = best(lambda: reconcile_inputs(inputs, PERIOD, BACK_BILL_MONTHS))
    history_s, hist = best(lambda: leakage_history(inputs, monthly_ledger(inputs, HISTORY_FIRST, PERIOD)))
    gaps = result.gaps  # type: ignore[attr-defined]
    return {
        "period_s": period_s,
        "history_s": history_s,
        "leakage_cents": int(
            gaps.filter(pl.col("status").is_in(["under_billed", "no_contract"]))["monthly_amount_cents"].sum()
        ),
        "back_bill_cents": int(gaps["back_bill_cents"].sum()),
        "history_leakage_cents": int(hist["leakage_cents"].sum()),  # type: ignore[index]
    }


# --- DuckDB SQL ----------------------------------------------------------------------------------

LEDGER_SQL = """
WITH months AS (SELECT DISTINCT month FROM monthly WHERE month BETWEEN $first AND $last),
obs AS (
  SELECT o.client_id, mp.product_id, m.month, sum(m.qty_end) AS observed
  FROM monthly m JOIN keys k USING (key_id)
  JOIN orgs o ON o.source = k.source AND o.org_external_id = k.org_external_id
  JOIN mappings mp ON mp.source = k.source AND mp.metric = k.metric
  WHERE m.month BETWEEN $first AND $last GROUP BY ALL),
con AS (
  SELECT c.client_id, c.product_id, mo.month, sum(c.quantity) AS billed,
         last(c.unit_price_cents ORDER BY c.start) AS price
  FROM contracts c JOIN months mo
    ON c.start <= last_day(mo.month) AND (c."end" IS NULL OR c."end" >= last_day(mo.month))
  GROUP BY ALL)
SELECT client_id, product_id, month, coalesce(billed, 0) AS billed, coalesce(observed, 0) AS observed,
       coalesce(observed, 0) - coalesce(billed, 0) AS delta,
       (coalesce(observed, 0) - coalesce(billed, 0)) * coalesce(price, p.unit_price_cents) AS amount,
       CASE WHEN billed IS NULL THEN 'no_contract' WHEN observed = billed THEN 'match'
            WHEN coalesce(observed, 0) > billed THEN 'under_billed' ELSE 'over_billed' END AS status,
       p.category
FROM obs FULL JOIN con USING (client_id, product_id, month) JOIN products p USING (product_id)
WHERE billed IS NOT NULL OR observed > 0
"""

PERIOD_SQL = """
WITH led AS (SELECT *, year(month) * 12 + month(month) - 1 AS idx,
               CASE WHEN status IN ('under_billed', 'no_contract') THEN 'under'
                    WHEN status = 'over_billed' THEN 'over' END AS kind FROM ledger),
cur AS (SELECT client_id, product_id, kind AS cur_kind FROM led WHERE month = $period AND kind IS NOT NULL),
r AS (SELECT led.*, cur_kind, coalesce(kind = cur_kind, false) AS in_run FROM led JOIN cur USING (client_id, product_id)),
f AS (SELECT *, in_run AND (NOT coalesce(lag(in_run) OVER w, false) OR coalesce(idx - lag(idx) OVER w <> 1, true)) AS new_run
      FROM r WINDOW w AS (PARTITION BY client_id, product_id ORDER BY idx)),
g AS (SELECT *, sum(new_run::INT) OVER (PARTITION BY client_id, product_id ORDER BY idx) AS run FROM f),
h AS (SELECT *, max(CASE WHEN month = $period THEN run END) OVER (PARTITION BY client_id, product_id) AS cur_run FROM g),
runs AS (SELECT * FROM h WHERE in_run AND run = cur_run),
since AS (SELECT client_id, product_id, min(month) AS since FROM runs GROUP BY ALL),
back AS (SELECT client_id, product_id, sum(amount) AS back_bill FROM led
         WHERE kind = 'under' AND month < $period AND idx >= $period_idx - $bb GROUP BY ALL)
SELECT l.*, since.since, coalesce(back.back_bill, 0) AS back_bill
FROM ledger l LEFT JOIN since USING (client_id, product_id) LEFT JOIN back USING (client_id, product_id)
WHERE l.month = $period
"""

HISTORY_SQL = """
SELECT month, client_id, category,
       sum(CASE WHEN status IN ('under_billed', 'no_contract') THEN amount ELSE 0 END) AS leakage,
       -sum(CASE WHEN status = 'over_billed' THEN amount ELSE 0 END) AS over_billed
FROM ledger GROUP BY ALL HAVING leakage <> 0 OR over_billed <> 0
"""


def run_duckdb(folder: Path) -> dict[str, object]:
    import duckdb

    con = duckdb.connect()
    for name, frame in load(folder).items():
        con.register(name, frame.to_arrow())
    window_first = date(PERIOD.year - 1, PERIOD.month, 1)

    def period() -> tuple[int, int]:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE ledger AS {LEDGER_SQL}", {"first": window_first, "last": PERIOD}
        )
        row = con.execute(
            f"SELECT sum(CASE WHEN status IN ('under_billed','no_contract') THEN amount ELSE 0 END), sum(back_bill) FROM ({PERIOD_SQL})",  # noqa: S608 - constant SQL
            {"period": PERIOD, "period_idx": PERIOD.year * 12 + PERIOD.month - 1, "bb": BACK_BILL_MONTHS},
        ).fetchone()
        return int(row[0]), int(row[1])  # type: ignore[index]

    def history() -> int:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE ledger AS {LEDGER_SQL}", {"first": HISTORY_FIRST, "last": PERIOD}
        )
        total = con.execute(f"SELECT sum(leakage) FROM ({HISTORY_SQL})").fetchone()  # noqa: S608 - constant SQL
        return int(total[0])  # type: ignore[index]

    period_s, (leakage, back_bill) = best(period)  # type: ignore[misc]
    history_s, history_leakage = best(history)
    return {
        "period_s": period_s,
        "history_s": history_s,
        "leakage_cents": leakage,
        "back_bill_cents": back_bill,
        "history_leakage_cents": history_leakage,
    }


# --- pandas --------------------------------------------------------------------------------------


def run_pandas(folder: Path) -> dict[str, object]:
    import pandas as pd

    frames = {name: frame.to_pandas() for name, frame in load(folder).items()}

    def ledger(first: date, last: date) -> pd.DataFrame:
        monthly = frames["monthly"]
        monthly = monthly[
            (monthly["month"] >= pd.Timestamp(first)) & (monthly["month"] <= pd.Timestamp(last))
        ]
        keyed = monthly.merge(frames["keys"], on="key_id").merge(
            frames["orgs"], on=["source", "org_external_id"]
        )
        keyed = keyed.merge(frames["mappings"], on=["source", "metric"])
        obs = (
            keyed.groupby(["client_id", "product_id", "month"], as_index=False)["qty_end"]
            .sum()
            .rename(columns={"qty_end": "observed"})
        )
        months = pd.DataFrame({"month": sorted(monthly["month"].unique())})
        months["month_end"] = months["month"] + pd.offsets.MonthEnd(0)
        con = frames["contracts"].merge(months, how="cross")
        end = pd.to_datetime(con["end"])
        con = con[
            (pd.to_datetime(con["start"]) <= con["month_end"]) & (end.isna() | (end >= con["month_end"]))
        ]
        con = (
            con.sort_values("start")
            .groupby(["client_id", "product_id", "month"], as_index=False)
            .agg(billed=("quantity", "sum"), price=("unit_price_cents", "last"))
        )
        led = obs.merge(con, on=["client_id", "product_id", "month"], how="outer").merge(
            frames["products"], on="product_id"
        )
        has = led["billed"].notna()
        led["observed"] = led["observed"].fillna(0).astype("int64")
        led["billed"] = led["billed"].fillna(0).astype("int64")
        led = led[has | (led["observed"] > 0)].copy()
        has = has[led.index]
        led["delta"] = led["observed"] - led["billed"]
        led["amount"] = led["delta"] * led["price"].fillna(led["unit_price_cents"]).astype("int64")
        led["status"] = np.select(
            [~has, led["delta"] == 0, led["delta"] > 0],
            ["no_contract", "match", "under_billed"],
            "over_billed",
        )
        return led

    def period() -> tuple[int, int]:
        led = ledger(date(PERIOD.year - 1, PERIOD.month, 1), PERIOD)
        led["idx"] = led["month"].dt.year * 12 + led["month"].dt.month - 1
        led["kind"] = np.select(
            [led["status"].isin(["under_billed", "no_contract"]), led["status"] == "over_billed"],
            ["under", "over"],
            "",
        )
        pidx = PERIOD.year * 12 + PERIOD.month - 1
        cur = led[(led["idx"] == pidx) & (led["kind"] != "")][["client_id", "product_id", "kind"]].rename(
            columns={"kind": "cur_kind"}
        )
        r = led.merge(cur, on=["client_id", "product_id"]).sort_values(["client_id", "product_id", "idx"])
        r["in_run"] = r["kind"] == r["cur_kind"]
        grouped = r.groupby(["client_id", "product_id"])
        prev_in = grouped["in_run"].shift(1, fill_value=False).astype(bool)
        gap = (r["idx"] - grouped["idx"].shift(1)).ne(1)
        r["run"] = (
            (r["in_run"] & (~prev_in | gap)).astype(int).groupby([r["client_id"], r["product_id"]]).cumsum()
        )
        r["cur_run"] = (
            r["run"].where(r["idx"] == pidx).groupby([r["client_id"], r["product_id"]]).transform("max")
        )
        runs = r[r["in_run"] & (r["run"] == r["cur_run"])]
        since = runs.groupby(["client_id", "product_id"])["month"].min()  # noqa: F841 - same work as the others
        now = led[led["idx"] == pidx]
        # every under-billed past month in the look-back, for client x product rows billed this period
        past = led[(led["kind"] == "under") & (led["idx"] < pidx) & (led["idx"] >= pidx - BACK_BILL_MONTHS)]
        back = past.merge(now[["client_id", "product_id"]], on=["client_id", "product_id"])["amount"].sum()
        return int(now[now["status"].isin(["under_billed", "no_contract"])]["amount"].sum()), int(back)

    def history() -> int:
        led = ledger(HISTORY_FIRST, PERIOD)
        led["leak"] = led["amount"].where(led["status"].isin(["under_billed", "no_contract"]), 0)
        led["over"] = -led["amount"].where(led["status"] == "over_billed", 0)
        hist = led.groupby(["month", "client_id", "category"], as_index=False)[["leak", "over"]].sum()
        hist = hist[(hist["leak"] != 0) | (hist["over"] != 0)]
        return int(hist["leak"].sum())

    period_s, (leakage, back_bill) = best(period, runs=3)  # type: ignore[misc]
    history_s, history_leakage = best(history, runs=3)
    return {
        "period_s": period_s,
        "history_s": history_s,
        "leakage_cents": leakage,
        "back_bill_cents": back_bill,
        "history_leakage_cents": history_leakage,
    }


# --- SQLite through the rollup -------------------------------------------------------------------


def run_sqlite(folder: Path) -> dict[str, object]:
    from sqlalchemy import insert

    from mcc.config import Config
    from mcc.reconciliation import reconcile_period
    from reconcile.run import window_start
    from store.db import make_engine, reading, transaction
    from store.frames import load_inputs
    from store.migrate import upgrade
    from store.models import Client, ClientOrg, Contract, CountKey, Mapping, MonthlyCount, Product

    frames = load(folder)
    url = f"sqlite:///{folder / 'mcc.db'}"
    upgrade(url)
    engine = make_engine(url, durable=False)
    with transaction(engine) as session:
        session.execute(
            insert(Client),
            [{"id": r["client_id"], "name": r["client"]} for r in frames["clients"].iter_rows(named=True)],
        )
        session.execute(
            insert(ClientOrg),
            [
                {"client_id": r["client_id"], "source": r["source"], "external_id": r["org_external_id"]}
                for r in frames["orgs"].iter_rows(named=True)
            ],
        )
        session.execute(
            insert(Product),
            [
                {
                    "id": r["product_id"],
                    "code": r["product_code"],
                    "name": r["product"],
                    "unit_price_cents": r["unit_price_cents"],
                    "category": r["category"],
                    "policy": "end",
                    "tolerance_units": 0,
                    "prorate": False,
                }
                for r in frames["products"].iter_rows(named=True)
            ],
        )
        session.execute(
            insert(Mapping),
            [
                {
                    "id": r["mapping_id"],
                    "product_id": r["product_id"],
                    "source": r["source"],
                    "metric": r["metric"],
                    "where": {},
                }
                for r in frames["mappings"].iter_rows(named=True)
            ],
        )
        session.execute(
            insert(Contract),
            [
                {k: r[k] for k in ("client_id", "product_id", "quantity", "unit_price_cents", "start", "end")}
                for r in frames["contracts"].iter_rows(named=True)
            ],
        )
        session.execute(
            insert(CountKey),
            [
                {
                    "id": r["key_id"],
                    "source": r["source"],
                    "org_external_id": r["org_external_id"],
                    "metric": r["metric"],
                    "attrs_json": "{}",
                }
                for r in frames["keys"].iter_rows(named=True)
            ],
        )
        session.execute(
            insert(MonthlyCount),
            [{**r, "first_day": r["month"]} for r in frames["monthly"].iter_rows(named=True)],
        )
    first = window_start(PERIOD, BACK_BILL_MONTHS)

    def read() -> int:
        with reading(engine) as session:
            return load_inputs(session, first, PERIOD).monthly.height

    read_s, rows = best(read, runs=3)
    config = Config(database_url=url, back_bill_months=BACK_BILL_MONTHS)
    end_to_end_s, rec = best(
        lambda: reconcile_period(engine, config, "2026-03", today=date(2026, 3, 31)), runs=3
    )
    return {
        "read_s": read_s,
        "rows_read": rows,
        "end_to_end_s": end_to_end_s,
        "leakage_cents": rec.totals["leakage_monthly_cents"],
    }  # type: ignore[attr-defined]


ENGINES = {"polars": run_polars, "duckdb": run_duckdb, "pandas": run_pandas, "sqlite": run_sqlite}


def peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM; ru_maxrss would carry the parent's over from fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(engine: str, folder: Path) -> None:
    result = ENGINES[engine](folder)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=list(ENGINES))
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.engine:
        child(args.engine, Path(args.data))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        generate(folder)
        print(
            f"data: {CLIENTS} clients x {PRODUCTS} products x {DAYS} days = {CLIENTS * PRODUCTS * DAYS:,} daily counts, "
            f"{pl.read_parquet(folder / 'monthly.parquet').height:,} monthly rollup rows (generated in {time.perf_counter() - started:.1f} s)"
        )
        results = {}
        for engine in ENGINES:
            out = subprocess.run(
                [sys.executable, __file__, "--engine", engine, "--data", tmp],
                capture_output=True,
                text=True,
                check=True,
            )
            results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    p, d, pd_ = results["polars"], results["duckdb"], results["pandas"]
    print("| step | Polars (ours) | DuckDB SQL | pandas | Polars / DuckDB | Polars / pandas |")
    print("|---|---|---|---|---|---|")
    for step in ("period_s", "history_s"):
        print(
            f"| {step[:-2]} | {p[step]:.3f} s | {d[step]:.3f} s | {pd_[step]:.3f} s | {p[step] / d[step]:.2f}x | {p[step] / pd_[step]:.2f}x |"
        )
    print(
        f"| peak RSS | {p['peak_rss_mb']:.0f} MB | {d['peak_rss_mb']:.0f} MB | {pd_['peak_rss_mb']:.0f} MB | | |"
    )
    q = results["sqlite"]
    print(
        f"\nSQLite: read inputs through the monthly rollup {q['read_s']:.3f} s ({q['rows_read']:,} rows); "
        f"reconcile_period end to end {q['end_to_end_s']:.3f} s; peak RSS {q['peak_rss_mb']:.0f} MB"
    )
    same = {(r["leakage_cents"], r["back_bill_cents"], r["history_leakage_cents"]) for r in (p, d, pd_)}
    print(
        f"same results in all three engines: {len(same) == 1} (leakage, back-bill, 12-month leakage in cents: {sorted(same)})"
    )
    print(f"SQLite end to end leakage equals the in-memory run: {q['leakage_cents'] == p['leakage_cents']}")


if __name__ == "__main__":
    main()
