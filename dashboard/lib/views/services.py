"""All services at a glance: state, health, uptime, restarts and resources, with links."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import data, fmt, rows, ui
from dashboard.lib.console import Console, current


def render() -> None:
    con = current()
    st.title("Services")
    ui.stale_banner(con)
    snap = ui.attempt(lambda: data.snapshot(con))
    if snap is None:
        return
    names = ui.choices(con, snap)
    if con.settings.scope == "deploy" and con.live and snap.manager() is None:
        st.warning(
            "No service of kind `manager` is registered: the Server Manager is not "
            "watched by this console. See the runbook *Manager down*."
        )
    if not names:
        st.info("No service is registered yet. Register one with `POST /v1/services`.")
        return
    st.caption(f"As of {fmt.when(snap.at)}" + ("" if snap.live else " (stale)"))
    manager = snap.manager()
    if con.settings.scope == "deploy" and manager:
        st.caption(f"The Manager (`{manager}`) has its own section above.")
    by_name = {s["name"]: s for s in snap.services}
    st.dataframe([rows.service(by_name[n]) for n in names], hide_index=True)
    _links(con, names)
    if snap.unmanaged:
        st.subheader("Unmanaged containers (read-only)")
        st.dataframe([rows.unmanaged(c) for c in snap.unmanaged], hide_index=True)


def _links(con: Console, names: list[str]) -> None:
    page = con.pages.get("overview")
    if page is None:
        return
    cols = st.columns(min(len(names), 4))
    for i, name in enumerate(names):
        cols[i % len(cols)].page_link(
            page,
            label=f"Open {name}",
            icon=":material/arrow_forward:",
            query_params={"service": name},
        )
