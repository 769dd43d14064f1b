"""The frame around every page: reach the agent, sign in, build the navigation, sidebar.

``streamlit_app.py`` calls ``build()`` and runs the page it returns.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.lib import data, fmt, nav
from dashboard.lib.access import Identity
from dashboard.lib.console import KEY, Console, connect, memory_for, probe, stored_for
from dashboard.lib.memory import Snapshot
from dashboard.settings import ConsoleSettings, get_console_settings
from matrx_ship.client import AgentClient, AgentError

TOKEN = "token"
SIGN_IN_ERROR = "sign_in_error"
LAST_PAGE = "last_page"
READINESS_TTL_S = 60.0


def build() -> Any:
    """The current page, after building this run's console context."""
    settings = get_console_settings()
    con = Console(settings, memory_for(settings.agent_url, settings.history_hours))
    st.session_state[KEY] = con
    _reach(con)
    if con.down is None:
        _sign_in(con, token(settings))
    elif settings.scope == "deploy" and settings.store_url:
        con.stored = stored_for(settings.store_url)
    sections = nav.plan(
        settings.scope,
        agent_up=con.down is None,
        signed_in=con.identity is not None,
        has_store=con.stored is not None,
        manager=_manager(con),
    )
    page = st.navigation(_pages(con, sections), expanded=True)
    url = next(u for u, p in con.pages.items() if p is page)
    con.pinned = url in {s.url_path for specs in sections.values() for s in specs if s.pinned}
    con.arrived = st.session_state.get(LAST_PAGE) != url
    st.session_state[LAST_PAGE] = url
    _sidebar(con)
    return page


def token(settings: ConsoleSettings) -> str | None:
    """The configured token, or the one this person signed in with."""
    if settings.token is not None:
        return settings.token.get_secret_value()
    return st.session_state.get(TOKEN)


def _reach(con: Console) -> None:
    found = connect(con.settings, None)
    con.down = found if isinstance(found, AgentError) else probe(found)
    if con.down is None:
        con.memory.contact()


def _sign_in(con: Console, raw: str | None) -> None:
    if not raw:
        return
    found = connect(con.settings, raw)
    if isinstance(found, AgentError):
        con.down = found
        return
    try:
        con.identity = identity(found, raw)
    except AgentError as exc:
        if exc.status == 0:
            con.down = exc
            return
        st.session_state.pop(TOKEN, None)
        st.session_state[SIGN_IN_ERROR] = exc
        return
    con.client = found


def identity(client: AgentClient, raw: str) -> Identity:
    """Who the token is (``GET /v1/whoami``), asked once per session and token."""
    fingerprint = hashlib.sha256(raw.encode()).hexdigest()
    cached = st.session_state.get("identity")
    if cached and cached[0] == fingerprint:
        known: Identity = cached[1]
        return known
    who = Identity.from_whoami(client.whoami())
    st.session_state["identity"] = (fingerprint, who)
    return who


def _manager(con: Console) -> str | None:
    if not con.live and con.stored is None:
        return None
    try:
        snap: Snapshot = data.snapshot(con)
    except (AgentError, SQLAlchemyError):  # the page shows the error when it reads them
        return None
    return snap.manager()


def _pages(con: Console, sections: dict[str, list[nav.PageSpec]]) -> dict[str, list[Any]]:
    """st.Page objects by section; ``con.pages`` maps each planned URL path to its page."""
    out: dict[str, list[Any]] = {}
    for section, specs in sections.items():
        pages = [st.Page(s.file, title=s.title, icon=s.icon, url_path=s.url_path) for s in specs]
        con.pages.update({s.url_path: p for s, p in zip(specs, pages, strict=True)})
        out[section] = pages
    return out


def _sidebar(con: Console) -> None:
    s = con.settings
    with st.sidebar:
        st.caption(f"{s.scope.capitalize()} console · agent {s.agent_url}")
        if con.down is not None:
            seen = data.last_contact(con)
            st.error(f"Agent unreachable. Last contact: {fmt.when(seen)}.")
        if con.identity is not None:
            st.caption(f"Signed in as **{con.identity.name}** ({con.identity.scope.value})")
            _readiness_warnings(con)
            if s.token is None and st.button("Sign out", icon=":material/logout:"):
                sign_out()


def _readiness_warnings(con: Console) -> None:
    """Loud, on every page: the agent is not ready, or runs on non-durable defaults."""
    ready = readiness(con)
    if ready is None:
        return
    failing = [name for name, check in ready["checks"].items() if not check["ok"]]
    if failing:
        st.error(f"Agent not ready: {', '.join(failing)} failing (see Agent).")
    for line in ready.get("warnings", []):
        if line.startswith(("HOST DOES NOT MATCH", "OUTBOX BLOCKED")):  # each names its fix
            st.error(line)
    if not ready.get("durable", True):
        st.error("NOT DURABLE: the agent runs on embedded defaults (see Agent).")


def readiness(con: Console) -> dict[str, Any] | None:
    """``GET /readyz``, asked at most once a minute per agent."""
    cached = con.memory.readiness
    if cached and (datetime.now(UTC) - cached[0]).total_seconds() < READINESS_TTL_S:
        return cached[1]
    if con.client is None:
        return None
    try:
        body = con.client.readyz()
    except AgentError:
        return None
    con.memory.readiness = (datetime.now(UTC), body)
    return body


def sign_out() -> None:
    for key in (TOKEN, "identity"):
        st.session_state.pop(key, None)
    st.rerun()
