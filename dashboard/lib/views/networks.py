"""Docker networks: driver, subnets and the containers on each."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import data, rows, ui
from dashboard.lib.console import current


def render() -> None:
    con = current()
    st.title("Networks")
    nets = ui.call(con, lambda c: [data.plain(n) for n in c.host_networks()])
    if nets is None:
        return
    st.dataframe([rows.network(n) for n in nets], hide_index=True)
    st.caption(
        "Managed networks carry the label `matrx.managed=true`; services reach each "
        "other on them by service name (the network alias)."
    )
