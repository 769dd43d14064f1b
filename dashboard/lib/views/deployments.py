"""Deployments and rollbacks across services: from, to, who, when, duration, outcome, evidence."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import rows, ui
from dashboard.lib.console import current

OUTCOMES = ["any", "succeeded", "failed", "running", "interrupted"]


def render() -> None:
    con = current()
    st.title("Deployments")
    left, right, _ = st.columns([1, 1, 2])
    service = left.text_input("Service", key="dep_service").strip()
    outcome = right.selectbox("Outcome", OUTCOMES, key="dep_outcome")
    filters = {
        "service": service or None,
        "outcome": None if outcome == "any" else outcome,
        "limit": 200,
    }
    found = ui.call(con, lambda c: c.deployments(**filters))
    if found is None:
        return
    st.caption(f"{len(found)} deployment(s), newest first (at most 200).")
    if not found:
        st.info("No deployment matches.", icon=":material/info:")
        return
    st.dataframe([rows.deployment(d) for d in found], hide_index=True)
    failed = [d for d in found if d.get("outcome") == "failed"]
    if failed:
        st.caption("Evidence of the last failed deployment")
        st.json(failed[0].get("evidence") or {}, expanded=False)
