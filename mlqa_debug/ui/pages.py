"""The app's pages, in navigation order (``st.Page`` keyword arguments).

``url_path`` equals the file's stem, so a page has the same address whether
``app.py`` routes it (``st.navigation``) or Streamlit runs the file directly.
"""

from typing import Any

PAGES: list[dict[str, Any]] = [
    {"page": "pages/data.py", "title": "Data", "icon": ":material/table_chart:"},
    {"page": "pages/quality.py", "title": "Data quality", "icon": ":material/fact_check:"},
    {"page": "pages/slices.py", "title": "Slices", "icon": ":material/filter_alt:"},
    {"page": "pages/discover.py", "title": "Discover", "icon": ":material/travel_explore:"},
    {"page": "pages/compare.py", "title": "Compare", "icon": ":material/compare_arrows:"},
    {"page": "pages/confusion.py", "title": "Confusion", "icon": ":material/grid_on:"},
    {"page": "pages/labels.py", "title": "Labels", "icon": ":material/rule:"},
    {"page": "pages/embeddings.py", "title": "Embeddings", "icon": ":material/scatter_plot:"},
    {"page": "pages/explanations.py", "title": "Explanations", "icon": ":material/insights:"},
    {"page": "pages/cases.py", "title": "Cases", "icon": ":material/checklist:"},
    {"page": "pages/history.py", "title": "History", "icon": ":material/timeline:"},
]
for _spec in PAGES:
    _spec["url_path"] = _spec["page"].removeprefix("pages/").removesuffix(".py")
