"""The book's TOML on both sides: a small deterministic emitter (fixed key order, no dependency) and a
locator that finds the line of the n-th `[[section]]` and of a key inside it, for error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

TomlValue = (
    str
    | int
    | bool
    | Sequence[str | int | bool]
    | Mapping[str, "str | int | bool | Sequence[str | int | bool]"]
)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")


# --- writing ------------------------------------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest kept as UTF-8."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{toml_key(k)} = {toml_value(value[k])}" for k in sorted(value))
        return "{ " + items + " }"
    return "[" + ", ".join(toml_value(item) for item in value) + "]"


def toml_document(
    top: Iterable[tuple[str, TomlValue]], sections: Iterable[tuple[str, list[list[tuple[str, TomlValue]]]]]
) -> str:
    """Top-level keys, then each array of tables in the given order; keys keep the order given.

    A key whose value is None is left out, so optional fields simply do not appear.
    """
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in top if v is not None]
    for name, tables in sections:
        for table in tables:
            lines.append("")
            lines.append(f"[[{name}]]")
            lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in table if v is not None)
    return "\n".join(lines) + "\n"


# --- locating -------------------------------------------------------------------------------------


@dataclass
class Locator:
    """Line numbers (1-based) of `[[section]]` headers and the keys under them, found in the raw text.

    A book that writes its arrays inline (`products = [{...}]`) still parses; its messages then
    name the entry without a line.
    """

    text: str
    _headers: list[tuple[int, str, bool]] = field(init=False)  # (line, name, is array of tables)
    _lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self._lines = self.text.splitlines()
        self._headers = []
        for number, line in enumerate(self._lines, start=1):
            match = _HEADER.match(line)
            if match and not line.lstrip().startswith("#"):
                self._headers.append((number, match.group(2).strip().strip('"'), match.group(1) == "[["))

    def section_line(self, section: str, index: int) -> int | None:
        """The line of the `index`-th (1-based) `[[section]]` header."""
        seen = 0
        for number, name, is_array in self._headers:
            if is_array and name == section:
                seen += 1
                if seen == index:
                    return number
        return None

    def header_line(self, name: str) -> int | None:
        """The first `[name]` or `[[name]]` header (or `[name.sub]`)."""
        for number, header, _ in self._headers:
            if header == name or header.startswith(name + "."):
                return number
        return None

    def key_line(self, section: str | None, index: int, key: str) -> int | None:
        """The line of `key = ...` inside the `index`-th `[[section]]` (or at the top when section is None)."""
        if section is None:
            start, stop = 0, self._headers[0][0] - 1 if self._headers else len(self._lines)
        else:
            header = self.section_line(section, index)
            if header is None:
                return None
            start = header
            stop = next((n - 1 for n, _, _ in self._headers if n > header), len(self._lines))
        pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*[=.]""")
        for number in range(start + 1, stop + 1):
            if pattern.match(self._lines[number - 1]):
                return number
        return None
