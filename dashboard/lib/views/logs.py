"""A service's logs: a live tail that refreshes itself, and a search with filters and download."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import streamlit as st

from dashboard.lib import data, ui
from dashboard.lib.console import Console, current
from dashboard.lib.logquery import STREAMS, LogQuery, Stream, as_text, newest_first, rows

TAIL_LINES = 200


def render() -> None:
    con = current()
    snap = ui.attempt(lambda: data.snapshot(con))
    if snap is None:
        return
    service = ui.pick_service(con, snap)
    if service is None:
        return
    ui.header(con, service, "Logs")
    ui.service_links(con, service["name"], "logs")
    live, search = st.tabs(["Live tail", "Search"])
    with live:
        _tail(con, service["name"])
    with search:
        _search(con, service["name"])


def _tail(con: Console, name: str) -> None:
    follow = st.toggle("Follow", value=True, help=f"Re-read every {con.settings.refresh_s:g} s")
    st.caption(f"The last {TAIL_LINES} lines, newest first (stdout and stderr merged, UTC).")
    every = con.settings.refresh_s if follow else None
    st.fragment(run_every=every)(_tail_lines)(con, name)


def _tail_lines(con: Console, name: str) -> None:
    body = ui.call(con, lambda c: c.logs(name, tail=TAIL_LINES))
    if body is None:
        return
    st.code(newest_first(body["lines"]) or "(no output yet)", language=None, height=420)
    st.caption(f"Container `{body['container']}` · read {datetime.now(UTC):%H:%M:%S} UTC")


def _search(con: Console, name: str) -> None:
    query = _form(name)
    if query is None:
        return
    body = ui.call(con, lambda c: c.logs(name, **query.params()))
    if body is None:
        return
    lines = body["lines"]
    st.caption(f"{len(lines)} matching line(s) from `{body['container']}` (at most {query.tail}).")
    st.dataframe(rows(lines), hide_index=True, width="stretch")
    st.download_button(
        "Download",
        as_text(lines),
        file_name=query.filename(name),
        mime="text/plain",
        icon=":material/download:",
    )


def _form(name: str) -> LogQuery | None:
    with st.form(f"search-{name}"):
        left, right = st.columns(2)
        text = left.text_input("Contains", placeholder="substring")
        regex = right.text_input("Regular expression (RE2)", placeholder="e.g. error|timeout")
        stream: Stream = left.selectbox("Stream", STREAMS)
        tail = right.number_input("At most (lines)", 1, 10_000, 500)
        since, until = _time_range()
        ignore_case = st.checkbox("Ignore case")
        if not st.form_submit_button("Search", icon=":material/search:"):
            return None
    return LogQuery(text, regex, ignore_case, stream, since, until, int(tail))


def _time_range() -> tuple[datetime | None, datetime | None]:
    use = st.checkbox("Only a time range (UTC)")
    now = datetime.now(UTC)
    cols = st.columns(4)
    d1 = cols[0].date_input("From day", now.date() - timedelta(days=1))
    t1 = cols[1].time_input("From time", time(0, 0))
    d2 = cols[2].date_input("To day", now.date())
    t2 = cols[3].time_input("To time", time(23, 59))
    if not use:
        return None, None
    return _at(d1, t1), _at(d2, t2)


def _at(day: Any, moment: Any) -> datetime:
    return datetime.combine(day, moment, tzinfo=UTC)
