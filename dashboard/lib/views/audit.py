"""The audit log across services: who did what to which target, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import streamlit as st

from dashboard.lib import data, rows, ui
from dashboard.lib.console import current

PAGE_SIZE = 50
CURSORS = "audit_cursors"
OUTCOMES = ["any", "allowed", "denied", "failed"]
ACTION_HELP = "The method and route, e.g. `POST /v1/services/{name}/restart`."


def render() -> None:
    con = current()
    st.title("Audit")
    ui.stale_banner(con)
    filters = _filters()
    cursors = _cursors(filters)
    body = ui.attempt(lambda: data.audit(con, **filters, before_id=cursors[-1], limit=PAGE_SIZE))
    if body is None:
        return
    events = body["events"]
    st.caption(
        f"Page {len(cursors)} · {len(events)} event(s), newest first"
        + ("" if con.live else " · from the state store")
    )
    if events:
        st.dataframe([rows.audit_event(e) for e in events], hide_index=True)
    else:
        st.info("No audit event matches.")
    _pager(cursors, body.get("next_before_id"))


def _filters() -> dict[str, Any]:
    with st.expander("Filters", expanded=True):
        cols = st.columns(4)
        out: dict[str, Any] = {
            "target": cols[0].text_input("Target (service, token…)").strip() or None,
            "actor": cols[1].text_input("Who (token name)").strip() or None,
            "action": cols[2].text_input("Action (exact)", help=ACTION_HELP).strip() or None,
        }
        outcome = cols[3].selectbox("Outcome", OUTCOMES)
        out["outcome"] = None if outcome == "any" else outcome
        if st.checkbox("Only the last days"):
            days = st.slider("Days", 1, 90, 7)
            out["since"] = datetime.combine(datetime.now(UTC).date(), time(), UTC) - timedelta(
                days=days - 1
            )
    return {k: v for k, v in out.items() if v is not None}


def _cursors(filters: dict[str, Any]) -> list[int | None]:
    """Page cursors (before_id) for these filters; new filters start at the newest page."""
    key = repr(sorted(filters.items()))
    state: tuple[str, list[int | None]] | None = st.session_state.get(CURSORS)
    if state is None or state[0] != key:
        state = (key, [None])  # the newest page has no cursor
        st.session_state[CURSORS] = state
    return state[1]


def _pager(cursors: list[int | None], next_before: int | None) -> None:
    newer, older = st.columns(2)
    if newer.button("← Newer", disabled=len(cursors) == 1):
        cursors.pop()
        st.rerun()
    if older.button("Older →", disabled=next_before is None):
        cursors.append(next_before)
        st.rerun()
