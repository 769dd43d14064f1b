"""The agent does not answer: what is known, since when, and the disaster-recovery runbook."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import data, docs, fmt, ui
from dashboard.lib.console import Console, current
from dashboard.lib.views.docs import show


def render() -> None:
    con = current()
    st.title("Recovery")
    ui.stale_banner(con)
    seen = data.last_contact(con)
    cols = st.columns(3)
    cols[0].metric("Agent", "not answering")
    cols[1].metric("Last contact", fmt.ago(seen) if seen else "unknown", help=fmt.when(seen))
    cols[2].metric("State store", _store_state(con))
    st.markdown(
        "First follow **[Agent down](/docs?doc=runbooks/agent-down)**; when the host itself "
        "is gone, rebuild it with the runbook below."
    )
    doc = docs.find(docs.DISASTER_RECOVERY, docs.all_docs())
    if doc is not None:
        with st.container(border=True):
            show(doc)


def _store_state(con: Console) -> str:
    if con.stored is None:
        return "not configured"
    return "answers" if con.stored.reachable() else "does not answer"
