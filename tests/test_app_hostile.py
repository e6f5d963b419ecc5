"""Every page walked with a hostile book: client and product names that are HTML, Markdown, Streamlit
colour markup or spreadsheet formulas are shown as text, never as elements."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from mcc.config import Config
from pages.formatting import md
from tests import app_world
from tests.app_support import prepare, signed_in
from tests.test_app_pages import PAGES

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "**bold**",
    "[link](http://evil.example)",
    "=HYPERLINK(1)",
    ":red[red] :material/bolt:",
    "<b>shout</b>",
]
# What would become an element if it reached Markdown or HTML as written.
RAW = ["<img", "**bold**", "[link](", ":red[", ":material/bolt:", "<b>shout"]


def hostile_name(index: int) -> str:
    return f"{HOSTILE[(index - 1) % len(HOSTILE)]} {index:04d}"


@pytest.fixture
def hostile_world(engine: Engine, write_config, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setattr(app_world, "client_name", hostile_name)
    config = write_config(app_world.SOURCES_TOML)
    app_world.seed_world(engine, config)
    prepare(engine, monkeypatch)
    return config


def shown(at: AppTest) -> list[str]:
    """Every piece of text a page hands to Markdown or HTML: bodies, titles, alerts, captions, labels."""
    parts: list[str] = []
    for kind in (
        "title",
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
        "subheader",
        "header",
    ):
        parts.extend(str(element.value) for element in at.get(kind))
    parts.extend(str(expander.label) for expander in at.get("expandable"))
    parts.extend(str(toast.value) for toast in at.get("toast"))
    return parts


def test_md_turns_every_markup_character_into_a_reference() -> None:
    assert md("<img src=x>") == "&#60;img src=x&#62;"
    assert md("**b** [l](x) :red[r] $x$ ~~s~~ _e_") == (
        "&#42;&#42;b&#42;&#42; &#91;l&#93;(x) &#58;red&#91;r&#93; &#36;x&#36; &#126;&#126;s&#126;&#126; &#95;e&#95;"
    )
    # ordinary text stays as it is: a colon before a space, an apostrophe, an underscore inside a word
    assert (
        md("gaps: the 'approver' role, unit_price (s) & co")
        == "gaps: the 'approver' role, unit_price (s) & co"
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_hostile_names_as_text(hostile_world: Config, page: str) -> None:
    at = signed_in("admin", page)
    assert not at.exception, at.exception
    texts = shown(at)
    for raw in RAW:
        leaked = [text for text in texts if raw in text]
        assert not leaked, f"{page}: {raw!r} reaches Markdown as written in {leaked[:2]}"


def test_the_review_heading_names_the_hostile_client_escaped(hostile_world: Config) -> None:
    at = signed_in("admin", "pages/review.py")
    assert not at.exception, at.exception
    headings = [text for text in shown(at) if text.startswith("## ")]
    assert headings and any(md(name) in headings[0] for name in HOSTILE), headings
