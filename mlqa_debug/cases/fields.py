"""Text fields of a case (name, note, author, column, reference): what can be stored."""

from __future__ import annotations

import unicodedata

from mlqa_debug.errors import CaseError


def check_text(value: object, what: str, limit: int) -> str:
    """``value`` if it is text of at most ``limit`` characters that a JSON file can hold."""
    if not isinstance(value, str):
        raise CaseError(f"the {what} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise CaseError(f"the {what} is {len(value):,} characters long; at most {limit:,}")
    if any(unicodedata.category(ch) == "Cs" for ch in value) or "\x00" in value:
        raise CaseError(f"the {what} contains characters that cannot be stored (NUL, surrogates)")
    return value
