"""The ``mlqa-debug`` command: the parser built from the command groups, and dispatch.

Each group module (:mod:`.data`, :mod:`.slices`, :mod:`.embed`, :mod:`.cases`,
:mod:`.history`, :mod:`.compare`, :mod:`.explain`) adds its sub-commands with
``add_commands(sub, ws_help=...)``.
Every sub-command prints a readable result (or ``--json``) and exits 0; bad
input prints the error's message and exits 2; a failed regression check exits 1;
Ctrl-C exits 130. When the reader of stdout goes away (``mlqa-debug ... | head``)
the command stops quietly, without a traceback, and exits 141 (see
:data:`.common.EXIT_BROKEN_PIPE`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mlqa_debug import __version__
from mlqa_debug.cli import (
    cases,
    compare,
    data,
    embed,
    explain,
    history,
    labels,
    quality,
    slices,
)
from mlqa_debug.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    WORKSPACE_HELP,
    Handler,
    resolve_external,
)
from mlqa_debug.errors import MlqaError

COMMAND_GROUPS = (data, slices, embed, cases, history, compare, explain, quality, labels)
"""The modules whose ``add_commands`` fill the parser, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``mlqa-debug`` parser with every command group's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="mlqa-debug", description="Error analysis for ML models: slices to regression tests."
    )
    parser.add_argument("--version", action="version", version=f"mlqa-debug {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_commands(sub, ws_help=WORKSPACE_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command and return its exit code."""
    try:
        try:
            return _dispatch(argv)
        finally:
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _dispatch(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        resolve_external(args)
        return int(handler(args))
    except MlqaError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _discard_stdout() -> None:
    """Point stdout's descriptor at the null device, so the final flush at exit succeeds.

    The recipe of the Python docs (``signal``, "Note on SIGPIPE"). A stdout with no
    descriptor (captured in tests) is left alone.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
