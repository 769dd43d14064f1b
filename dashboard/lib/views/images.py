"""Images on the host: size, who uses them, and the space that could be reclaimed."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import data, fmt, rows, ui
from dashboard.lib.console import current


def render() -> None:
    con = current()
    st.title("Images")
    body = ui.call(con, lambda c: data.plain(c.host_images()))
    if body is None:
        return
    images = body["images"]
    total = sum(i["size_bytes"] for i in images)
    unused = sum(i["size_bytes"] for i in images if not i["used_by"])
    cols = st.columns(3)
    cols[0].metric("Images", len(images), help=f"{fmt.size(total)} in all")
    cols[1].metric("Unused by any container", fmt.size(unused))
    cols[2].metric("Reclaimable (dangling)", fmt.size(body["dangling_reclaimable_bytes"]))
    st.dataframe([rows.image(i) for i in images], hide_index=True)
