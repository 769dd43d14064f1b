"""The routing report (``GET /v1/routes``) as a page shows it: one service's routes or all."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from dashboard.lib import rows


def show(report: dict[str, Any], service: str | None) -> None:
    """Routes (of ``service``, or every one), what Traefik loaded, and the live checks."""
    routes = [r for r in report.get("routes") or [] if service is None or r["service"] == service]
    traefik = report.get("traefik")
    _traefik(traefik, service)
    st.subheader("Routes")
    st.caption(f"From the specs; the agent writes them to `{report.get('routes_dir')}`.")
    if not routes:
        who = f"{service} has" if service else "No service has"
        st.info(f"{who} no route in its spec.", icon=":material/info:")
        return
    st.dataframe([rows.route(r) for r in routes], hide_index=True)
    checks = [r.get("check") for r in routes]
    if all(c is None for c in checks):
        st.caption(
            "No live request: the agent has no MATRX_TRAEFIK_ENTRYPOINT_URL to send one through."
        )
    failed = [r for r in routes if r.get("check") and not r["check"].get("ok")]
    for r in failed:
        c = r["check"]
        st.error(
            f"A request to `{r.get('host')}{r.get('path_prefix') or '/'}` failed: "
            f"{c.get('status') or c.get('error')} after {c.get('latency_ms')} ms.",
            icon=":material/error:",
        )


def _traefik(traefik: dict[str, Any] | None, service: str | None) -> None:
    st.subheader("Traefik")
    if traefik is None:
        st.info(
            "Not compared: the agent has no MATRX_TRAEFIK_API_URL to ask Traefik what it loaded.",
            icon=":material/info:",
        )
        return
    if not traefik.get("reachable"):
        st.error(f"Traefik's API did not answer: {traefik.get('error')}", icon=":material/error:")
        return
    missing = [m for m in traefik.get("missing_in_traefik") or [] if _mine(m, service)]
    unknown = traefik.get("unknown_to_specs") or [] if service is None else []
    st.caption(f"Traefik has {traefik.get('routers')} router(s) loaded.")
    if missing:
        st.error(
            "Missing in Traefik (in a spec, not loaded): " + ", ".join(f"`{m}`" for m in missing),
            icon=":material/error:",
        )
    if unknown:
        st.warning(
            "Loaded by Traefik but in no spec: " + ", ".join(f"`{u}`" for u in unknown),
            icon=":material/warning:",
        )
    if not missing and not unknown:
        st.success("Traefik has loaded every route of the specs.", icon=":material/check:")


def _mine(router: str, service: str | None) -> bool:
    """The agent names a service's routers '<service>-<index>@file'."""
    return service is None or re.fullmatch(rf"{re.escape(service)}-\d+@file", router) is not None
