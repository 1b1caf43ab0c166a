"""Original columns <-> one float per column, for explainers and plots that need numbers.

The model-agnostic explainer perturbs numbers and hands the model the decoded
frame, so the model sees its own dtypes; plots colour points by the codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


class ColumnCodec:
    """Original columns <-> one float per column, for explainers that need numbers.

    Categories and strings become integer codes (missing: NaN), booleans 0/1,
    dates seconds since the epoch; decoding gives back the original dtypes.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = frame.dtypes.to_dict()
        self.categories: dict[str, pd.Index] = {}
        for col in self.columns:
            s = frame[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.categories[col] = s.cat.categories
            elif not is_number_like(s):
                self.categories[col] = pd.Index(pd.unique(s.dropna()))

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([self._encode(col, frame[col]) for col in self.columns])

    def _encode(self, col: str, s: pd.Series) -> np.ndarray:
        if col in self.categories:
            codes = self.categories[col].get_indexer(pd.Index(s.astype(object)))
            codes = codes.astype(np.float64)
            codes[codes < 0] = np.nan
            return codes
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            seconds = s.to_numpy("datetime64[ns]").astype(np.int64) / 1e9
            return np.where(s.isna().to_numpy(), np.nan, seconds)
        return s.to_numpy(np.float64, na_value=np.nan)

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {col: self._decode(col, matrix[:, i]) for i, col in enumerate(self.columns)}
        )

    def _decode(self, col: str, values: np.ndarray) -> Any:
        dtype = self.dtypes[col]
        if col in self.categories:
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            if isinstance(dtype, pd.CategoricalDtype):
                return pd.Categorical.from_codes(codes, dtype=dtype)
            return pd.Series(self.categories[col].take(np.maximum(codes, 0))).where(codes >= 0)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pd.Series(pd.to_datetime(values, unit="s")).astype(dtype)
        if pd.api.types.is_bool_dtype(dtype):
            flags = pd.Series(values > 0.5, dtype="boolean").mask(np.isnan(values))
            return flags if flags.hasnans else flags.astype(dtype)
        return pd.Series(values).astype(dtype)  # values come from real rows: casts are exact


def is_number_like(s: pd.Series) -> bool:
    dtype = s.dtype
    return bool(
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
    )
