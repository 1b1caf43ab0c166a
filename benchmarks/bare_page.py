"""Reference for bench_slices.py: a bare Streamlit page with three metrics and one chart.

It filters the same table by a threshold typed into a text box, the least any
slice page must do per change; bench_slices.py times both pages side by side.
"""

import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st


@st.cache_resource
def load(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


frame = load(os.environ["BENCH_FILE"])
text = st.text_input("Slice", key="slice")
threshold = float(text.split(">=")[-1]) if ">=" in text else -np.inf
mask = frame["f0"].to_numpy() >= threshold
errors = frame["label"].to_numpy() != frame["prediction"].to_numpy()
cols = st.columns(3)
cols[0].metric("Rows in slice", f"{int(mask.sum()):,}")
cols[1].metric("Slice error rate", f"{errors[mask].mean():.1%}")
cols[2].metric("Overall error rate", f"{errors.mean():.1%}")
st.plotly_chart(go.Figure(go.Bar(x=["slice", "overall"], y=[errors[mask].mean(), errors.mean()])))
