"""Every route on the host: from the specs, what Traefik loaded, and a real request each."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import data, routes, ui
from dashboard.lib.console import current


def render() -> None:
    con = current()
    st.title("Routes")
    report = ui.call(con, lambda c: data.plain(c.routes()))
    if report is not None:
        routes.show(report, None)
