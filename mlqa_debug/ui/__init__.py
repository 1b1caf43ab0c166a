"""Streamlit-only helpers: URL state, cached loaders and shared widgets used by the pages."""
