"""The agent itself: readiness checks, version, and loud warnings when state is not durable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard.lib import fmt, ui
from dashboard.lib.console import current


def render() -> None:
    con = current()
    st.title("Agent")
    ready = ui.call(con, lambda c: c.readyz())
    if ready is None:
        return
    con.memory.readiness = (datetime.now(UTC), ready)
    _durability(ready)
    _checks(ready)
    cols = st.columns(3)
    cols[0].metric("Ready", "yes" if ready["ready"] else "NO")
    cols[1].metric("Version", ready.get("version") or "—")
    cols[2].metric("Environment", ready.get("env") or "—")
    st.caption(f"Agent {con.settings.agent_url} · last contact {fmt.when(con.memory.last_contact)}")


def _durability(ready: dict[str, Any]) -> None:
    for warning in ready.get("warnings") or []:
        st.error(f"**{warning}**", icon=":material/warning:")
    if not ready.get("durable", True):
        st.error(
            "**This agent runs on the embedded defaults**: its state and blobs live only on "
            "this host's disk. Set `SUPABASE_DB_URL` and `MATRX_S3_BUCKET` (docs/env.md) "
            "before trusting it with anything.",
            icon=":material/dangerous:",
        )


def _checks(ready: dict[str, Any]) -> None:
    st.subheader("Readiness checks (GET /readyz)")
    for name, check in ready["checks"].items():
        if check["ok"]:
            st.success(f"{name}: ok", icon=":material/check_circle:")
        else:
            st.error(f"{name}: {check.get('error')}", icon=":material/error:")
