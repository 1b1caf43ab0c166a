"""View options: declared once per page, seeded from and written to the URL by one mechanism.

A page declares its options as :class:`ViewOption` values (a URL parameter, a
parser, a default); :func:`mlqa_debug.ui.context.open_page` resolves them. For
each option:

- the URL value is parsed when the URL changes and copied into
  ``st.session_state[key]``, so the widget showing it (``key=option.key``, no
  ``value=``) keeps a stable identity (DESIGN.md, Links);
- a value that cannot be used gives one message naming the option, the value and
  the reason, and the page shows the fallback (the default, or the nearest
  allowed value) and puts that in the URL instead;
- a widget's ``on_change=write_option, args=(option,)`` puts the new value in the
  URL; the default stays out of it unless the option says ``keep_default``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import streamlit as st

from mlqa_debug.ui.links import MAX_PARAM_LENGTH

T = TypeVar("T")


class OptionProblem(ValueError):
    """A URL value that cannot be used; ``fallback`` is shown instead when given."""

    def __init__(self, reason: str, *, fallback: Any = None) -> None:
        super().__init__(reason)
        self.fallback = fallback


@dataclass(frozen=True)
class ViewOption(Generic[T]):
    """One view option of a page: its URL parameter, how to read it and its default.

    ``parse`` turns the URL text into a value or raises :class:`OptionProblem`
    (or ``ValueError``) with the reason; ``to_url`` is its inverse. ``key`` is the
    session-state key of the widget that shows it (default: the parameter).
    ``what`` names it in messages ("the map", "the threshold").
    """

    param: str
    parse: Callable[[str], T]
    default: T
    what: str = ""
    key: str = ""
    to_url: Callable[[T], str] = str
    keep_default: bool = False
    in_link: bool = True
    choices: tuple[T, ...] = ()
    """The values offered, for options that are one of a list (a widget's options)."""
    bounds: tuple[float, float] | None = None
    """The lowest and highest value, for numbers (a widget's range)."""

    @property
    def session_key(self) -> str:
        return self.key or self.param

    def url_value(self, value: T) -> str | None:
        """The URL form of ``value``; ``None`` (left out) for the default unless kept."""
        if value is None or (value == self.default and not self.keep_default):
            return None
        return self.to_url(value)


@dataclass
class ResolvedOptions:
    """The values of a page's options this run, and the messages about the link's ones."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __getitem__(self, param: str) -> Any:
        return self.values[param]


def _marker(param: str) -> str:
    return f"_url_seen_{param}"


def raw_param(param: str) -> str | None:
    """A query parameter, or ``None``; over-long values count as absent."""
    value = st.query_params.get(param)
    if value is None or len(value) > MAX_PARAM_LENGTH:
        return None
    return value


def write_param(param: str, value: str | None) -> None:
    """Put ``param`` in the URL (``None`` or ``""`` removes it) and remember it was ours."""
    if value is None or value == "":
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = value
    st.session_state[_marker(param)] = value or None


def seed(key: str, parse: Callable[[str | None], T], *, param: str | None = None) -> T:
    """Copy ``?param=`` (default: ``key``) into ``st.session_state[key]`` when it changed.

    A missing or empty (``None``) value is seeded from the URL too: a widget's state can
    come back empty without its ``on_change`` (Compare's segmented control did, on slice
    changes at 1M rows), and the URL still holds the choice in force.
    """
    param = param or key
    raw = raw_param(param)
    marker = _marker(param)
    if marker not in st.session_state or st.session_state[marker] != raw:
        st.session_state[marker] = raw
        st.session_state[key] = parse(raw)
    elif st.session_state.get(key) is None:
        st.session_state[key] = parse(raw)
    value: T = st.session_state[key]
    return value


def _shown(option: ViewOption[Any], value: Any) -> str:
    return repr(option.to_url(value)) if value is not None else "nothing"


def resolve_one(option: ViewOption[Any], into: ResolvedOptions) -> Any:
    """Seed ``option`` from the URL into ``into``; note a value that cannot be used.

    The URL is kept canonical: it ends up holding the value in force.
    """
    problem: list[str] = []

    def parse(raw: str | None) -> Any:
        if raw is None or raw == "":
            return option.default
        try:
            return option.parse(raw)
        except OptionProblem as e:
            value = option.default if e.fallback is None else e.fallback
            problem.append(f"{e}; {_shown(option, value)} is shown instead")
            return value
        except ValueError as e:
            problem.append(f"{e}; {_shown(option, option.default)} is shown instead")
            return option.default

    value = seed(option.session_key, parse, param=option.param)
    if problem:
        raw = raw_param(option.param) or ""
        what = option.what or f"the option {option.param!r}"
        into.problems.append(f"The link asks for {what} {raw[:40]!r}: {problem[0]}.")
    into.values[option.param] = value
    wanted = option.url_value(value)
    if st.query_params.get(option.param) != wanted:  # over-long values leave too
        write_param(option.param, wanted)
    return value


def resolve(options: Iterable[ViewOption[Any]]) -> ResolvedOptions:
    """Resolve each option in turn (see :func:`resolve_one`)."""
    resolved = ResolvedOptions()
    for option in options:
        resolve_one(option, resolved)
    return resolved


def correct(option: ViewOption[Any], value: Any, into: ResolvedOptions, *, reason: str) -> None:
    """Replace an option's value that the page found unusable late (after computing)."""
    raw = raw_param(option.param) or ""
    what = option.what or f"the option {option.param!r}"
    shown = _shown(option, value)
    into.problems.append(
        f"The link asks for {what} {raw[:40]!r}: {reason}; {shown} is shown instead."
    )
    st.session_state[option.session_key] = value
    into.values[option.param] = value
    write_param(option.param, option.url_value(value))


def write_option(option: ViewOption[Any]) -> None:
    """``on_change`` of the widget showing ``option``: its new value goes into the URL."""
    write_param(option.param, option.url_value(st.session_state.get(option.session_key)))


# --------------------------------------------------------------------------- constructors


def choice(
    param: str,
    choices: Sequence[T],
    *,
    default: T | None = None,
    what: str = "",
    key: str = "",
    keep_default: bool = False,
    to_url: Callable[[T], str] = str,
) -> ViewOption[T]:
    """One of ``choices`` (matched by its URL form); the first choice is the default."""
    by_text = {to_url(c): c for c in choices}
    chosen_default = choices[0] if default is None else default

    def parse(raw: str) -> T:
        if raw not in by_text:
            raise OptionProblem("not offered here")
        return by_text[raw]

    return ViewOption(param, parse, chosen_default, what=what, key=key, to_url=to_url,
                      keep_default=keep_default, choices=tuple(choices))  # fmt: skip


def number(
    param: str,
    default: float,
    *,
    low: float,
    high: float,
    integer: bool = False,
    what: str = "",
    key: str = "",
    keep_default: bool = False,
) -> ViewOption[float]:
    """A number in ``[low, high]``; one outside is clamped to the nearest bound, and said so."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise OptionProblem("not a number") from None
        if not math.isfinite(value):
            raise OptionProblem("not a finite number")
        if integer and value != int(value):
            raise OptionProblem("not a whole number", fallback=_cast(round(value)))
        if not low <= value <= high:
            bound = min(max(value, low), high)
            raise OptionProblem(
                f"outside {_number_text(_cast(low))} to {_number_text(_cast(high))}",
                fallback=_cast(bound),
            )
        return _cast(value)

    def _cast(value: float) -> float:
        return int(value) if integer else float(value)

    return ViewOption(param, parse, _cast(default), what=what, key=key, to_url=_number_text,
                      keep_default=keep_default, bounds=(_cast(low), _cast(high)))  # fmt: skip


def _number_text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def flag(param: str, *, default: bool = False, what: str = "", key: str = "") -> ViewOption[bool]:
    """A switch: ``1`` on, ``0`` off in the URL."""

    def parse(raw: str) -> bool:
        if raw not in ("0", "1"):
            raise OptionProblem("not 0 or 1")
        return raw == "1"

    return ViewOption(param, parse, default, what=what, key=key,
                      to_url=lambda v: "1" if v else "0")  # fmt: skip


def text(
    param: str, *, default: str = "", what: str = "", key: str = "", max_length: int = 200
) -> ViewOption[str]:
    """Free text (an example id, a search), bounded in length."""

    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise OptionProblem(f"longer than {max_length} characters")
        return raw

    return ViewOption(param, parse, default, what=what, key=key)
