"""Streamlit pages: layout and interaction only; data comes from cached queries, writes go through services."""
