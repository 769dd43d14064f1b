"""The repository's docs and runbooks, rendered: architecture, env reference, runbooks."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import docs


def render() -> None:
    available = docs.all_docs()
    keys = [d.key for d in available]
    titles = {d.key: d.title for d in available}
    wanted = st.query_params.get("doc")
    index = keys.index(wanted) if wanted in keys else 0
    with st.sidebar:
        key = st.radio("Document", keys, index=index, format_func=lambda k: titles[k])
    st.query_params["doc"] = key
    doc = docs.find(key, available)
    if doc is not None:
        show(doc)


def show(doc: docs.Doc) -> None:
    st.caption(f"docs/{doc.key}.md")
    st.markdown(docs.read(doc))
