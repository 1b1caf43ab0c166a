"""User and URL text reaches the page as plain text, and server paths stay on the server.

``md()`` escapes every Markdown-special character and breaks bare links; the pages
show hostile link values escaped (the markup is inert, the text is there to read);
messages a visitor sees name the workspace and the case library, never their paths.
The browser counterpart is tests/e2e/test_hostile_links.py.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases as lib
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice
from mlqa_debug.ui.text import MARKDOWN_SPECIAL, WORD_JOINER, md, without_paths
from tests.conftest import REPO, shown

PAYLOADS = {
    "link": "[click me](http://evil.example/phish)",
    "image": "![x](http://evil.example/t.png)",
    "html image": "<img src=http://evil.example/x>",
    "html": "<b>bold</b>",
}
#: GFM's bare-link patterns, as Streamlit's Markdown applies them to text after parsing.
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE | re.ASCII)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)

plain_text = st.text(st.characters(blacklist_characters="\r\n" + WORD_JOINER), max_size=80)


def unescaped(source: str) -> str:
    """The text a Markdown parser makes of escapes: ``\\X`` is ``X`` (word joiners stay)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", source)


# --------------------------------------------------------------------------- md()


@given(plain_text)
def test_every_special_character_is_escaped_and_the_text_comes_back(text: str) -> None:
    source = md(text)
    bare = re.sub(r"\\.", "", source, flags=re.DOTALL)  # what is left outside escapes
    assert not set(bare) & set(MARKDOWN_SPECIAL), source
    assert shown(source) == text


@given(plain_text)
def test_no_bare_link_survives_parsing(text: str) -> None:
    parsed = unescaped(md(text))
    assert not GFM_URL.search(parsed) and not GFM_EMAIL.search(parsed), parsed


@pytest.mark.parametrize(
    "text",
    [*PAYLOADS.values(), "http://evil.example/x", "WWW.evil.example", "me@evil.example"],
)
def test_links_images_and_html_are_inert(text: str) -> None:
    source = md(text)
    assert not re.search(r"(?<!\\)[\[\]<>!`]", source)  # no unescaped markup character
    assert not GFM_URL.search(unescaped(source)) and not GFM_EMAIL.search(unescaped(source))
    assert shown(source) == text


def test_line_breaks_stay_line_breaks() -> None:
    assert md("a\nb") == "a  \nb"
    assert md("a\r\nb\rc") == "a  \nb  \nc"


def test_backticks_show_literally() -> None:
    assert md("write `and` in backticks") == "write \\`and\\` in backticks"


# --------------------------------------------------------------------------- without_paths()


def test_server_folders_are_named_not_shown(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    ws = Workspace(tmp_path / "ws")
    root = ws.root
    assert (
        without_paths(f"no dataset named 'x' in the workspace {root}; available: a, b", ws)
        == "no dataset named 'x' in the workspace; available: a, b"
    )
    assert without_paths(f"cannot read '{root}/datasets/x/dataset.json'.", ws) == (
        "cannot read 'datasets/x/dataset.json'."
    )
    assert without_paths(f"{root}/cases/c1.json is broken", ws) == "c1.json is broken"
    assert without_paths(f"saved in {root}.", ws) == "saved in the workspace."
    assert without_paths(f"{root}-old stays", ws) == f"{root}-old stays"  # another folder


# --------------------------------------------------------------------------- pages


def markdown_sources(at: AppTest) -> Iterator[str]:
    """The Markdown source of every element and widget label the page drew."""
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "subheader"):
        yield from (e.value for e in getattr(at, kind))
    for kind in ("button", "checkbox", "toggle", "text_input", "selectbox", "radio"):
        yield from (w.label for w in getattr(at, kind))
    yield from (e.proto.label for e in at.get("page_link"))
    yield from (e.label for e in at.expander)


def assert_shown_as_text(at: AppTest, payload: str) -> None:
    """``payload`` is on the page, and only escaped: its markup is inert."""
    assert not at.exception
    sources = list(markdown_sources(at))
    assert not [s for s in sources if payload in s]  # nowhere as markup
    assert any(payload in shown(s) for s in sources), sources  # but there, as text


@pytest.fixture
def open_page(page_runner) -> Callable[..., AppTest]:
    def run(page: str, **params: str) -> AppTest:
        return page_runner(page)(**params)

    return run


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_a_hostile_dataset_name_is_shown_as_text(open_page, payload: str) -> None:
    assert_shown_as_text(open_page("slices", ds=payload), payload)


@pytest.mark.parametrize(
    ("page", "params", "where"),
    [
        ("slices", {"slice": "region == '{p}'"}, "chip"),
        ("slices", {"slice": "`{p}` == 1"}, "slice error"),
        ("confusion", {"pair": "{p}"}, "pair"),
        ("explanations", {"example": "{p}", "slice": "region == 'none'"}, "example"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_hostile_link_values_are_shown_as_text(
    open_page, page: str, params: dict[str, str], where: str
) -> None:
    payload = PAYLOADS["link"]
    at = open_page(page, ds="loans", **{k: v.format(p=payload) for k, v in params.items()})
    assert_shown_as_text(at, payload)


def test_discover_heading_and_checkbox_show_the_slice_as_text(open_page) -> None:
    payload = PAYLOADS["image"]
    at = open_page("discover", ds="loans", slice=f"region != '{payload}'", inside="1")
    assert not at.exception
    label = at.checkbox(key="d_inside").label
    assert payload not in label and payload in shown(label)
    heading = next(s.value for s in at.subheader if s.value.startswith("Top "))
    assert payload not in heading and f"inside region != '{payload}'" in shown(heading)
    assert all(payload not in s for s in markdown_sources(at))


def test_backticks_in_a_slice_error_are_shown(open_page) -> None:
    at = open_page("slices", ds="loans", slice="and == 1")
    message = next(e.value for e in at.error if "backticks" in e.value)
    assert "\\`and\\`" in message  # escaped, so the reader sees `and`, not code


# --------------------------------------------------------------------------- server paths


def test_an_unknown_dataset_message_names_no_path(open_page, workspace: Workspace) -> None:
    at = open_page("slices", ds="nosuch")
    (message,) = [shown(e.value) for e in at.error]
    assert "no dataset named 'nosuch' in the workspace; available: loans" in message
    assert str(workspace.root) not in message and "/" not in message


def test_the_cases_page_shows_no_server_path(
    open_page, workspace: Workspace, monkeypatch, loans
) -> None:
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    store = lib.CaseStore(workspace.cases_dir)
    store.save(lib.build_case(loans, name="gig", where=parse_slice("employment == 'gig'")).case)
    (workspace.cases_dir / "broken.json").write_text("{")
    at = open_page("cases", ds="loans")
    assert not at.exception
    texts = [*markdown_sources(at), *(c.value for c in at.code)]
    assert any("--cases cases " in t for t in texts)  # the library by its name
    assert not [t for t in texts if str(workspace.root) in shown(t)]


def test_tracebacks_stay_in_the_server_log() -> None:
    """Uncaught exceptions show a generic message: no traceback, message or type in the page."""
    from streamlit.config import ShowErrorDetailsConfigOptions as Details

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == Details.NONE.value
