"""mlqa-debug dashboard: the entry point (`streamlit run app.py` or `mlqa-debug app`).

Pages live in pages/ and set themselves up from the URL (mlqa_debug.ui.state),
so a deep link works even when Streamlit runs a page file without this script.
"""

import streamlit as st

from mlqa_debug.ui.pages import PAGES

st.set_page_config(page_title="mlqa-debug", page_icon="🔎", layout="wide")
navigation = st.navigation([st.Page(**spec) for spec in PAGES], position="hidden")
navigation.run()
