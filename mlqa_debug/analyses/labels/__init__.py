"""Label review: suspected label errors, the review log, and what reviews change.

- :mod:`.suspects`: rank suspected label errors from the class probabilities
  (confident learning via cleanlab; :func:`rank_suspects`, the adapter
  :func:`prepare_inputs` / :func:`table_inputs`, :data:`METHODS` for the reference);
- :mod:`.neighbours`: the share of an example's nearest neighbours (embeddings)
  whose label differs (:func:`label_neighbours`);
- :mod:`.reliability`: plant flips in a copy, rank again, precision at k
  (:func:`ranking_reliability`);
- :mod:`.review_log`: the append-only JSON-lines review log in the workspace
  (:func:`append_decision`, :func:`read_log`, :func:`latest_decisions`);
- :mod:`.apply`: a log applied to a table: corrected labels CSV, corrected table
  (written or registered as a dataset), the reviewed examples as a case;
- :mod:`.noise`: how much of a slice's error rate is confirmed label noise.
"""

from mlqa_debug.analyses.labels.apply import (
    CORRECTION_COLUMNS,
    AppliedReview,
    apply_reviews,
    corrections_csv,
    register_corrected,
    review_case,
    write_table,
)
from mlqa_debug.analyses.labels.neighbours import DEFAULT_K, Neighbours, label_neighbours
from mlqa_debug.analyses.labels.noise import (
    LabelNoise,
    ReviewedRows,
    label_noise,
    noise_by_slice,
    reviewed_rows,
)
from mlqa_debug.analyses.labels.reliability import (
    DEFAULT_KS,
    DEFAULT_SHARE,
    Reliability,
    plant_flips,
    ranking_reliability,
)
from mlqa_debug.analyses.labels.review_log import (
    VERDICTS,
    Decision,
    LogProblem,
    ReviewError,
    ReviewLog,
    Verdict,
    append_decision,
    example_id,
    latest_decisions,
    new_decision,
    read_log,
    review_log_path,
    review_progress,
)
from mlqa_debug.analyses.labels.suspects import (
    METHODS,
    RANK_BY,
    SCOPES,
    LabelInputs,
    LabelMethod,
    LabelSuspects,
    RankBy,
    Scope,
    confident_learning,
    prepare_inputs,
    rank_inputs,
    rank_suspects,
    suspects_frame,
    table_inputs,
)

__all__ = [
    "CORRECTION_COLUMNS",
    "DEFAULT_K",
    "DEFAULT_KS",
    "DEFAULT_SHARE",
    "METHODS",
    "RANK_BY",
    "SCOPES",
    "VERDICTS",
    "AppliedReview",
    "Decision",
    "LabelInputs",
    "LabelMethod",
    "LabelNoise",
    "LabelSuspects",
    "LogProblem",
    "Neighbours",
    "RankBy",
    "Reliability",
    "ReviewError",
    "ReviewLog",
    "ReviewedRows",
    "Scope",
    "Verdict",
    "append_decision",
    "apply_reviews",
    "confident_learning",
    "corrections_csv",
    "example_id",
    "label_neighbours",
    "label_noise",
    "latest_decisions",
    "new_decision",
    "noise_by_slice",
    "plant_flips",
    "prepare_inputs",
    "rank_inputs",
    "rank_suspects",
    "ranking_reliability",
    "read_log",
    "register_corrected",
    "review_case",
    "review_log_path",
    "review_progress",
    "reviewed_rows",
    "suspects_frame",
    "table_inputs",
    "write_table",
]
