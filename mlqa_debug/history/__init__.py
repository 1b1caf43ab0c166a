"""Quality across model versions: every check recorded, trends, slow degradation caught.

- :mod:`~mlqa_debug.history.store`: the append-only JSON-lines history
  (:class:`HistoryStore`, :class:`Record`), safe with several writers, where it lives
  (:func:`resolve_history_dir`);
- :mod:`~mlqa_debug.history.ci`: the CI build a run came from (Jenkins, GitHub Actions, git);
- :mod:`~mlqa_debug.history.trend`: the Mann-Kendall trend test, direction-aware;
- :mod:`~mlqa_debug.history.series`: runs in order, cases over runs, their trends;
- :mod:`~mlqa_debug.history.record`: a check's records and trends;
- :mod:`~mlqa_debug.history.report`: the text and Markdown reports of ``mlqa-debug history``;
- :mod:`~mlqa_debug.history.figures` (imported on its own): the History page's figures.
"""

from __future__ import annotations

from mlqa_debug.history.ci import build_from_env, default_run_id, git_commit
from mlqa_debug.history.record import (
    CheckedHistory,
    check_trends,
    now_utc,
    record_check,
    records_for,
)
from mlqa_debug.history.series import (
    RUN_COLUMN,
    CaseHistory,
    case_frame,
    case_histories,
    restrict,
    runs_frame,
    tidy,
    trends,
)
from mlqa_debug.history.store import (
    ENV_HISTORY,
    FILE_NAME,
    RECORD_COLUMNS,
    Build,
    HistoryError,
    HistoryListing,
    HistoryStore,
    HistoryWarning,
    LineProblem,
    Record,
    resolve_history_dir,
)
from mlqa_debug.history.trend import (
    ALPHA,
    MIN_RUNS,
    TREND_RUNS,
    MannKendall,
    Trend,
    TrendResult,
    mann_kendall,
    trend_of,
)

__all__ = [
    "ALPHA",
    "ENV_HISTORY",
    "FILE_NAME",
    "MIN_RUNS",
    "RECORD_COLUMNS",
    "RUN_COLUMN",
    "TREND_RUNS",
    "Build",
    "CaseHistory",
    "CheckedHistory",
    "HistoryError",
    "HistoryListing",
    "HistoryStore",
    "HistoryWarning",
    "LineProblem",
    "MannKendall",
    "Record",
    "Trend",
    "TrendResult",
    "build_from_env",
    "case_frame",
    "case_histories",
    "check_trends",
    "default_run_id",
    "git_commit",
    "mann_kendall",
    "now_utc",
    "record_check",
    "records_for",
    "resolve_history_dir",
    "restrict",
    "runs_frame",
    "tidy",
    "trend_of",
    "trends",
]
