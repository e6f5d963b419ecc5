"""Names people type (clients, product codes): one comparison key, so `ACME DENTAL`, `Acme Dental `, NFD
`Café` and a name with a zero-width space are the same name; and the characters a name may not hold."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and invisible formatting characters (Unicode category Cf): they make two names look equal
# on screen while comparing unequal. Soft hyphen, ZWSP, ZWNJ, ZWJ, word joiner, BOM, bidi controls.
_WHITESPACE = re.compile(r"\s+")


def _invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf"


def name_key(name: str) -> str:
    """The key two names are compared by: NFKC, case-folded, whitespace collapsed, invisible characters
    dropped. `name_key("  ACME\u200b  Dental ") == name_key("acme dental")`."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(char for char in text if not _invisible(char) and unicodedata.category(char) != "Cc")
    text = _WHITESPACE.sub(" ", text).strip()
    return unicodedata.normalize("NFKC", text.casefold())


def name_problem(name: str) -> str | None:
    """Why a name cannot be stored as written (control or invisible characters), or None."""
    for char in name:
        if char in "\t ":
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            label = {"\x00": "a NUL", "\n": "a line break", "\r": "a carriage return"}.get(
                char, f"control character U+{ord(char):04X}"
            )
            return f"contains {label}; a name is one line of visible text"
        if category == "Cf":
            return (
                f"contains the invisible character U+{ord(char):04X} ({unicodedata.name(char, 'format')}); "
                "retype the name without it"
            )
    return None


def clean_name(name: str) -> str:
    """The form a name is stored in: NFC, surrounding whitespace removed, inner runs of spaces collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", name)).strip()


def _script(char: str) -> str | None:
    """The script of a letter as far as look-alikes go (LATIN, CYRILLIC, GREEK, ...), None for non-letters."""
    if not char.isalpha():
        return None
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


def mixed_scripts(name: str) -> list[str]:
    """The scripts of the letters in a name when there is more than one (`Аcme`: CYRILLIC and LATIN)."""
    scripts = sorted({s for s in map(_script, unicodedata.normalize("NFKC", name)) if s})
    return scripts if len(scripts) > 1 else []
