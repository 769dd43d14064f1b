"""Local-only state: what exists only on this host's disk, its risk and what protects it.

The goal is an empty list; each row names the console page and button (and the API call)
that moves the thing into the state store or the blob store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import streamlit as st

from dashboard.lib import fmt, ui
from dashboard.lib.console import current

EMPTY = (
    "Nothing exists only on this host: every volume, database, image and record is kept "
    "off the host."
)


def render() -> None:
    con = current()
    st.title("Local-only state")
    body = ui.call(con, lambda c: c.local_state())
    if body is not None:
        show(body, con.pages)


def show(body: Mapping[str, Any], pages: Mapping[str, Any]) -> None:
    """The table of items (or the green all-clear), then links to the pages that fix them."""
    items = body.get("items") or []
    st.caption(f"Checked {fmt.when(body.get('checked_at'))} (GET /v1/system/local-state)")
    if not items:
        st.success(EMPTY, icon=":material/verified:")
        return
    st.error(
        f"**{len(items)} thing(s) exist only on this host** and are lost with it.",
        icon=":material/warning:",
    )
    st.table([row(i) for i in items], hide_index=True)  # a table wraps the long sentences
    _links(items, pages)


def row(item: Mapping[str, Any]) -> dict[str, str]:
    """One item as a person reads it."""
    return {
        "what": str(item["kind"]).replace("_", " "),
        "name": str(item["name"]),
        "risk": str(item["risk"]),
        "since": fmt.when(item.get("since")),
        "action": str(item["action"]),
    }


def _links(items: list[Mapping[str, Any]], pages: Mapping[str, Any]) -> None:
    seen: set[str] = set()
    for item in items:
        path, _, query = str(item.get("page") or "").partition("?")
        if item["page"] in seen or path not in pages:
            continue
        seen.add(item["page"])
        params = dict(parse_qsl(query)) or None
        label = f"{path.replace('_', ' ').capitalize()}" + (
            f" of {params['service']}" if params and "service" in params else ""
        )
        st.page_link(pages[path], label=label, icon=":material/arrow_forward:", query_params=params)
