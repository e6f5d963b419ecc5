"""Every bad book or contracts sheet: exit status 1, one message naming the file, the line or row and the
field, and the database exactly as it was (the audit log included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from mcc.cli import app
from mcc.config import Config
from mcc.permissions import Actor
from store.book import import_book
from tests.test_book_support import DATA, SOURCES, snapshot

ADMIN = Actor("alice", frozenset({"admin"}))
CONTRACT = '[[contracts]]\nclient = "Acme Dental"\nproduct = "WS"\nquantity = 1\nstart = "2026-05-01"\n'


@pytest.fixture
def loaded(engine: Engine, write_config, cli_user) -> Engine:
    config: Config = write_config(SOURCES)
    cli_user("alice")
    import_book(engine, config, DATA / "book.toml", ADMIN)
    return engine


def _refused(engine: Engine, path: Path, content: str | bytes, expected: str) -> str:
    """Import `content` as `path` through the CLI; it must fail with `expected` and change nothing."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    before = snapshot(engine)
    result = CliRunner().invoke(app, ["config", "import", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr  # one message, one line
    assert result.stderr == f"error: {path.parent}/{expected}\n"
    assert snapshot(engine) == before
    return result.stderr


BOOK_CASES = {
    "malformed toml": (
        '[[clients]]\nname = "Zed Co"\naccounting_id = \n',
        "bad.toml line 3: not valid TOML: Invalid value (column 17)",
    ),
    "unknown product": (
        CONTRACT.replace('"WS"', '"WKS"'),
        "bad.toml line 3: contracts[1].product: names an unknown product 'WKS' (did you mean 'WS'?)",
    ),
    "unknown client": (
        CONTRACT.replace("Acme Dental", "Acme Dentl"),
        "bad.toml line 2: contracts[1].client: names an unknown client 'Acme Dentl' (did you mean 'Acme Dental'?)",
    ),
    "unknown source in orgs": (
        '[[clients]]\nname = "Zed Co"\norgs = { huntress = "9" }\n',
        "bad.toml line 3: clients[1].orgs: unknown source 'huntress' (sources in mcc.toml: ninja, ninja-eu); "
        "add it to [[sources]] in mcc.toml first",
    ),
    "unknown source in a mapping": (
        '[[mappings]]\nproduct = "WS"\nsource = "ninjaone"\nmetric = "devices"\n',
        "bad.toml line 3: mappings[1].source: unknown source 'ninjaone' (sources in mcc.toml: ninja, ninja-eu); "
        "add it to [[sources]] in mcc.toml first",
    ),
    "unknown source in an exclusion": (
        '[[exclusions]]\nclient = "Acme Dental"\nsource = "m365"\nwhere = { user_purpose = "shared" }\nreason = "x"\n',
        "bad.toml line 3: exclusions[1].source: unknown source 'm365' (sources in mcc.toml: ninja, ninja-eu); "
        "add it to [[sources]] in mcc.toml first",
    ),
    "metric the source does not report": (
        '[[mappings]]\nproduct = "WS"\nsource = "ninja"\nmetric = "device"\n',
        "bad.toml line 4: mappings[1].metric: 'ninja' does not report 'device' (it reports devices)",
    ),
    "duplicate client": (
        '[[clients]]\nname = "Zed Co"\n\n[[clients]]\nname = "zed co"\n',
        "bad.toml line 5: clients[2].name: duplicate client: the same as clients[1] (line 1)",
    ),
    "duplicate product": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1.00"\n\n[[products]]\ncode = "X"\nname = "Y"\nunit_price = "2.00"\n',
        "bad.toml line 7: products[2].code: duplicate product code: the same as products[1] (line 1)",
    ),
    "negative quantity": (
        CONTRACT.replace("quantity = 1", "quantity = -3"),
        "bad.toml line 4: contracts[1].quantity: must be a whole number ≥ 0, got -3",
    ),
    "fractional quantity": (
        CONTRACT.replace("quantity = 1", "quantity = 2.5"),
        "bad.toml line 4: contracts[1].quantity: must be a whole number ≥ 0, got 2.5",
    ),
    "quantity as text": (
        CONTRACT.replace("quantity = 1", 'quantity = "3"'),
        "bad.toml line 4: contracts[1].quantity: must be a whole number ≥ 0, got '3'",
    ),
    "missing quantity": (
        CONTRACT.replace("quantity = 1\n", ""),
        "bad.toml line 1: contracts[1].quantity: is missing",
    ),
    "non-decimal price": (
        CONTRACT + 'unit_price = "forty"\n',
        "bad.toml line 6: contracts[1].unit_price: must be a decimal amount such as \"45.00\", got 'forty'",
    ),
    "float price": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = 45.0\n',
        'bad.toml line 4: products[1].unit_price: must be a decimal string such as "45.00" '
        "(use a decimal string), got 45.0",
    ),
    "price with three decimals": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "45.001"\n',
        "bad.toml line 4: products[1].unit_price: must have at most two decimal places, got '45.001'",
    ),
    "end before start": (
        CONTRACT + 'end = "2026-04-30"\n',
        "bad.toml line 6: contracts[1].end: is before start (2026-04-30 < 2026-05-01)",
    ),
    "impossible date": (
        CONTRACT.replace("2026-05-01", "2026-02-30"),
        "bad.toml line 5: contracts[1].start: must be a date written YYYY-MM-DD, got '2026-02-30'",
    ),
    "overlapping contract lines": (
        CONTRACT + "\n" + CONTRACT.replace("2026-05-01", "2026-06-01"),
        "bad.toml line 11: contracts[2].start: overlaps contracts[1] (line 1) for 'Acme Dental' / 'WS' "
        "(2026-05-01 to open and 2026-06-01 to open); give the earlier line an end before the later start",
    ),
    "unknown field": (
        CONTRACT + "qty = 3\n",
        "bad.toml line 6: contracts[1].qty: unknown field (expected client, product, quantity, start, end, unit_price)",
    ),
    "unknown section": (
        '[[customers]]\nname = "Zed Co"\n',
        "bad.toml line 1: customers: unknown section (expected currency, [[products]], [[mappings]], [[clients]], "
        "[[contracts]], [[exclusions]], [[blocks]])",
    ),
    "section as a plain table": (
        '[products]\ncode = "X"\n',
        "bad.toml line 1: products: must be written as [[products]] tables",
    ),
    "other currency": (
        'currency = "EUR"\n' + CONTRACT,
        "bad.toml line 1: currency: is EUR but mcc.toml uses USD",
    ),
    "bad tolerance": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1.00"\ntolerance = "two"\n',
        "bad.toml line 5: products[1].tolerance: must be a whole number of units or a percentage string "
        "such as \"2%\", got 'two'",
    ),
    "exclusion with both entity and where": (
        '[[exclusions]]\nclient = "Acme Dental"\nsource = "ninja"\nentity = "d1"\nwhere = { a = "b" }\nreason = "x"\n',
        "bad.toml line 1: exclusions[1]: give either entity (one external id) or where (a rule), not both or neither",
    ),
    "wrong encoding": (
        '[[clients]]\nname = "Café Zed"\n'.encode("latin-1"),
        "bad.toml line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8",
    ),
    "price in exponent form too large for any context": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1e30"\n',
        "bad.toml line 4: products[1].unit_price: must be at most 1,000,000.00, got '1e30'",
    ),
    "price beyond 64-bit cents": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "92233720368547758.08"\n',
        "bad.toml line 4: products[1].unit_price: must be at most 1,000,000.00, got '92233720368547758.08'",
    ),
    "quantity beyond any contract": (
        CONTRACT.replace("quantity = 1", "quantity = 99999999999999999999"),
        "bad.toml line 4: contracts[1].quantity: must be at most 10,000,000, got 99999999999999999999",
    ),
    # quantity × price of the largest line must stay far inside 64-bit cents: the bounds say so
    "a billion units on one contract line": (
        CONTRACT.replace("quantity = 1", "quantity = 1000000000"),
        "bad.toml line 4: contracts[1].quantity: must be at most 10,000,000, got 1000000000",
    ),
    "unit price beyond the bound": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1000000.01"\n',
        "bad.toml line 4: products[1].unit_price: must be at most 1,000,000.00, got '1000000.01'",
    ),
    "unit cost beyond the bound": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1.00"\nunit_cost = "5000000.00"\n',
        "bad.toml line 5: products[1].unit_cost: must be at most 1,000,000.00, got '5000000.00'",
    ),
    "contract price override beyond the bound": (
        CONTRACT + 'unit_price = "2000000.00"\n',
        "bad.toml line 6: contracts[1].unit_price: must be at most 1,000,000.00, got '2000000.00'",
    ),
    "tolerance in units beyond the bound": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1.00"\ntolerance = 10000001\n',
        "bad.toml line 5: products[1].tolerance: must be at most 10,000,000 units, got 10000001",
    ),
    "tolerance above 100 %": (
        '[[products]]\ncode = "X"\nname = "X"\nunit_price = "1.00"\ntolerance = "150%"\n',
        "bad.toml line 5: products[1].tolerance: must be at most 100%, got '150%'",
    ),
    "block hours beyond the bound": (
        '[[blocks]]\nclient = "Acme Dental"\nhours = 10001\nstart = "2026-01-01"\n',
        "bad.toml line 3: blocks[1].hours: must be at most 10,000 hours, got '10001'",
    ),
    "block rate beyond the bound": (
        '[[blocks]]\nclient = "Acme Dental"\nhours = 10\nstart = "2026-01-01"\nrate = "1000000.50"\n',
        "bad.toml line 5: blocks[1].rate: must be at most 1,000,000.00, got '1000000.50'",
    ),
    "empty file": ("  \n", "bad.toml: the file is empty"),
    "only comments": ("# nothing yet\n", "bad.toml: the file is empty"),
}


@pytest.mark.parametrize(("content", "expected"), BOOK_CASES.values(), ids=BOOK_CASES.keys())
def test_bad_book_is_refused_and_nothing_changes(
    loaded: Engine, tmp_path: Path, content: str | bytes, expected: str
) -> None:
    _refused(loaded, tmp_path / "bad.toml", content, expected)


def test_org_listed_under_two_clients_of_one_book(loaded: Engine, tmp_path: Path) -> None:
    book = '[[clients]]\nname = "Zed Co"\norgs = { ninja = "99" }\n\n[[clients]]\nname = "Yew Co"\norgs = { ninja = ["98", "99"] }\n'
    _refused(
        loaded,
        tmp_path / "bad.toml",
        book,
        "bad.toml line 7: clients[2].orgs: ninja org '99' is listed for 'Zed Co' (clients[1] (line 1)) too; "
        "an org bills to one client",
    )


def test_a_late_error_rolls_back_earlier_sections(loaded: Engine, tmp_path: Path) -> None:
    """Products and clients that would be written first are not kept when a contract line fails."""
    book = (
        '[[products]]\ncode = "NEW"\nname = "New"\nunit_price = "1.00"\n\n'
        '[[clients]]\nname = "Zed Co"\n\n'
        '[[contracts]]\nclient = "Zed Co"\nproduct = "NOPE"\nquantity = 1\nstart = "2026-01-01"\n'
    )
    _refused(
        loaded,
        tmp_path / "bad.toml",
        book,
        "bad.toml line 11: contracts[1].product: names an unknown product 'NOPE'",
    )


def test_unknown_source_when_none_are_configured(
    engine: Engine, write_config, cli_user, tmp_path: Path
) -> None:
    write_config("")
    cli_user("alice")
    _refused(
        engine,
        tmp_path / "bad.toml",
        '[[products]]\ncode = "WS"\nname = "WS"\nunit_price = "1.00"\n\n'
        '[[mappings]]\nproduct = "WS"\nsource = "ninja"\nmetric = "devices"\n',
        "bad.toml line 8: mappings[1].source: unknown source 'ninja': no sources are configured; "
        "add it to [[sources]] in mcc.toml first",
    )


HEADER = "client,product,quantity,start,end,unit_price\n"
CSV_CASES = {
    "missing column": (
        "client,product,start\nAcme Dental,WS,2026-05-01\n",
        "contracts.csv row 1: missing column 'quantity' (the header is client,product,quantity,start,end,unit_price)",
    ),
    "unknown column": (
        "client,product,qty,start\nAcme Dental,WS,3,2026-05-01\n",
        "contracts.csv row 1: unknown column 'qty' (the header is client,product,quantity,start,end,unit_price)",
    ),
    "huge quantity": (
        HEADER + "Acme Dental,WS,99999999999999999999,2026-05-01,,\n",
        "contracts.csv row 2: quantity must be at most 10,000,000, got 99999999999999999999",
    ),
    "price in exponent form": (
        HEADER + "Acme Dental,WS,3,2026-05-01,,1e30\n",
        "contracts.csv row 2: unit_price must be at most 1,000,000.00, got '1e30'",
    ),
    "negative quantity": (
        HEADER + "Cedar Law,WS,4,2026-05-01,,\nAcme Dental,WS,-3,2026-05-01,,\n",
        "contracts.csv row 3: quantity must be a whole number ≥ 0, got '-3'",
    ),
    "fractional quantity": (
        HEADER + "Acme Dental,WS,2.5,2026-05-01,,\n",
        "contracts.csv row 2: quantity must be a whole number ≥ 0, got '2.5'",
    ),
    "a billion units": (
        HEADER + "Acme Dental,WS,1000000000,2026-05-01,,\n",
        "contracts.csv row 2: quantity must be at most 10,000,000, got 1000000000",
    ),
    "unit price beyond the bound": (
        HEADER + "Acme Dental,WS,3,2026-05-01,,1000000.01\n",
        "contracts.csv row 2: unit_price must be at most 1,000,000.00, got '1000000.01'",
    ),
    "missing quantity": (
        HEADER + "Acme Dental,WS,,2026-05-01,,\n",
        "contracts.csv row 2: quantity is missing",
    ),
    "non-decimal price": (
        HEADER + "Acme Dental,WS,3,2026-05-01,,$45\n",
        "contracts.csv row 2: unit_price must be a decimal amount such as \"45.00\", got '$45'",
    ),
    "end before start": (
        HEADER + "Acme Dental,WS,3,2026-05-01,2026-04-01,\n",
        "contracts.csv row 2: end is before start (2026-04-01 < 2026-05-01)",
    ),
    "spreadsheet date": (
        HEADER + "Acme Dental,WS,3,5/1/2026,,\n",
        "contracts.csv row 2: start must be a date written YYYY-MM-DD, got '5/1/2026'",
    ),
    "unknown client": (
        HEADER + "Acme Dental,WS,3,2026-05-01,,\nZed Co,WS,3,2026-05-01,,\n",
        "contracts.csv row 3: client names an unknown client 'Zed Co'",
    ),
    "unknown product": (
        HEADER + "Acme Dental,ws,3,2026-05-01,,\n",
        "contracts.csv row 2: product names an unknown product 'ws' (did you mean 'WS'?)",
    ),
    "overlapping lines in the sheet": (
        HEADER + "Cedar Law,WS,3,2026-01-01,2026-06-30,\nCedar Law,WS,4,2026-06-01,,\n",
        "contracts.csv row 3: start overlaps row 2 for 'Cedar Law' / 'WS' (2026-01-01 to 2026-06-30 and "
        "2026-06-01 to open); give the earlier line an end before the later start",
    ),
    "closing the open line before it starts": (
        HEADER + "Acme Dental,WS,700,2025-12-01,,\n",
        "contracts.csv row 2: start must be after the start of the open line for 'Acme Dental' / 'WS' "
        "(2026-01-01); closing it the day before 2025-12-01 would end it before it starts",
    ),
    "overlapping an existing closed line": (
        HEADER + "Acme Dental,WS,600,2025-06-01,2025-12-31,\n",
        "contracts.csv row 2: start overlaps the existing line for 'Acme Dental' / 'WS' "
        "(2025-01-01 to 2025-12-31, quantity 640)",
    ),
    "too many cells": (
        HEADER + "Acme Dental,WS,3,2026-05-01,,,extra\n",
        "contracts.csv row 2: has 7 cells but the header has 6 columns",
    ),
    "wrong encoding": (
        (HEADER + "Acme Dental,WS,3,2026-05-01,,\nCafé Zed,WS,3,2026-05-01,,\n").encode("cp1252"),
        "contracts.csv row 3: not UTF-8 text (byte 0xe9); save the file as UTF-8",
    ),
    "empty file": ("", "contracts.csv: the file is empty"),
    "header only": (HEADER, "contracts.csv: has a header but no contract lines"),
}


@pytest.mark.parametrize(("content", "expected"), CSV_CASES.values(), ids=CSV_CASES.keys())
def test_bad_contracts_sheet_is_refused_and_nothing_changes(
    loaded: Engine, tmp_path: Path, content: str | bytes, expected: str
) -> None:
    _refused(loaded, tmp_path / "contracts.csv", content, expected)


def test_missing_file_is_a_clear_error(loaded: Engine, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["config", "import", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path}/nope.toml: no such file\n"
