"""mlqa-debug: error analysis for ML models, from failing slices to regression tests.

The package is a pure library (no Streamlit): load a predictions table with
:func:`load_predictions`, describe cohorts with :class:`Slice`, and compute
their metrics. ``mlqa_debug.ui`` holds the Streamlit-only helpers of the app.
"""

from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.schema import Roles, Schema
from mlqa_debug.errors import MlqaError, SchemaError, SliceError, WorkspaceError

__all__ = [
    "MlqaError",
    "Predictions",
    "Roles",
    "Schema",
    "SchemaError",
    "SliceError",
    "WorkspaceError",
    "load_predictions",
]
__version__ = "0.1.0"
