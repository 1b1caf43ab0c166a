"""User and URL text shown on a page as plain text, never as markup.

Slice text, dataset and case names, ids, class names and error messages can hold
any character, and a link is untrusted input, so everything that came from a
user goes through :func:`md` before it reaches ``st.markdown``, ``st.error`` and
the like, or a widget label, a page link's label, an expander title, a progress
text or an image caption (Streamlit renders all of those as Markdown).

Escaping alone is not enough: Streamlit's Markdown (remark-gfm) turns bare
``http://``, ``www.`` and ``name@host.tld`` text into links *after* parsing,
when escapes are already gone. :func:`md` therefore also puts an invisible word
joiner (U+2060) inside each of those patterns, so no link can form.

A visitor reads names, never the server's folders: :func:`without_paths` names
the workspace, the case library and the trusted model folder in a message
instead of showing where they are (the command line keeps showing paths).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mlqa_debug.cases import resolve_cases_dir
from mlqa_debug.data.workspace import ENV_TRUSTED_MODELS, Workspace, samples_dir

#: Characters with a meaning in Streamlit's Markdown (CommonMark, GFM, math,
#: directives and shortcodes): each is shown as itself once backslash-escaped.
MARKDOWN_SPECIAL = "\\`*_{}[]()#+-.!|<>~$:=&@^"
#: Zero-width, invisible: breaks GFM's bare-link patterns without changing what is read.
WORD_JOINER = "\u2060"

_SPECIAL = re.compile("([" + re.escape(MARKDOWN_SPECIAL) + "])")
#: Where GFM's bare-link patterns start: after ``http``/``https`` before ``:``, after
#: ``www`` before ``.``, after ``@`` (an e-mail address).
_BARE_LINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?<=@)")


def md(text: object) -> str:
    """``text`` made inert for Streamlit Markdown: no links, images, HTML, code or emphasis.

    Every character of :data:`MARKDOWN_SPECIAL` is backslash-escaped, bare links
    are broken (see the module docstring) and a line break stays a line break.
    Where a message has markup of its own, pass only the user's part through it:
    ``st.markdown(f"**{md(example)}**: ...")``.
    """
    escaped = _SPECIAL.sub(r"\\\1", _BARE_LINK.sub(WORD_JOINER, str(text)))
    return re.sub(r"\r\n|\r|\n", "  \n", escaped)


#: After a folder: a path inside it (``rel``), or the end of the folder's name.
_INSIDE_OR_END = r"(?:[/\\](?P<rel>[^\s'\":;,)]+)|(?![\w-]|\.\w))"


def server_folders(ws: Workspace) -> dict[str, str]:
    """The server's folders a message may name, each with what a visitor reads instead."""
    folders = {
        str(resolve_cases_dir(None, workspace=ws)): "the case library",
        str(ws.root): "the workspace",
        str(samples_dir()): "the samples folder",
    }
    trusted = os.environ.get(ENV_TRUSTED_MODELS)
    if trusted:
        folders[str(Path(trusted).expanduser().resolve())] = "the trusted model folder"
        folders[trusted] = "the trusted model folder"
    return folders


def without_paths(text: object, ws: Workspace) -> str:
    """``text`` with the server's folders named instead of shown; paths inside made relative.

    ``"no dataset named 'x' in the workspace /srv/ws; available: a, b"`` becomes
    ``"no dataset named 'x' in the workspace; available: a, b"``, and
    ``'/srv/ws/datasets/x/dataset.json'`` becomes ``'datasets/x/dataset.json'``.
    Plain text: pass the result through :func:`md` to show it.
    """
    message = str(text)
    for folder, name in sorted(server_folders(ws).items(), key=lambda kv: -len(kv[0])):
        folder_pattern = rf"(?:{re.escape(name)} )?{re.escape(folder)}"
        pattern = folder_pattern + _INSIDE_OR_END

        def named(match: re.Match[str], name: str = name) -> str:
            return match["rel"] or name

        message = re.sub(pattern, named, message)
    return message
