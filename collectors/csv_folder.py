"""Tools without an API: `kind = "csv"` reads the exports a person (or a scheduled job) drops into a
folder, declared in a `[sources.csv]` table. Files are only ever read — never moved, renamed or deleted —
and a file that is wrong fails that run with the file, row and column to fix, writing nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from collectors.base import Source, Stream
from collectors.http import Api, HttpPolicy
from collectors.records import Count, Entity, Org, Record
from collectors.registry import register
from mcc.errors import BookError, SourceError
from mcc.money import MAX_QUANTITY
from store.book_parse import CsvWhere, decode_text

MAX_FILE_BYTES = 256 * 1024 * 1024  # the file is read whole; past this it is not an export of counts
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# A cell a spreadsheet would run as a formula (CSV injection): refused, never stored to be re-exported.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


# --- the declaration ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Columns(_Strict):
    """Which header names hold each part of a row (matched ignoring case and surrounding spaces)."""

    organisation: str = "organisation"
    organisation_name: str = "organisation_name"  # optional column
    metric: str = "metric"  # needed when `metrics` lists more than one
    attributes: str = "attributes"  # optional: `key=value;key=value`
    quantity: str = "quantity"  # needed with count = "quantity"
    id: str = "id"  # optional with count = "rows": each entity's id (repeats are refused)
    name: str = "name"  # optional with count = "rows": each entity's name


class CsvSpec(_Strict):
    folder: str = Field(min_length=1)
    glob: str = "*.csv"
    files: Literal["newest", "all"] = "newest"
    metrics: list[str] = Field(min_length=1)
    count: Literal["quantity", "rows"] = "quantity"
    columns: Columns = Field(default_factory=Columns)
    attribute_columns: list[str] = Field(default_factory=list)
    delimiter: str = ","
    max_rows: int = Field(100_000, ge=1, le=5_000_000)

    @model_validator(mode="after")
    def _check(self) -> CsvSpec:
        if self.delimiter not in DELIMITERS:
            raise ValueError(
                f"delimiter must be one of {', '.join(repr(d) for d in DELIMITERS)}, got {self.delimiter!r}"
            )
        for metric in self.metrics:
            if not _METRIC.match(metric):
                raise ValueError(f"metrics: {metric!r} must be lower-case letters, digits and _")
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("metrics: a metric is listed twice")
        if "/" in self.glob or "\\" in self.glob or ".." in self.glob:
            raise ValueError(f"glob matches file names in the folder only, got {self.glob!r}")
        return self


def parse_spec(raw: Any, source: str) -> CsvSpec:
    """The `[sources.csv]` table, or a ValueError naming the key that is wrong."""
    try:
        return CsvSpec.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        key = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        raise ValueError(f"csv.{key}: {message}" if key else f"csv: {message}") from None


# --- reading one file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Where each part of a row is, by cell index, after the header was checked."""

    organisation: int
    organisation_name: int | None
    metric: int | None
    attributes: int | None
    quantity: int | None
    id: int | None
    name: int | None
    attribute_columns: tuple[tuple[str, int], ...]
    width: int


def _layout(header: list[str], spec: CsvSpec, where: CsvWhere) -> _Layout:
    names = [cell.strip().lower() for cell in header]
    shown = ",".join(cell.strip() for cell in header)
    if len(names) == 1:
        for delimiter, word in DELIMITERS.items():
            if delimiter != spec.delimiter and delimiter in header[0]:
                raise where.error(
                    None,
                    f"the header is one column ({header[0].strip()[:80]!r}); the file looks {word}-separated: "
                    f"set csv.delimiter = {delimiter!r}",
                )
    for index, name in enumerate(names):
        if name and names.index(name) != index:
            raise where.error(None, f"column {header[index].strip()!r} appears twice")
    set_explicitly = spec.columns.model_fields_set

    def column(role: str, required: bool) -> int | None:
        wanted = str(getattr(spec.columns, role)).strip().lower()
        if wanted in names:
            return names.index(wanted)
        if required or role in set_explicitly:
            raise where.error(
                None,
                f"missing column {wanted!r} (csv.columns.{role}); the header is {shown[:200]}",
            )
        return None

    extra = []
    for name in spec.attribute_columns:
        if name.strip().lower() not in names:
            raise where.error(
                None, f"missing column {name!r} (csv.attribute_columns); the header is {shown[:200]}"
            )
        extra.append((name.strip(), names.index(name.strip().lower())))
    rows = spec.count == "rows"
    return _Layout(
        organisation=column("organisation", True) or 0,
        organisation_name=column("organisation_name", False),
        metric=column("metric", len(spec.metrics) > 1),
        attributes=column("attributes", False),
        quantity=column("quantity", True) if not rows else None,
        id=column("id", False) if rows else None,
        name=column("name", False) if rows else None,
        attribute_columns=tuple(extra),
        width=len(names),
    )


def _text(cells: list[str], index: int | None, where: CsvWhere, label: str) -> str:
    if index is None or index >= len(cells):
        return ""
    value = cells[index].strip()
    raw = cells[index].lstrip(" ")
    if raw.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        raise where.error(
            label,
            f"looks like a spreadsheet formula ({value[:40]!r}); export the values, not formulas",
        )
    return value


def _quantity(text: str, where: CsvWhere, label: str) -> int:
    if not text:
        raise where.error(label, "is missing")
    if not _WHOLE.fullmatch(text):
        hint = ""
        if "_" in text or "," in text or " " in text:
            hint = " (write digits only, no separators)"
        elif "e" in text.lower() or "." in text:
            hint = " (write the whole number itself, not a decimal or 1e9 notation)"
        raise where.error(label, f"must be a whole number ≥ 0, got {text!r}{hint}")
    value = int(text)
    if value > MAX_QUANTITY:
        raise where.error(label, f"must be at most {MAX_QUANTITY:,}, got {text!r}")
    return value


def _attributes(text: str, where: CsvWhere, label: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for part in (piece.strip() for piece in text.split(";")):
        if not part:
            continue
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals or not key:
            raise where.error(label, f"must be key=value pairs separated by ';', got {part!r}")
        if key in attrs:
            raise where.error(label, f"names {key!r} twice")
        attrs[key] = value.strip()
    return attrs


@dataclass
class FileRecords:
    """What one file holds: its organisations and its counts or entities, in row order."""

    orgs: dict[str, Org]
    records: list[Count | Entity]
    rows: int


def read_file(text: str, display: str, spec: CsvSpec) -> FileRecords:
    """Validate one export; a BookError names the file, the row (header = row 1) and the column."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise BookError(f"{display}: the file is empty") from None
    except csv.Error as exc:
        raise BookError(f"{display} row 1: not a readable CSV header ({exc})") from None
    layout = _layout(header, spec, CsvWhere(display, 1))
    labels = {index: cell.strip() for index, cell in enumerate(header)}
    result = FileRecords({}, [], 0)
    seen: dict[tuple[Any, ...], int] = {}
    row_number = 1
    try:
        for row_number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            result.rows += 1
            if result.rows > spec.max_rows:
                raise BookError(
                    f"{display}: more than {spec.max_rows:,} rows (csv.max_rows); "
                    "raise it if the export really is that long"
                )
            where = CsvWhere(display, row_number)
            if len(cells) > layout.width:
                raise where.error(None, f"has {len(cells)} cells but the header has {layout.width} columns")
            record, key = _row(cells, layout, labels, spec, where)
            if key is not None:
                if key in seen:
                    raise where.error(None, f"repeats row {seen[key]} ({_describe(key)}); remove one of them")
                seen[key] = row_number
            result.records.append(record)
            if record.org not in result.orgs:
                name = _text(
                    cells, layout.organisation_name, where, labels.get(layout.organisation_name or 0, "")
                )
                result.orgs[record.org] = Org(record.org, name or record.org)
    except csv.Error as exc:
        raise BookError(f"{display} row {row_number + 1}: not readable as CSV ({exc})") from None
    if not result.records:
        raise BookError(
            f"{display}: has a header but no rows; an export with nothing in it is refused "
            "so a broken export never sets every count to 0"
        )
    return result


def _describe(key: tuple[Any, ...]) -> str:
    kind, org, metric, rest = key[0], key[1], key[2], key[3]
    if kind == "entity":
        return f"organisation {org!r}, {metric} id {rest!r}"
    attrs = ", ".join(f"{k}={v}" for k, v in rest) or "no attributes"
    return f"organisation {org!r}, {metric}, {attrs}"


def _row(
    cells: list[str], layout: _Layout, labels: dict[int, str], spec: CsvSpec, where: CsvWhere
) -> tuple[Count | Entity, tuple[Any, ...] | None]:
    def label(index: int | None) -> str:
        return labels.get(index, "") if index is not None else ""

    org = _text(cells, layout.organisation, where, label(layout.organisation))
    if not org:
        raise where.error(label(layout.organisation), "is missing")
    if layout.metric is not None:
        metric = _text(cells, layout.metric, where, label(layout.metric))
        if not metric and len(spec.metrics) == 1:
            metric = spec.metrics[0]
        if metric not in spec.metrics:
            raise where.error(
                label(layout.metric),
                f"must be one of {', '.join(spec.metrics)} (csv.metrics), got {metric!r}",
            )
    else:
        metric = spec.metrics[0]
    attrs = _attributes(
        _text(cells, layout.attributes, where, label(layout.attributes)), where, label(layout.attributes)
    )
    for name, index in layout.attribute_columns:
        if name in attrs:
            raise where.error(label(index), f"is also named in {label(layout.attributes)!r}")
        attrs[name] = _text(cells, index, where, label(index))
    if spec.count == "quantity":
        quantity = _quantity(
            _text(cells, layout.quantity, where, label(layout.quantity)), where, label(layout.quantity)
        )
        count = Count.of(org, metric, quantity, attrs)
        return count, ("count", org, metric, count.attrs)
    if layout.id is None:
        return Count.of(org, metric, 1, attrs), None  # each row one entity, with nothing to tell two apart
    entity_id = _text(cells, layout.id, where, label(layout.id))
    if not entity_id:
        raise where.error(label(layout.id), "is missing")
    name = _text(cells, layout.name, where, label(layout.name))
    return Entity.of(org, metric, entity_id, name, attrs), ("entity", org, metric, entity_id)


# --- the folder -----------------------------------------------------------------------------------


def chosen_files(spec: CsvSpec, source: str) -> list[Path]:
    """The files a run reads: the newest match (by modification time, then name), or every match.
    Hidden files and spreadsheet lock files (`~$…`) are never read."""
    folder = Path(spec.folder)
    if not folder.is_dir():
        raise SourceError(f"{source}: the folder {spec.folder!r} (csv.folder) does not exist")
    matches = [
        path for path in folder.glob(spec.glob) if path.is_file() and not path.name.startswith((".", "~$"))
    ]
    if not matches:
        raise SourceError(
            f"{source}: no file matching {spec.glob!r} in {spec.folder!r} (csv.folder, csv.glob)"
        )
    matches.sort(key=lambda path: (path.stat().st_mtime_ns, path.name))
    return matches[-1:] if spec.files == "newest" else sorted(matches, key=lambda path: path.name)


def load_file(path: Path, source: str, spec: CsvSpec) -> FileRecords:
    display = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SourceError(
                f"{source}: {display}: {size:,} bytes is more than {MAX_FILE_BYTES:,}; split the export"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{source}: {display}: cannot be read ({exc.strerror})") from None
    try:
        return read_file(decode_text(raw, display, unit="row"), display, spec)
    except BookError as error:
        raise SourceError(f"{source}: {error}") from None


def read_folder(
    spec: CsvSpec, source: str, api: Api | None = None
) -> tuple[dict[str, Org], list[Count | Entity]]:
    """Every chosen file, checked whole before anything is returned; with `files = "all"` a row that
    repeats one in another file is refused like a repeat within a file."""
    orgs: dict[str, Org] = {}
    records: list[Count | Entity] = []
    seen: dict[tuple[Any, ...], str] = {}
    for path in chosen_files(spec, source):
        found = load_file(path, source, spec)
        if api is not None:
            api.page_count += 1
        for record in found.records:
            key = _key(record, spec)
            if key is not None:
                if key in seen and seen[key] != str(path):
                    raise SourceError(
                        f"{source}: {path} repeats a row of {seen[key]} ({_describe(key)}); "
                        "a count belongs in one file"
                    )
                seen[key] = str(path)
        for org in found.orgs.values():
            orgs.setdefault(org.external_id, org)
        records.extend(found.records)
    return orgs, records


def _key(record: Count | Entity, spec: CsvSpec) -> tuple[Any, ...] | None:
    if isinstance(record, Entity):
        return ("entity", record.org, record.metric, record.external_id)
    return None if spec.count == "rows" else ("count", record.org, record.metric, record.attrs)


# --- the source -----------------------------------------------------------------------------------


@register
class CsvFolder(Source):
    kind = "csv"
    category = "other"
    title = "CSV exports in a folder"
    reads_folder = True
    secret_keys: ClassVar[tuple[str, ...]] = ()
    streams = {"files": Stream("hourly")}

    def __init__(self, config: Any, secrets: dict[str, SecretStr], policy: HttpPolicy = HttpPolicy()) -> None:
        super().__init__(config, secrets, policy)
        self.spec = parse_spec(config.csv, config.name)
        # The metrics come from the declaration, so this one source's stream is its own.
        self.streams = {"files": Stream("hourly", metrics=tuple(self.spec.metrics))}  # type: ignore[misc]

    def auth(self) -> httpx.Auth | None:
        return None

    def open_api(self, base_url: str | None = None, auth: httpx.Auth | None = None) -> Api:
        # Nothing is sent anywhere; the client only carries the run's file count (as pages).
        return Api(self.config.name, httpx.Client())

    def orgs(self, api: Api) -> Iterator[Org]:
        orgs, _ = read_folder(self.spec, self.config.name, api)
        yield from orgs.values()

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        orgs, records = read_folder(self.spec, self.config.name, api)
        yield from orgs.values()
        yield from records

    def first_page(self, api: Api) -> list[Record]:
        """The files' records as MCC would count them (`mcc sources test NAME --dry-run`)."""
        return list(self.collect(api, "files"))
