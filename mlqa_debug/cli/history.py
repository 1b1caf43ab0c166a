"""``mlqa-debug history``: the recorded checks over runs, each case's trend.

The history is ``--history DIR``, else ``$MLQA_DEBUG_HISTORY``, else
``<workspace>/history`` (what ``check --record`` writes). With ``--cases DIR`` (or
``$MLQA_DEBUG_CASES``) only the cases of that directory are shown, under their
current names. ``--case ID`` shows one case (an id or a name), ``--last N`` the
last N runs; the trend is always over each case's last
:data:`~mlqa_debug.history.trend.TREND_RUNS` runs with a value, as ``check`` and
the History page report it. ``--json`` prints
``{"cases": [{"id", "name", "trend", "runs": [{"time", "run_id", "model_version",
"value", "threshold", "status", ...}]}]}`` (runs oldest first); ``--markdown`` a
short report for a pull request. Exit 0, or 2 on bad input (no history folder, an
unknown case, ``--last`` under 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from mlqa_debug.cases import CaseStore
from mlqa_debug.cases.store import ENV_CASES
from mlqa_debug.cli.common import EXIT_OK, SubParsers, workspace_from_args
from mlqa_debug.history import (
    ENV_HISTORY,
    HistoryError,
    HistoryStore,
    HistoryWarning,
    case_histories,
    resolve_history_dir,
    restrict,
    runs_frame,
    tidy,
    trends,
)
from mlqa_debug.history.report import markdown_report, text_report

HISTORY_HELP = f"history folder (default: ${ENV_HISTORY}, else <workspace>/history)"


def add_commands(sub: SubParsers, *, ws_help: str) -> None:
    """Add ``history`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser(
        "history",
        help="show recorded checks over runs and flag cases that degrade",
        description="Show the history that 'check --record' writes: each case's values over "
        "runs and its trend (Mann-Kendall over its last runs). Exit 2 on bad input.",
    )
    p.add_argument("--history", metavar="DIR", help=HISTORY_HELP)
    p.add_argument(
        "--cases",
        metavar="DIR",
        help=f"only the cases of this directory, by their current names (default: ${ENV_CASES} "
        "when set, else every case in the history)",
    )
    p.add_argument("--case", metavar="ID", help="only this case (id or name)")
    p.add_argument("--last", type=int, metavar="N", help="only the last N runs")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--markdown", action="store_true", help="print a Markdown report")
    p.add_argument("--workspace", help=ws_help)
    p.set_defaults(handler=cmd_history)


def cmd_history(args: argparse.Namespace) -> int:
    directory = resolve_history_dir(args.history, workspace_root=workspace_from_args(args).root)
    store = HistoryStore(directory, create=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HistoryWarning)  # reported below, once per line
        listing = store.read()
    for problem in listing.problems:
        print(f"warning: {problem}; line skipped", file=sys.stderr)
    if listing.empty:
        raise HistoryError(
            f"no records in {str(store.path)!r}: record checks with "
            "'mlqa-debug check --cases DIR PREDICTIONS --record'"
        )
    tidied = tidy(listing.frame)
    shown = restrict(tidied, names=_case_names(args), case=args.case, last=args.last)
    histories = case_histories(shown, trends(tidied))
    runs = runs_frame(shown)
    if args.json:
        data = {
            "history": str(store.path),
            "runs": len(runs),
            "cases": [h.to_dict() for h in histories],
            "problems": [
                {"file": p.file, "line": p.line, "message": p.message} for p in listing.problems
            ],
        }
        print(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))
    elif args.markdown:
        print(markdown_report(histories, runs), end="")
    else:
        print(text_report(histories, runs))
    return EXIT_OK


def _case_names(args: argparse.Namespace) -> dict[str, str] | None:
    """Case id -> current name of ``--cases`` (or ``$MLQA_DEBUG_CASES``); ``None`` for all."""
    directory = args.cases or os.environ.get(ENV_CASES)
    if not directory:
        return None
    listing = CaseStore(directory, create=False).load()
    for problem in listing.problems:
        print(f"warning: case file {problem}", file=sys.stderr)
    return {c.id: c.name for c in listing.cases}
