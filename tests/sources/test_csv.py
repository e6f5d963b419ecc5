"""`kind = "csv"`: exports dropped into a folder become counts through the same sync as every vendor;
a bad file fails that run with its file, row and column, writes nothing, and the worker carries on.

The conformance battery (tests/sources/test_conformance.py) is about HTTP — paging, tokens,
Retry-After, timeouts — none of which a folder has. Its one rule that does apply, "a malformed input
fails the run and keeps the last good counts", is tested here against real files and a real database,
for the worker as well as `mcc sync`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from collectors.csv_folder import CsvSpec, parse_spec, read_file
from collectors.records import Count, Entity
from collectors.sync import sync_source
from collectors.worker import Worker, WorkerOptions
from mcc.cli import app
from mcc.config import Config
from mcc.errors import BookError, ConfigError
from store.db import reading
from store.models import CountKey, MonthlyCount, SourceJob, SyncRun
from store.models import Entity as StoredEntity

runner = CliRunner()


def _toml(folder: Path, extra: str = "", metrics: str = '["seats"]') -> str:
    return (
        '[[sources]]\nname = "backups"\nkind = "csv"\nschedule = "every 5 minutes"\n'
        f'[sources.csv]\nfolder = "{folder.as_posix()}"\nmetrics = {metrics}\n{extra}'
    )


def _write(folder: Path, name: str, text: str | bytes, age: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    if age:
        stamp = path.stat().st_mtime - age
        os.utime(path, (stamp, stamp))
    return path


def _counts(engine: Engine, source: str = "backups") -> dict[tuple[str, str, str], int]:
    with reading(engine) as session:
        rows = session.execute(
            select(CountKey.org_external_id, CountKey.metric, CountKey.attrs_json, MonthlyCount.qty_end)
            .join(MonthlyCount, MonthlyCount.key_id == CountKey.id)
            .where(CountKey.source == source)
        ).all()
    return {(org, metric, str(attrs)): qty for org, metric, attrs, qty in rows if qty}


def _spec(**extra: object) -> CsvSpec:
    return parse_spec({"folder": "x", "metrics": ["seats"], **extra}, "backups")


def _error(text: str, **extra: object) -> str:
    with pytest.raises(BookError) as caught:
        read_file(text, "in/export.csv", _spec(**extra))
    return str(caught.value)


# --- a run against a real folder and database ------------------------------------------------------


def test_the_newest_file_is_counted_and_left_where_it_was(tmp_path: Path, write_config, engine) -> None:
    folder = tmp_path / "inbox"
    old = _write(folder, "2026-11.csv", "organisation,metric,quantity\nacme,seats,99\n", age=3600)
    new = _write(
        folder,
        "2026-12.csv",
        "\ufefforganisation,organisation_name,metric,attributes,quantity\n"
        "acme,Acme Dental,seats,plan=server;region=eu,12\n"
        "acme,Acme Dental,seats,plan=workstation,30\n"
        'birch,"Birch, Legal",seats,,7\n',
    )
    _write(folder, "~$2026-12.csv", "locked by a spreadsheet")
    config: Config = write_config(_toml(folder))
    (result,) = sync_source(engine, config, "backups")
    assert result.ok, result.error
    assert result.pages == 1  # one file read
    counts = _counts(engine)
    assert sum(counts.values()) == 49 and ("birch", "seats", "{}") in counts
    assert {org for org, _, _ in counts} == {"acme", "birch"}
    # read-only: both files are still there, unchanged
    assert old.exists() and new.read_bytes().startswith(b"\xef\xbb\xbf")


def test_all_files_are_added_up_when_asked(tmp_path: Path, write_config, engine) -> None:
    folder = tmp_path / "inbox"
    _write(folder, "a.csv", "organisation,quantity\nacme,5\n")
    _write(folder, "b.csv", "organisation,quantity\nbirch,6\n")
    config = write_config(_toml(folder, 'files = "all"\n'))
    (result,) = sync_source(engine, config, "backups")
    assert result.ok and result.pages == 2
    assert sum(_counts(engine).values()) == 11


def test_the_same_count_in_two_files_is_refused(tmp_path: Path, write_config, engine) -> None:
    folder = tmp_path / "inbox"
    _write(folder, "a.csv", "organisation,quantity\nacme,5\n")
    _write(folder, "b.csv", "organisation,quantity\nacme,5\n")
    config = write_config(_toml(folder, 'files = "all"\n'))
    (result,) = sync_source(engine, config, "backups")
    assert not result.ok
    assert "b.csv repeats a row of" in (result.error or "") and "a.csv" in (result.error or "")


def test_one_row_per_entity_counts_rows_and_keeps_the_entities(tmp_path: Path, write_config, engine) -> None:
    folder = tmp_path / "inbox"
    _write(
        folder,
        "devices.csv",
        "Customer;Serial;Hostname;Kind\nacme;S1;pc-1;laptop\nacme;S2;pc-2;desktop\nbirch;S3;srv;server\n",
    )
    extra = (
        'count = "rows"\ndelimiter = ";"\nattribute_columns = ["Kind"]\n'
        'columns = { organisation = "Customer", id = "Serial", name = "Hostname" }\n'
    )
    config = write_config(_toml(folder, extra, metrics='["devices"]'))
    (result,) = sync_source(engine, config, "backups")
    assert result.ok, result.error
    assert sum(_counts(engine).values()) == 3
    with reading(engine) as session:
        names = sorted(session.scalars(select(StoredEntity.name).where(StoredEntity.source == "backups")))
    assert names == ["pc-1", "pc-2", "srv"]


def test_a_bad_file_fails_the_run_and_keeps_the_last_good_counts(
    tmp_path: Path, write_config, engine
) -> None:
    folder = tmp_path / "inbox"
    _write(folder, "1.csv", "organisation,quantity\nacme,10\nbirch,4\n", age=60)
    config = write_config(_toml(folder))
    assert sync_source(engine, config, "backups")[0].ok
    # a newer export with a bad row halfway down: nothing of it is written, not even its first row
    _write(folder, "2.csv", "organisation,quantity\nacme,11\nbirch,-5\n")
    (result,) = sync_source(engine, config, "backups")
    assert not result.ok
    assert result.error == f"backups: {folder / '2.csv'} row 3: quantity must be a whole number ≥ 0, got '-5'"
    assert sum(_counts(engine).values()) == 14
    with reading(engine) as session:
        statuses = [run.status for run in session.scalars(select(SyncRun).order_by(SyncRun.id))]
    assert statuses == ["ok", "failed"]


def test_the_worker_keeps_running_past_a_bad_file(tmp_path: Path, write_config, engine) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    _write(good, "x.csv", "organisation,quantity\nacme,3\n")
    _write(bad, "x.csv", "organisation,quantity\nacme,1_000\n")
    body = _toml(good) + _toml(bad).replace('name = "backups"', 'name = "broken"')
    config = write_config(body.replace("every 5 minutes", "hourly"))
    summary = Worker(engine, config, options=WorkerOptions(tick=0.05)).run(once=True)
    assert (summary.runs, summary.failures) == (2, 1)
    with reading(engine) as session:
        jobs = {
            job.source: (job.last_status, job.last_error or "") for job in session.scalars(select(SourceJob))
        }
    assert jobs["backups"][0] == "ok" and jobs["broken"][0] == "failed"
    assert "row 2: quantity must be a whole number ≥ 0, got '1_000'" in jobs["broken"][1]
    assert sum(_counts(engine).values()) == 3


def test_an_empty_folder_or_a_missing_one_fails_clearly(tmp_path: Path, write_config, engine) -> None:
    config = write_config(_toml(tmp_path / "nowhere"))
    (result,) = sync_source(engine, config, "backups")
    assert not result.ok and "does not exist" in (result.error or "")
    (tmp_path / "nowhere").mkdir()
    (result,) = sync_source(engine, config, "backups")
    assert not result.ok and "no file matching '*.csv'" in (result.error or "")


def test_sources_test_and_dry_run_read_the_folder(tmp_path: Path, write_config) -> None:
    folder = tmp_path / "inbox"
    _write(
        folder, "x.csv", "organisation,organisation_name,quantity\nacme,Acme Dental,3\nbirch,Birch Law,2\n"
    )
    write_config(_toml(folder))
    checked = runner.invoke(app, ["sources", "test", "backups"])
    assert checked.exit_code == 0, checked.output
    assert "read 1 file(s)" in checked.output and "Acme Dental, Birch Law" in checked.output
    shown = runner.invoke(app, ["sources", "test", "backups", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "acme seats 3 ×" in shown.output
    _write(folder, "x.csv", "organisation,quantity\nacme,=1+2\n")
    failed = runner.invoke(app, ["sources", "test", "backups"])
    assert failed.exit_code == 1 and "row 2: quantity looks like a spreadsheet formula" in failed.output


def test_init_offers_a_csv_block_that_loads(tmp_path: Path) -> None:
    from mcc import onboarding
    from mcc.config import load_config

    text = onboarding.render_config([onboarding.SourceChoice("csv", "exports")], "file")
    block = text.split('name = "exports"', 1)[1].split("\n\n", 1)[0]
    assert "[sources.csv]" in block and "base_url" not in block
    path = tmp_path / "mcc.toml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path).source("exports").csv == {
        "folder": "data/inbox/exports",
        "glob": "*.csv",
        "files": "newest",
        "metrics": ["seats"],
        "count": "quantity",
    }


def test_the_declaration_is_checked_when_mcc_toml_loads(tmp_path: Path, write_config) -> None:
    with pytest.raises(
        ConfigError, match=r"sources\[1\] \(source 'backups'\): csv: delimiter must be one of"
    ):
        write_config(_toml(tmp_path, 'delimiter = "x"\n'))
    with pytest.raises(ConfigError, match=r"needs a \[sources.csv\] table"):
        write_config('[[sources]]\nname = "backups"\nkind = "csv"\n')
    with pytest.raises(ConfigError, match=r"csv.count"):
        write_config(_toml(tmp_path, 'count = "lines"\n'))


# --- hostile files, one error each, naming file, row and column --------------------------------------


def test_an_empty_file_or_a_header_alone_is_refused() -> None:
    assert _error("") == "in/export.csv: the file is empty"
    assert "has a header but no rows" in _error("organisation,quantity\n\n")


def test_a_wrong_delimiter_is_named_with_the_setting_to_change() -> None:
    message = _error("organisation;quantity\nacme;3\n")
    assert message.startswith("in/export.csv row 1: the header is one column")
    assert "semicolon-separated: set csv.delimiter = ';'" in message


def test_a_missing_column_names_the_setting_and_the_header_found() -> None:
    assert _error("organisation,qty\nacme,3\n") == (
        "in/export.csv row 1: missing column 'quantity' (csv.columns.quantity); the header is organisation,qty"
    )
    assert "missing column 'Tags' (csv.attribute_columns)" in _error(
        "organisation,quantity\nacme,3\n", attribute_columns=["Tags"]
    )
    assert "missing column 'serial' (csv.columns.id)" in _error(
        "organisation\nacme\n", count="rows", columns={"id": "serial"}
    )


@pytest.mark.parametrize(
    ("quantity", "words"),
    [
        ("1_000", "got '1_000' (write digits only"),
        ("1,000", "got '1,000' (write digits only"),
        ("-5", "got '-5'"),
        ("1e9", "got '1e9' (write the whole number itself"),
        ("2.5", "got '2.5' (write the whole number itself"),
        ("", "quantity is missing"),
        ("٣", "got '٣'"),
        ("10000001", "must be at most 10,000,000"),
    ],
)
def test_a_bad_quantity_names_its_row_and_column(quantity: str, words: str) -> None:
    message = _error(f'organisation,quantity\nacme,2\nbirch,"{quantity}"\n')
    assert message.startswith("in/export.csv row 3: quantity "), message
    assert words in message


@pytest.mark.parametrize("cell", ["=HYPERLINK(A1)", "+cmd", "@SUM(A1)", "-2+3", "\t=1"])
def test_formula_cells_are_refused(cell: str) -> None:
    message = _error(f'organisation,attributes,quantity\n"{cell}",,1\n')
    assert message.startswith("in/export.csv row 2: organisation looks like a spreadsheet formula")


def test_numbers_with_a_sign_are_not_formulas_in_text_columns() -> None:
    found = read_file(
        "organisation,Offset,quantity\nacme,-5,1\n", "x.csv", _spec(attribute_columns=["Offset"])
    )
    assert found.records == [Count.of("acme", "seats", 1, {"Offset": "-5"})]


def test_a_row_repeated_exactly_is_refused_and_names_both_rows() -> None:
    message = _error("organisation,attributes,quantity\nacme,plan=a,2\nbirch,,1\nacme, plan=a ,2\n")
    assert message == (
        "in/export.csv row 4: repeats row 2 (organisation 'acme', seats, plan=a); remove one of them"
    )
    entity = _error("organisation,id\nacme,S1\nacme,S1\n", count="rows")
    assert "row 3: repeats row 2 (organisation 'acme', seats id 'S1')" in entity


def test_identical_rows_without_an_id_are_separate_entities() -> None:
    found = read_file("organisation\nacme\nacme\n", "x.csv", _spec(count="rows"))
    assert found.records == [Count.of("acme", "seats", 1), Count.of("acme", "seats", 1)]


def test_a_huge_file_stops_at_the_row_cap() -> None:
    text = "organisation,quantity\n" + "".join(f"org{n},1\n" for n in range(101))
    assert _error(text, max_rows=100) == (
        "in/export.csv: more than 100 rows (csv.max_rows); raise it if the export really is that long"
    )


def test_ragged_rows_bad_attributes_and_unknown_metrics_are_located() -> None:
    assert "row 2: has 3 cells but the header has 2 columns" in _error("organisation,quantity\nacme,1,2\n")
    assert "row 2: attributes must be key=value pairs separated by ';', got 'server'" in _error(
        "organisation,attributes,quantity\nacme,server,1\n"
    )
    assert "row 2: metric must be one of seats (csv.metrics), got 'devices'" in _error(
        "organisation,metric,quantity\nacme,devices,1\n"
    )
    assert "row 3: not readable as CSV" in _error('organisation,quantity\nacme,1\n"birch,2\n')


def test_a_file_that_is_not_utf8_names_its_row(tmp_path: Path, write_config, engine) -> None:
    folder = tmp_path / "inbox"
    _write(folder, "x.csv", "organisation,quantity\nacme,1\nZürich,2\n".encode("latin-1"))
    config = write_config(_toml(folder))
    (result,) = sync_source(engine, config, "backups")
    assert not result.ok
    assert "x.csv row 3: not UTF-8 text (byte 0xfc); save the file as UTF-8" in (result.error or "")


def test_several_metrics_come_from_a_metric_column() -> None:
    found = read_file(
        "Org,Type,Units\nacme,seats,3\nacme,devices,2\n",
        "x.csv",
        parse_spec(
            {
                "folder": "x",
                "metrics": ["seats", "devices"],
                "columns": {"organisation": "org", "metric": "type", "quantity": "units"},
            },
            "backups",
        ),
    )
    assert found.records == [Count.of("acme", "seats", 3), Count.of("acme", "devices", 2)]
    assert not any(isinstance(record, Entity) for record in found.records)


def test_the_documented_example_reads_its_export(tmp_path: Path, write_config, engine) -> None:
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sources" / "csv.md").read_text(encoding="utf-8")
    toml = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)[0]
    export = re.findall(r"```csv\n(.*?)```", doc, flags=re.S)[0]
    folder = tmp_path / "inbox"
    _write(folder, "usage.csv", export)
    config = write_config(toml.replace('"data/inbox/backups"', f'"{folder.as_posix()}"'))
    (result,) = sync_source(engine, config, "backups")
    assert result.ok, result.error
    counts = _counts(engine)
    assert sum(counts.values()) == 55 and {org for org, _, _ in counts} == {"4411", "4502"}
    assert any("Workstation" in attrs for _, _, attrs in counts)
