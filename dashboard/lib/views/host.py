"""The host: Docker engine, disks, memory and load."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.lib import data, fmt, ui
from dashboard.lib.console import current

DISK_WARN_PERCENT = 85.0


def render() -> None:
    con = current()
    st.title("Host")
    body = ui.call(con, lambda c: data.plain(c.host()))
    if body is None:
        return
    _load_and_memory(body)
    _disks(body["disk"])
    _engine(body["docker"])


def _load_and_memory(body: dict[str, Any]) -> None:
    load, mem = body["load"], body["memory"]
    used = mem["total_bytes"] - mem["available_bytes"]
    cols = st.columns(4)
    cols[0].metric("Load (1 min)", f"{load['1m']:.2f}", help=f"{load['cpus']} CPUs")
    cols[1].metric("Load (15 min)", f"{load['15m']:.2f}")
    cols[2].metric("Memory used", fmt.size(used), help=f"of {fmt.size(mem['total_bytes'])}")
    cols[3].metric("Memory available", fmt.size(mem["available_bytes"]))
    if load["1m"] > 2 * (load["cpus"] or 1):
        st.warning(f"The load ({load['1m']:.1f}) is more than twice the CPU count.")


def _disks(disks: list[dict[str, Any]]) -> None:
    st.subheader("Disks")
    for d in disks:
        st.markdown(
            f"`{d['path']}`: **{d['used_percent']} % used**, "
            f"{fmt.size(d['free_bytes'])} free of {fmt.size(d['total_bytes'])}"
        )
        st.progress(min(d["used_percent"] / 100, 1.0))
        if d["used_percent"] >= DISK_WARN_PERCENT:
            st.error(f"`{d['path']}` is {d['used_percent']} % full: see the runbook *Disk full*.")


def _engine(docker: dict[str, Any]) -> None:
    st.subheader("Docker engine")
    cols = st.columns(4)
    version = str(docker.get("ServerVersion") or "—").split("+")[0]
    cols[0].metric(
        "Engine", version, help=f"{docker.get('ServerVersion')}, API {docker.get('api_version')}"
    )
    cols[1].metric("Containers running", docker.get("ContainersRunning"))
    cols[2].metric("Containers stopped", docker.get("ContainersStopped"))
    cols[3].metric("Images", docker.get("Images"))
    facts = {**docker, "MemTotal": fmt.size(docker.get("MemTotal"))}
    st.dataframe(
        [{"fact": k, "value": str(v)} for k, v in facts.items()], hide_index=True, height="content"
    )
