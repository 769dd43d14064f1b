"""The ops console: one Streamlit app, deploy or manager scope (see docs/console.md)."""
