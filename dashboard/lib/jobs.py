"""Jobs the agent runs for a page (builds, deploys, rollbacks, backups, restores, verifies):
started here, then followed live until they end.

A page calls ``started(...)`` with the agent's answer (the job row) and ``follow(...)``
on every run: each job is polled (``GET /v1/jobs/{id}``) in a fragment that reruns every
second while it runs, showing its step, percent and last log lines (from the job's
events websocket, which replays the stored events first). When a job ends, the whole
page reruns once so what it shows (the live release, the backup list) is current.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st
from websockets.exceptions import ConnectionClosed, WebSocketException

from dashboard.lib import fmt, ui
from dashboard.lib.console import Console
from matrx_ship.client import AgentClient, AgentError

KEY = "followed_jobs"
ACTIVE = ("queued", "running")
POLL_S = 1.0
LOG_LINES = 8
EVENT_WAIT_S = 0.3


def started(page: str, service: str, what: str, job: dict[str, Any]) -> None:
    """Remember a job this page started, newest first."""
    jobs: list[dict[str, Any]] = st.session_state.setdefault(KEY, [])
    jobs.insert(
        0, {"page": page, "service": service, "what": what, "id": job["id"], "ended": False}
    )


def follow(con: Console, page: str, service: str) -> None:
    """Every job this page started for ``service`` in this session, live while it runs."""
    mine = [
        j for j in st.session_state.get(KEY, []) if j["page"] == page and j["service"] == service
    ]
    for tracked in mine[:3]:
        st.fragment(run_every=POLL_S if not tracked["ended"] else None)(_progress)(con, tracked)


def _progress(con: Console, tracked: dict[str, Any]) -> None:
    client = con.client
    if client is None:
        return
    job = ui.attempt(lambda: client.job(tracked["id"]))
    if job is None:
        return
    with st.container(border=True):
        st.markdown(f"**{tracked['what']}** · job `{job['id']}` · {status_line(job)}")
        if job["status"] in ACTIVE:
            st.progress(min(max(job.get("percent") or 0, 0), 100), text=job.get("step") or "queued")
        elif job["status"] == "succeeded":
            st.success(
                f"{tracked['what']}: succeeded. {result_line(job)}", icon=":material/check_circle:"
            )
        else:
            err = job.get("error") or {}
            hint = f"\n\n**Next step:** {err['hint']}" if err.get("hint") else ""
            st.error(
                f"{tracked['what']}: {job['status']}. {err.get('message', '')}{hint}",
                icon=":material/error:",
            )
        lines = log_lines(events(client, job["id"]))
        if lines:
            st.code("\n".join(lines), language=None)
    if job["status"] not in ACTIVE and not tracked["ended"]:
        tracked["ended"] = True
        con.memory.forget_snapshot()
        st.rerun()  # the whole page: what it shows changed


def status_line(job: dict[str, Any]) -> str:
    """'running for 12 s', 'succeeded in 8 s', 'queued'."""
    status = job["status"]
    begun = fmt.parse_time(job.get("started_at"))
    ended = fmt.parse_time(job.get("finished_at"))
    if begun and ended:
        return f"{status} in {fmt.duration((ended - begun).total_seconds())}"
    if begun:
        return f"{status} since {fmt.when(begun)}"
    return str(status)


def result_line(job: dict[str, Any]) -> str:
    """The interesting part of a finished job's result, as the agent stated it."""
    result = job.get("result") or {}
    parts = []
    for key in ("release", "release_id", "deployment", "container", "backup_id", "backup"):
        value = result.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if value:
            parts.append(f"{key.replace('_', ' ')} `{value}`")
    if isinstance(result.get("services"), dict):  # a reconcile: per service, back or not
        back = [n for n, r in result["services"].items() if r.get("ok")]
        parts.append(f"{len(back)} service(s) brought back")
        if result.get("failed"):
            parts.append(f"could not come back: {', '.join(result['failed'])}")
        if result.get("nothing_to_do"):
            parts.append("nothing to do: the host already matched the store")
    if result.get("seconds") is not None:
        parts.append(f"{result['seconds']} s")
    return " · ".join(parts)


def events(client: AgentClient, job_id: str) -> list[dict[str, Any]]:
    """The job's events so far: the websocket replays the stored ones, then waits briefly."""
    out: list[dict[str, Any]] = []
    try:
        with client.websocket(f"/v1/jobs/{job_id}/events") as ws:
            while True:
                try:
                    item = json.loads(ws.recv(timeout=EVENT_WAIT_S))
                except TimeoutError:
                    break
                out.append(item)
                if item.get("kind") == "end":
                    break
    except (ConnectionClosed, WebSocketException, OSError, AgentError):
        pass  # the progress above still shows; the log lines are a bonus
    return out


def log_lines(evts: list[dict[str, Any]], n: int = LOG_LINES) -> list[str]:
    """The last ``n`` lines a person wants to see: log lines and steps, in order."""
    lines = []
    for e in evts:
        if e.get("kind") == "log":
            lines.append(str(e.get("line", "")))
        elif e.get("kind") == "step":
            pct = f" ({e['percent']} %)" if e.get("percent") is not None else ""
            lines.append(f"» {e.get('step')}{pct}")
    return lines[-n:]
