"""Every CSV MCC writes goes through here, so a cell a spreadsheet would run as a formula (a client named
`=HYPERLINK(...)`, `+`, `-`, `@`, a leading tab or carriage return) is written with a leading `'`, which
Excel, LibreOffice and Google Sheets show as text. Reading a sheet back removes exactly that quote."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")  # "-3.00" is a number, not a formula: left as is


def safe_cell(value: Any) -> Any:
    """A text cell neutralised against formula injection; numbers and other values unchanged.

    `'` is added before a formula prefix, and before a `'` already there when a prefix or another `'`
    follows it, so `read_cell(safe_cell(text)) == text` for every text.
    """
    if not isinstance(value, str) or not value or _PLAIN_NUMBER.fullmatch(value):
        return value
    if value.startswith(FORMULA_PREFIXES) or (
        value.startswith("'") and value[1:2] != "" and value[1:2] in (*FORMULA_PREFIXES, "'")
    ):
        return "'" + value
    return value


def read_cell(text: str) -> str:
    """The cell as it was before safe_cell (a sheet exported by MCC imports unchanged)."""
    if text.startswith("'") and text[1:2] != "" and text[1:2] in (*FORMULA_PREFIXES, "'"):
        return text[1:]
    return text


class SafeWriter:
    """csv.writer whose rows pass through safe_cell."""

    def __init__(self, out: IO[str], **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


if TYPE_CHECKING:
    _DictWriter = csv.DictWriter[str]
else:
    _DictWriter = csv.DictWriter  # not subscriptable at run time


class SafeDictWriter(_DictWriter):
    """csv.DictWriter whose values pass through safe_cell."""

    def __init__(self, out: IO[str], fieldnames: Sequence[str], **options: Any) -> None:
        super().__init__(out, fieldnames=fieldnames, **options)

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})
