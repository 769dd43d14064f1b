"""Sign in with an agent token; what a person can do then follows the token's scope."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import frame, ui
from dashboard.lib.console import Console, connect, current
from matrx_ship.client import AgentError


def render() -> None:
    con = current()
    st.title("Sign in")
    refused = st.session_state.pop(frame.SIGN_IN_ERROR, None)
    if con.settings.token is not None:
        st.error("The agent refuses the console's token (MATRX_CONSOLE_TOKEN).")
        if refused is not None:
            ui.show_error(refused)
        return
    if refused is not None:
        ui.show_error(refused)
    st.write(
        f"The console acts with your agent token at `{con.settings.agent_url}`; every "
        "action is recorded under the token's name in the agent's audit log."
    )
    with st.form("sign-in"):
        raw = st.text_input("Agent token", type="password")
        if st.form_submit_button("Sign in", icon=":material/login:") and raw.strip():
            _try(con, raw.strip())


def _try(con: Console, raw: str) -> None:
    found = connect(con.settings, raw)
    if isinstance(found, AgentError):
        ui.show_error(found)
        return
    try:
        who = frame.identity(found, raw)
    except AgentError as exc:
        ui.show_error(exc)
        return
    st.session_state[frame.TOKEN] = raw
    st.toast(f"Signed in as {who.name} ({who.scope.value})")
    st.rerun()
