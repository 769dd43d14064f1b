"""The console's context for one page run: settings, agent client, who is signed in, state.

Built once per run by the entry file (``frame.build``) and read by every view with
``current()``. Long-lived things (agent clients, the state store, what the console
remembers of the agent) are created once per process with ``st.cache_resource``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import streamlit as st

from dashboard.lib.access import Identity
from dashboard.lib.memory import AgentMemory, ResourceHistory
from dashboard.lib.stored import StoredState
from dashboard.settings import ConsoleSettings
from matrx_ship.client import AgentClient, AgentError

KEY = "_console"
PROBE_TIMEOUT_S = 3.0


@dataclass
class Console:
    """Everything a view needs for this run."""

    settings: ConsoleSettings
    memory: AgentMemory
    client: AgentClient | None = None
    identity: Identity | None = None
    down: AgentError | None = None  # why the agent does not answer, when it does not
    stored: StoredState | None = None
    pages: dict[str, Any] = field(default_factory=dict)  # st.Page by url path
    pinned: bool = False  # this page is the Manager section's copy
    arrived: bool = False  # this run opened another page than the run before

    @property
    def live(self) -> bool:
        return self.down is None and self.client is not None


def current() -> Console:
    """The context the entry file built for this run."""
    con: Console = st.session_state[KEY]
    return con


@st.cache_resource(show_spinner=False, max_entries=64)
def client_for(url: str, token: str | None, pin: str | None, timeout: float) -> AgentClient:
    """One agent client per (agent, token), shared by the sessions that use that token."""
    return AgentClient(url, token, pinned_sha256=pin, timeout=timeout)


@st.cache_resource(show_spinner=False)
def memory_for(url: str, hours: float) -> AgentMemory:
    """What this console process remembers of the agent at ``url``."""
    return AgentMemory(ResourceHistory(timedelta(hours=hours)))


@st.cache_resource(show_spinner=False)
def stored_for(url: str) -> StoredState:
    """The read-only state store."""
    return StoredState(url)


def connect(settings: ConsoleSettings, token: str | None) -> AgentClient | AgentError:
    """A client for ``token``, or why none can be made (agent unreachable, pin mismatch)."""
    pin = settings.pinned_sha256
    try:
        return client_for(settings.agent_url, token, pin, settings.timeout_s)
    except AgentError as exc:
        return exc
    except OSError as exc:  # fetching the pinned certificate failed: nothing answers
        return unreachable(settings.agent_url, exc)


def unreachable(url: str, exc: Exception) -> AgentError:
    return AgentError(
        0,
        "unreachable",
        f"The agent at {url} did not answer: {exc}",
        "Check that the agent runs and the address is right.",
    )


def probe(client: AgentClient) -> AgentError | None:
    """None when the agent answers ``/healthz`` within a few seconds, else why not."""
    try:
        client.request("GET", "/healthz", timeout=PROBE_TIMEOUT_S)
    except AgentError as exc:
        return exc
    return None
