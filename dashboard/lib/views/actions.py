"""Lifecycle actions on a service: start, stop, restart, force-recreate, each confirmed first."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.lib import data, ui
from dashboard.lib.actions import ACTIONS, Action, action, summary
from dashboard.lib.console import Console, current

PENDING = "pending_action"
DONE = "action_done"


def render() -> None:
    con = current()
    snap = ui.attempt(lambda: data.snapshot(con))
    service = ui.pick_service(con, snap) if snap else None
    if service is None:
        return
    name = service["name"]
    ui.header(con, service, "Actions")
    ui.service_links(con, name, "actions")
    _done(name)
    st.caption(
        "Every action goes through the agent, which records it in the audit log and "
        "answers once the service is healthy again (or says why not)."
    )
    _buttons(con, name)
    pending = st.session_state.get(PENDING)
    if pending and pending[0] == name:
        _confirm(con, service, action(pending[1]))


def _buttons(con: Console, name: str) -> None:
    reasons = []
    for col, act in zip(st.columns(len(ACTIONS)), ACTIONS, strict=True):
        why = con.identity.why_not(act.needs, act.label) if con.identity else "Sign in first."
        if why:
            reasons.append(why)
        if col.button(f"{act.label}…", key=f"ask-{act.key}", disabled=why is not None, help=why):
            st.session_state[PENDING] = (name, act.key)
    if reasons:
        st.info(reasons[0], icon=":material/lock:")


def _confirm(con: Console, service: dict[str, Any], act: Action) -> None:
    with st.container(border=True):
        st.markdown(act.describe(service))
        yes, no = st.columns(2)
        if yes.button(
            f"Yes, {act.label.lower()} {service['name']}", type="primary", key=f"yes-{act.key}"
        ):
            _run(con, service["name"], act)
        if no.button("Cancel", key=f"no-{act.key}"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _run(con: Console, name: str, act: Action) -> None:
    with st.spinner(f"{act.label} {name}: waiting for the agent…"):
        result = ui.call(con, lambda c: c.lifecycle(name, act.key))
    st.session_state.pop(PENDING, None)
    con.memory.forget_snapshot()
    if result is not None:
        st.session_state[DONE] = (name, summary(result))
        st.rerun()


def _done(name: str) -> None:
    done = st.session_state.get(DONE)
    if done and done[0] == name:
        st.success(done[1], icon=":material/check_circle:")
        st.session_state.pop(DONE)
