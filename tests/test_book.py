"""The billing book: import upserts, export is canonical, export → import → export is byte-identical,
the contracts sheet closes open lines, and exclusions dropped from the book are revoked, not deleted."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from mcc.cli import app
from mcc.config import Config
from mcc.errors import BookError, PermissionDenied
from mcc.permissions import Actor
from store.book import export_book, import_book, import_file
from store.book_csv import export_contracts_csv, import_contracts_csv
from store.db import make_engine, reading
from store.models import AuditEvent, Client, ClientOrg, Contract, Exclusion, HourBlock, Mapping, Product
from tests.test_book_support import DATA, SOURCES, snapshot

ADMIN = Actor("alice", frozenset({"admin"}))


@pytest.fixture
def config(write_config) -> Config:
    return write_config(SOURCES)


@pytest.fixture
def loaded(engine: Engine, config: Config) -> Engine:
    """The database after importing the hand-written example book."""
    import_book(engine, config, DATA / "book.toml", ADMIN)
    return engine


def _contracts(engine: Engine, client: str, product: str) -> list[tuple[int, date, date | None]]:
    with reading(engine) as session:
        rows = session.execute(
            select(Contract.quantity, Contract.start, Contract.end)
            .join(Client, Client.id == Contract.client_id)
            .join(Product, Product.id == Contract.product_id)
            .where(Client.name == client, Product.code == product)
            .order_by(Contract.start)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_import_then_export_equals_the_canonical_fixture(loaded: Engine) -> None:
    assert export_book(loaded, "USD") == (DATA / "canonical.toml").read_text(encoding="utf-8")


def test_export_import_export_is_byte_identical_through_the_cli(
    loaded: Engine,
    config: Config,
    migrated_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_user,
) -> None:
    runner = CliRunner()
    cli_user("alice")
    first = tmp_path / "first.toml"
    assert runner.invoke(app, ["config", "export", "-o", str(first)]).exit_code == 0

    # into a fresh database, then out again
    fresh = tmp_path / "fresh.db"
    shutil.copy(migrated_template, fresh)
    monkeypatch.setenv("MCC_DATABASE_URL", f"sqlite:///{fresh}")
    cli_user("alice", url=f"sqlite:///{fresh}")
    result = runner.invoke(app, ["config", "import", str(first)])
    assert result.exit_code == 0, result.output
    second = runner.invoke(app, ["config", "export"])
    assert second.exit_code == 0
    assert second.stdout.encode("utf-8") == first.read_bytes()

    # and into the same database again: nothing changes
    monkeypatch.delenv("MCC_DATABASE_URL")
    again = runner.invoke(app, ["config", "import", str(first)])
    assert again.exit_code == 0 and "no changes" in again.stdout


def test_every_import_writes_one_audit_event_with_counts(loaded: Engine, config: Config) -> None:
    import_book(loaded, config, DATA / "canonical.toml", ADMIN)
    with reading(loaded) as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.payload).order_by(AuditEvent.id)
        )
        rows = [tuple(row) for row in events]
    assert [row[:2] for row in rows] == [("book.import", "alice")] * 2
    first, second = (json.loads(row[2]) for row in rows)
    assert (first["products_added"], first["clients_added"], first["contracts_added"]) == (3, 3, 4)
    assert (first["orgs_added"], first["exclusions_added"], first["blocks_added"]) == (4, 2, 1)
    assert all(value == 0 for key, value in second.items() if key not in ("file", "kind"))


def test_cli_import_acts_as_the_named_user(engine: Engine, config: Config, cli_user) -> None:
    cli_user("dana", "admin", use=False)
    result = CliRunner().invoke(app, ["config", "import", str(DATA / "book.toml"), "--as", "Dana"])
    assert result.exit_code == 0, result.output
    assert "3 products added" in result.stdout
    with reading(engine) as session:
        assert session.scalars(select(AuditEvent.actor)).all() == ["dana"]
        assert set(session.scalars(select(Contract.created_by))) == {"dana"}


def test_cli_import_refuses_without_a_named_admin(engine: Engine, config: Config, cli_user) -> None:
    cli_user("vic", "approver", use=False)
    cases = {
        "nobody named": ([], {}, "give --as USERNAME or set MCC_USER"),
        "unknown user": (["--as", "mallory"], {}, "no MCC user named 'mallory'"),
        "unknown via env": ([], {"MCC_USER": "mallory"}, "no MCC user named 'mallory'"),
        "role re-checked": (["--as", "vic"], {}, "vic may not import the billing book: the 'admin' role"),
    }
    for args, env, expected in cases.values():
        result = CliRunner().invoke(app, ["config", "import", str(DATA / "book.toml"), *args], env=env)
        assert result.exit_code == 1, result.output
        assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert snapshot(engine)["products"] == []


def test_upsert_replaces_mappings_orgs_and_contract_lines(loaded: Engine, config: Config) -> None:
    book = (DATA / "canonical.toml").read_text(encoding="utf-8")
    book = book.replace('unit_price = "45.00"', 'unit_price = "47.50"')
    book = book.replace('orgs = { ninja = ["12", "13"], ninja-eu = "7" }', 'orgs = { ninja = "12" }')
    book = book.replace('orgs = { ninja = "20" }', 'orgs = { ninja = ["13", "20"] }')
    book = book.replace("quantity = 680", "quantity = 700")
    book = book.replace(
        '[[mappings]]\nproduct = "SRV"\nsource = "ninja-eu"\nmetric = "devices"\nwhere = { node_class = "WINDOWS_SERVER" }\n\n',
        "",
    )
    summary = import_book(loaded, config, book.encode(), ADMIN, name="edited.toml")

    assert (summary.products_updated, summary.mappings_removed, summary.mappings_added) == (1, 2, 1)
    assert (summary.orgs_removed, summary.orgs_added) == (2, 1)
    assert (summary.contracts_removed, summary.contracts_added) == (1, 1)
    assert summary.clients_updated == 2
    assert _contracts(loaded, "Acme Dental", "WS") == [
        (640, date(2025, 1, 1), date(2025, 12, 31)),
        (700, date(2026, 1, 1), None),
    ]
    with reading(loaded) as session:
        assert session.scalar(select(Product.unit_price_cents).where(Product.code == "WS")) == 4750
        orgs = session.execute(
            select(Client.name, ClientOrg.source, ClientOrg.external_id)
            .join(ClientOrg)
            .order_by(ClientOrg.external_id)
        ).all()
        assert [tuple(o) for o in orgs] == [
            ("Acme Dental", "ninja", "12"),
            ('Bright "Smiles" Ortho', "ninja", "13"),
            ('Bright "Smiles" Ortho', "ninja", "20"),
        ]
        assert session.scalars(select(Mapping.source).join(Product).where(Product.code == "SRV")).all() == [
            "ninja"
        ]
    assert export_book(loaded, "USD") == book


def test_an_org_named_for_a_new_client_moves_to_it(loaded: Engine, config: Config) -> None:
    summary = import_book(loaded, config, '[[clients]]\nname = "Zed Co"\norgs = { ninja = "12" }\n', ADMIN)
    assert (summary.clients_added, summary.clients_updated, summary.orgs_added, summary.orgs_removed) == (
        1,
        1,
        1,
        1,
    )
    with reading(loaded) as session:
        owners = session.execute(
            select(ClientOrg.external_id, Client.name).join(Client).where(ClientOrg.source == "ninja")
        )
        assert dict(tuple(row) for row in owners) == {
            "12": "Zed Co",
            "13": "Acme Dental",
            "20": 'Bright "Smiles" Ortho',
        }


def test_a_partial_book_leaves_everything_else_alone(loaded: Engine, config: Config) -> None:
    before = export_book(loaded, "USD")
    partial = '[[products]]\ncode = "NEW"\nname = "Backup seat"\nunit_price = "3.00"\n'
    summary = import_book(loaded, config, partial, ADMIN)
    assert summary.products_added == 1 and summary.exclusions_revoked == 0
    after = export_book(loaded, "USD")
    assert (
        after.replace(
            '\n[[products]]\ncode = "NEW"\nname = "Backup seat"\nunit_price = "3.00"\npolicy = "end"\ntolerance = 0\ncategory = "other"\n',
            "",
        )
        == before
    )


def test_exclusion_left_out_of_the_book_is_revoked_not_deleted(loaded: Engine, config: Config) -> None:
    book = (DATA / "canonical.toml").read_text(encoding="utf-8")
    entity_block = (
        '\n[[exclusions]]\nclient = "Acme Dental"\nsource = "ninja"\nentity = "dev-4411"\n'
        'reason = "owner\'s home PC, covered by goodwill"\n'
    )
    assert entity_block in book
    summary = import_book(loaded, config, book.replace(entity_block, ""), ADMIN)
    assert (summary.exclusions_revoked, summary.exclusions_added) == (1, 0)
    with reading(loaded) as session:
        revoked = session.scalars(select(Exclusion).where(Exclusion.entity_external_id == "dev-4411")).one()
        assert revoked.revoked_by == "alice" and revoked.revoked_at is not None
    assert entity_block not in export_book(loaded, "USD")

    summary = import_book(loaded, config, book, ADMIN)  # putting it back adds a new, active row
    assert (summary.exclusions_revoked, summary.exclusions_added) == (0, 1)
    with reading(loaded) as session:
        rows = session.scalars(select(Exclusion).where(Exclusion.entity_external_id == "dev-4411")).all()
        assert [row.revoked_at is None for row in rows] == [False, True]


def test_an_exclusion_start_is_imported_and_exported_back(loaded: Engine, config: Config) -> None:
    book = (DATA / "canonical.toml").read_text(encoding="utf-8")
    entity_block = (
        '\n[[exclusions]]\nclient = "Acme Dental"\nsource = "ninja"\nentity = "dev-4411"\n'
        'reason = "owner\'s home PC, covered by goodwill"\n'
    )
    dated_block = entity_block + 'start = "2026-03-01"\n'
    summary = import_book(loaded, config, book.replace(entity_block, dated_block), ADMIN)
    # a different start is a different exclusion: the undated one is revoked, the dated one added
    assert (summary.exclusions_revoked, summary.exclusions_added) == (1, 1)
    with reading(loaded) as session:
        active = session.scalars(
            select(Exclusion).where(
                Exclusion.entity_external_id == "dev-4411", Exclusion.revoked_at.is_(None)
            )
        ).one()
        assert active.start == date(2026, 3, 1)
    assert dated_block in export_book(loaded, "USD")
    again = import_book(loaded, config, export_book(loaded, "USD"), ADMIN)
    assert (again.exclusions_revoked, again.exclusions_added) == (0, 0)


def test_an_exclusion_start_must_be_a_day(loaded: Engine, config: Config) -> None:
    book = (DATA / "canonical.toml").read_text(encoding="utf-8")
    bad = book.replace('entity = "dev-4411"\n', 'entity = "dev-4411"\nstart = "March"\n')
    with pytest.raises(BookError, match="start"):
        import_book(loaded, config, bad, ADMIN)


def test_category_is_inferred_from_the_first_mapping_or_is_other(loaded: Engine) -> None:
    with reading(loaded) as session:
        categories = {
            code: category for code, category in session.execute(select(Product.code, Product.category))
        }
    assert categories == {"WS": "rmm", "SRV": "rmm", "BLOCK": "time"}
    with reading(loaded) as session:
        block = session.scalars(select(HourBlock)).one()
        assert (str(block.hours), block.rate_cents, block.end) == ("10", 12500, date(2026, 6, 30))


def test_csv_closes_the_open_line_the_day_before_the_new_start(
    loaded: Engine, config: Config, tmp_path: Path
) -> None:
    sheet = tmp_path / "contracts.csv"
    sheet.write_text(
        "client,product,quantity,start,end,unit_price\nAcme Dental,WS,700,2026-04-01,,46.00\nCedar Law,WS,5,2026-02-01,,\n",
        encoding="utf-8",
    )
    summary = import_file(loaded, config, sheet, ADMIN)
    assert (summary.kind, summary.contracts_added, summary.contracts_closed) == ("contracts_csv", 2, 1)
    assert _contracts(loaded, "Acme Dental", "WS") == [
        (640, date(2025, 1, 1), date(2025, 12, 31)),
        (680, date(2026, 1, 1), date(2026, 3, 31)),
        (700, date(2026, 4, 1), None),
    ]
    assert _contracts(loaded, "Cedar Law", "WS") == [(5, date(2026, 2, 1), None)]
    again = import_file(loaded, config, sheet, ADMIN)  # the same sheet twice changes nothing
    assert not again.changed


def test_csv_export_import_export_is_byte_identical(loaded: Engine, config: Config, tmp_path: Path) -> None:
    exported = export_contracts_csv(loaded)
    assert exported.splitlines()[0] == "client,product,quantity,start,end,unit_price"
    assert "Acme Dental,WS,640,2025-01-01,2025-12-31,42.50" in exported.splitlines()
    summary = import_contracts_csv(loaded, config, exported.encode("utf-8"), ADMIN, name="contracts.csv")
    assert not summary.changed
    assert export_contracts_csv(loaded) == exported


def test_uploaded_bytes_with_a_byte_order_mark_are_read(engine: Engine, config: Config) -> None:
    raw = b"\xef\xbb\xbf" + (DATA / "book.toml").read_bytes()
    summary = import_file(engine, config, raw, ADMIN, name="upload.toml")
    assert summary.file == "upload.toml" and summary.clients_added == 3


def test_unknown_suffix_is_refused(engine: Engine, config: Config) -> None:
    with pytest.raises(
        BookError, match=r"book.xlsx: expected a book \(.toml\) or a contracts sheet \(.csv\)"
    ):
        import_file(engine, config, b"x", ADMIN, name="book.xlsx")


def test_only_an_admin_may_import(engine: Engine, config: Config) -> None:
    before = snapshot(engine)
    viewer = Actor("vic", frozenset({"viewer", "approver"}))
    with pytest.raises(PermissionDenied, match="admin"):
        import_book(engine, config, DATA / "book.toml", viewer)
    with pytest.raises(PermissionDenied, match="admin"):
        import_contracts_csv(engine, config, b"client,product,quantity,start\n", viewer, name="c.csv")
    assert snapshot(engine) == before


def test_export_of_an_empty_database_imports_cleanly(engine: Engine, config: Config, tmp_path: Path) -> None:
    text = export_book(engine, "USD")
    assert text == 'currency = "USD"\n'
    summary = import_book(engine, config, text, ADMIN)
    assert not summary.changed


def test_export_to_a_file_in_a_missing_directory_is_a_clear_error(
    loaded: Engine, config: Config, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["config", "export", "-o", str(tmp_path / "no" / "book.toml")])
    assert result.exit_code == 1
    assert "book.toml: cannot be written" in result.stderr


def test_the_book_works_on_a_second_engine(loaded: Engine, database_url: str) -> None:
    """A reader engine (what the pages use) sees the same export."""
    reader = make_engine(database_url, readonly=True)
    try:
        assert export_book(reader, "USD") == export_book(loaded, "USD")
    finally:
        reader.dispose()


def test_the_documented_example_imports(engine: Engine, write_config, tmp_path: Path) -> None:
    from collectors.registry import SOURCE_KINDS

    missing = {"m365", "pax8"} - set(SOURCE_KINDS)
    if missing:
        pytest.skip(f"source kinds not available yet: {', '.join(sorted(missing))}")
    config = write_config(
        '[[sources]]\nname = "ninja"\nkind = "ninjaone"\n\n[[sources]]\nname = "m365"\nkind = "m365"\n\n'
        '[[sources]]\nname = "pax8"\nkind = "pax8"\n'
    )
    doc = (Path(__file__).parent.parent / "docs" / "book.md").read_text(encoding="utf-8")
    book = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    sheet = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    summary = import_file(engine, config, book.encode(), ADMIN, name="book.toml")
    assert (summary.products_added, summary.clients_added, summary.contracts_added) == (3, 2, 2)
    summary = import_file(engine, config, sheet.encode(), ADMIN, name="contracts.csv")
    assert (summary.contracts_added, summary.contracts_closed) == (2, 0)


@pytest.mark.postgres
def test_round_trip_on_postgresql(postgres_url: str, config: Config) -> None:
    engine = make_engine(postgres_url)
    try:
        import_book(engine, config, DATA / "book.toml", ADMIN)
        exported = export_book(engine, "USD")
        assert exported == (DATA / "canonical.toml").read_text(encoding="utf-8")
        assert not import_book(engine, config, exported, ADMIN).changed
        before = export_contracts_csv(engine)
        with pytest.raises(BookError, match="contracts.csv row 2: end is before start"):
            import_contracts_csv(
                engine,
                config,
                b"client,product,quantity,start,end\nAcme Dental,WS,1,2026-05-01,2026-04-01\n",
                ADMIN,
                name="contracts.csv",
            )
        assert export_contracts_csv(engine) == before
    finally:
        engine.dispose()
