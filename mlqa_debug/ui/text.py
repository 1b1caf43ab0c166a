"""User and URL text shown on a page as plain text, never as markup.

Slice text, dataset and case names, ids and error messages can hold any
character, and a link is untrusted input, so everything that came from a user
goes through :func:`md` before it reaches ``st.markdown`` (or a widget label,
which Streamlit also renders as Markdown).
"""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def md(text: object) -> str:
    """``text`` made inert for Streamlit Markdown: no links, code, emphasis or shortcodes."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", "  \n")


#: The same function under the name older call sites use.
escape_markdown = md
