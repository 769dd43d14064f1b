"""An interactive terminal in a service's container, in the page (admin; audited by the agent)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.lib import data, terminal, ui
from dashboard.lib.access import TERMINAL
from dashboard.lib.console import Console, current

SESSION = "terminal_session"
SHELLS = ["/bin/sh", "/bin/bash", "/bin/ash", "/bin/zsh"]


def render() -> None:
    con = current()
    if con.arrived:  # a terminal left open on another visit used its one-use ticket
        st.session_state.pop(SESSION, None)
    snap = ui.attempt(lambda: data.snapshot(con))
    service = ui.pick_service(con, snap) if snap else None
    if service is None:
        return
    ui.header(con, service, "Terminal")
    ui.service_links(con, service["name"], "terminal")
    if _refused(con, service):
        return
    shell = st.selectbox("Shell", SHELLS, help="The shell must exist in the container's image.")
    if st.button("Open a terminal session", icon=":material/terminal:", type="primary"):
        _open(con, service["name"], shell)
    session = st.session_state.get(SESSION)
    if session and session["service"] == service["name"]:
        st.iframe(session["html"], height=terminal.HEIGHT_PX + 40, alt="terminal")
        st.caption(
            "Connected straight from your browser to the agent with a one-use ticket "
            "that expires in seconds; the session is in the agent's audit log."
        )


def _refused(con: Console, service: dict[str, Any]) -> bool:
    why = con.identity.why_not(TERMINAL, "The terminal") if con.identity else "Sign in first."
    if why:
        st.button("Open a terminal session", icon=":material/terminal:", disabled=True, help=why)
        st.info(why, icon=":material/lock:")
        return True
    if service["state"] != "running":
        st.warning(
            f"{service['name']} is {service['state']}: a terminal needs a running "
            "container. Start it from Actions first."
        )
        return True
    return False


def _open(con: Console, name: str, shell: str) -> None:
    try:
        terminal.assets()  # before asking for a ticket: fail early when xterm.js is missing
    except terminal.AssetsMissing as exc:
        st.error(f"{exc} Run `dashboard/setup.sh` on the console's machine.")
        return
    body = ui.call(con, lambda c: c.exec_ticket(name))
    if body is None:
        return
    url = terminal.exec_url(con.settings.websocket_base, name, body.ticket, shell, 80, 24)
    st.session_state[SESSION] = {"service": name, "html": terminal.page(url, name)}
