"""One service now: state, health, uptime, restarts, resources and their last hours,
its release, its last events and its open problems; links to logs, terminal, actions.
"""

from __future__ import annotations

import contextlib
from typing import Any

import streamlit as st

from dashboard.lib import data, fmt, rows, ui
from dashboard.lib.console import Console, current
from dashboard.lib.problems import deploy_problem, open_problems
from matrx_ship.client import AgentClient, AgentError


def render() -> None:
    con = current()
    ui.stale_banner(con)
    snap = ui.attempt(lambda: data.snapshot(con))
    if snap is None:
        return
    service = ui.pick_service(con, snap)
    if service is None:
        return
    ui.header(con, service, "Overview")
    ui.service_links(con, service["name"], "overview")
    if con.live:
        st.fragment(run_every=con.settings.refresh_s)(_live)(con, service["name"])
    else:
        _now(service, stale=True)
        _spec(service)
    _events(con, service)


def _live(con: Console, name: str) -> None:
    snap = ui.attempt(lambda: data.snapshot(con, max_age_s=1.0))
    service = snap.find(name) if snap else None
    if service is None:
        return
    _now(service, stale=False)
    _problems(con, service)
    _chart(con, name)
    _release(con, service)


def _now(service: dict[str, Any], stale: bool) -> None:
    c = service.get("current") or {}
    figures = c.get("resources") or {}
    row = st.columns(4)
    row[0].metric("State", service["state"])
    row[1].metric("Health", service["health"])
    row[2].metric("Uptime", fmt.duration(c.get("uptime_s")) if c else "—")
    row[3].metric("Restarts", c.get("restart_count", 0) if c else "—")
    row = st.columns(4)
    row[0].metric("CPU", fmt.percent(figures.get("cpu_percent")))
    row[1].metric(
        "Memory",
        fmt.size(figures.get("memory_bytes")) if figures else "—",
        help=f"limit {fmt.size(figures.get('memory_limit_bytes'))}",
    )
    row[2].metric("Disk", _disk(c), help="written by the container plus its named volumes")
    row[3].metric("Network in / out", _network(figures))
    sampled = figures.get("sampled_at")
    note = f"Figures sampled {fmt.ago(sampled)} by the agent" if sampled else "No live figures"
    st.caption(note + (" — **stale**: the agent does not answer." if stale else "."))


def _disk(c: dict[str, Any]) -> str:
    if c.get("disk_bytes") is None and not c.get("volumes_bytes"):
        return "—"
    return fmt.size((c.get("disk_bytes") or 0) + (c.get("volumes_bytes") or 0))


def _network(figures: dict[str, Any]) -> str:
    if not figures:
        return "—"
    return f"{fmt.size(figures.get('net_rx_bytes'))} / {fmt.size(figures.get('net_tx_bytes'))}"


def _problems(con: Console, service: dict[str, Any]) -> None:
    st.subheader("Open problems")
    problems = open_problems(service)
    newest = ui.call(con, lambda c: c.deployments(service=service["name"], limit=1))
    if newest and (deploy := deploy_problem(newest[0])):
        problems.insert(0, deploy)
    if not problems:
        st.success("No open problems.", icon=":material/check_circle:")
    for p in problems:
        st.warning(p, icon=":material/warning:")


def _chart(con: Console, name: str) -> None:
    st.subheader(f"Last {con.settings.history_hours:g} hours")
    samples = con.memory.history.rows(name)
    st.caption(
        "Kept in this console's memory from the status API while it runs (one point "
        "per agent sample it sees); it starts empty when the console restarts."
    )
    if len(samples) < 2:
        st.info("Collecting figures: the chart appears after a second sample.")
        return
    points = [_point(s) for s in samples]
    left, right = st.columns(2)
    left.line_chart(points, x="UTC", y="CPU %", y_label="CPU %")
    right.line_chart(points, x="UTC", y=["memory", "disk"], y_label="MiB")


def _point(sample: dict[str, Any]) -> dict[str, Any]:
    return {
        "UTC": sample["at"].replace(tzinfo=None),  # the axis reads UTC, not the browser's zone
        "CPU %": sample["cpu_percent"],
        "memory": sample["memory_mib"],
        "disk": sample["disk_mib"],
    }


def _release(con: Console, service: dict[str, Any]) -> None:
    release = ((service.get("current") or {}).get("labels") or {}).get("matrx.release")
    if not release or con.client is None:
        return
    st.subheader("Release")
    detail: dict[str, Any] = {}
    with contextlib.suppress(AgentError):  # an agent without the releases API: the id is enough
        detail = _release_detail(con.client, con.settings.agent_url, release)
    commit = detail.get("commit_sha")
    st.markdown(
        f"Release `{release}`"
        + (f" · commit `{commit[:12]}` {detail.get('message') or ''}" if commit else "")
    )


@st.cache_data(show_spinner=False, max_entries=256)
def _release_detail(_client: AgentClient, agent_url: str, release_id: str) -> dict[str, Any]:
    """A release never changes: asked once per agent and id (errors are not cached)."""
    detail: dict[str, Any] = _client.release(release_id)
    return detail


def _events(con: Console, service: dict[str, Any]) -> None:
    st.subheader("Last events")
    events = [rows.docker_event(e) for e in reversed(service.get("events") or [])]
    if events:
        st.dataframe(events, hide_index=True)
    audit = ui.attempt(lambda: data.audit(con, target=service["name"], limit=10))
    if audit and audit["events"]:
        st.caption("Changes made through the agent (audit)")
        st.dataframe([rows.audit_event(e) for e in audit["events"]], hide_index=True)
    elif not events:
        st.caption("No events recorded.")


def _spec(service: dict[str, Any]) -> None:
    spec = service.get("spec")
    if spec:
        st.subheader("Stored spec (state store, env values masked)")
        st.json(spec, expanded=False)
