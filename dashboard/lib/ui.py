"""Small Streamlit pieces every view uses: errors, the stale banner, the service picker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.lib import fmt
from dashboard.lib.console import Console
from dashboard.lib.data import last_contact
from dashboard.lib.memory import Snapshot
from dashboard.lib.nav import SERVICE_PAGES, url_for
from dashboard.lib.rows import state_label
from matrx_ship.client import AgentClient, AgentError
from matrx_ship.errors import MatrxError

T = TypeVar("T")
PICK = "service_pick"
STATE_COLORS = {
    "running": "green",
    "exited": "red",
    "dead": "red",
    "missing": "gray",
    "unknown": "gray",
}


def show_error(exc: Exception) -> None:
    """An error as a person reads it: the agent's message and its hint, never a traceback."""
    if isinstance(exc, MatrxError):
        hint = f"\n\n**Next step:** {exc.hint}" if exc.hint else ""
        st.error(f"{exc.message}{hint}", icon=":material/error:")
    elif isinstance(exc, SQLAlchemyError):
        st.error(f"The state store did not answer: {type(exc).__name__}.", icon=":material/error:")
    else:
        st.error(str(exc), icon=":material/error:")


def attempt(fn: Callable[[], T]) -> T | None:
    """``fn()``, or None after showing why it failed (agent or store errors)."""
    try:
        return fn()
    except (AgentError, MatrxError, SQLAlchemyError, OSError) as exc:
        show_error(exc)
        return None


def call(con: Console, fn: Callable[[AgentClient], T]) -> T | None:
    """``fn(client)`` through the signed-in agent client, or None after showing why not."""
    client = con.client
    if client is None:
        st.error("The console is not connected to the agent.", icon=":material/error:")
        return None
    return attempt(lambda: fn(client))


def stale_banner(con: Console) -> None:
    """Loud, at the top of every page while the agent does not answer."""
    if con.live:
        return
    seen = last_contact(con)
    when = f"{fmt.when(seen)} ({fmt.ago(seen)})" if seen else "unknown"
    reason = con.down.message if con.down else "not signed in"
    st.error(
        f"**The agent does not answer.** {reason}\n\n"
        f"Everything below is the **last known state, stale since {when}**: the console's "
        "own memory and the state store. Nothing can be changed until the agent is back.",
        icon=":material/cloud_off:",
    )


def state_badge(state: str | None, health: str | None) -> str:
    """The state as a coloured Markdown badge; unhealthy turns it red."""
    color = "red" if health == "unhealthy" else STATE_COLORS.get(state or "unknown", "orange")
    return f":{color}-badge[{state_label(state, health)}]"


def choices(con: Console, snap: Snapshot) -> list[str]:
    """The services a Services page offers: in deploy scope the Manager has its own section."""
    names = [s["name"] for s in snap.services]
    manager = snap.manager()
    if con.settings.scope == "deploy" and manager:
        names.remove(manager)
    elif manager:
        names.insert(0, names.pop(names.index(manager)))
    return names


def pick_service(con: Console, snap: Snapshot) -> dict[str, Any] | None:
    """The service this page is about: the Manager when pinned, else the one picked."""
    if con.pinned:
        manager = snap.manager()
        return snap.find(manager) if manager else None
    names = choices(con, snap)
    if not names:
        st.info("No service is registered yet. Register one with `POST /v1/services`.")
        return None
    wanted = st.query_params.get("service") or st.session_state.get("last_service")
    if st.session_state.get(PICK) not in names or (
        wanted in names and wanted != st.session_state[PICK]
    ):
        st.session_state[PICK] = wanted if wanted in names else names[0]
    name = st.selectbox("Service", names, key=PICK, on_change=_picked)
    _remember(name)
    return snap.find(name)


def _picked() -> None:
    _remember(st.session_state[PICK])


def _remember(name: str) -> None:
    st.session_state["last_service"] = name
    st.query_params["service"] = name


def header(con: Console, service: dict[str, Any], purpose: str) -> None:
    """'Manager · name' or the service name, with what this page is for."""
    who = "Manager" if con.pinned else service.get("kind", "service").capitalize()
    st.title(f"{purpose}: {service['name']}")
    state = state_badge(service["state"], service["health"])
    st.caption(f"{who} · image `{service.get('image')}` · {state}")


def service_links(con: Console, name: str, here: str) -> None:
    """Links from one service page to its siblings (overview, logs, terminal, actions)."""
    links = [
        (con.pages[url_for(purpose, con.pinned)], label, icon)
        for purpose, label, icon in SERVICE_PAGES
        if purpose != here and url_for(purpose, con.pinned) in con.pages
    ]
    if not links:
        return
    params = None if con.pinned else {"service": name}
    for col, (page, label, icon) in zip(st.columns(len(links)), links, strict=True):
        col.page_link(page, label=label, icon=icon, query_params=params)
