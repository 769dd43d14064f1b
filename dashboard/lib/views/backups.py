"""A service's backups: take one, its history with sizes and verification, verify, restore;
each confirmed first and followed live while the agent's job runs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.lib import changes, data, jobs, rows, ui
from dashboard.lib.console import Console, current
from matrx_ship.models import Scope

PAGE = "backups"
PENDING = "backup_pending"  # (service, verb, backup id or "")


def render() -> None:
    con = current()
    snap = ui.attempt(lambda: data.snapshot(con))
    service = ui.pick_service(con, snap) if snap else None
    if service is None:
        return
    name = service["name"]
    ui.header(con, service, "Backups")
    ui.service_links(con, name, PAGE)
    listed = ui.call(con, lambda c: c.service_backups(name))
    if listed is None:
        return
    found = [data.plain(b) for b in listed]
    jobs.follow(con, PAGE, name)
    why = con.identity.why_not(Scope.operate, "Backups") if con.identity else "Sign in first."
    if why:
        st.info(why, icon=":material/lock:")
    if st.button("Back up now…", type="primary", disabled=bool(why), help=why):
        st.session_state[PENDING] = (name, "backup", "")
    _history(found)
    usable = [b for b in found if b.get("status") == "succeeded"]
    if usable:
        labels = {
            b["id"]: f"{b['id']} · {rows.backup(b)['taken']} · {rows.backup(b)['size']}"
            for b in usable
        }
        pick = st.selectbox("Backup", list(labels), format_func=labels.__getitem__, key="bak_pick")
        keep_old = st.checkbox(
            "Keep the previous data (renamed) after a restore", key="bak_keep", disabled=bool(why)
        )
        left, right = st.columns(2)
        if left.button("Verify…", disabled=bool(why), help=why):
            st.session_state[PENDING] = (name, "verify", pick)
        if right.button("Restore…", disabled=bool(why), help=why):
            st.session_state[PENDING] = (name, "restore", pick)
    else:
        keep_old = False
    pending = st.session_state.get(PENDING)
    if pending and pending[0] == name:
        by_id = {b["id"]: b for b in found}
        _confirm(con, service, pending[1], by_id.get(pending[2]), keep_old)


def _history(found: list[dict[str, Any]]) -> None:
    st.subheader("History")
    if not found:
        st.info("No backup yet.", icon=":material/info:")
        return
    st.caption(f"{len(found)} backup(s), newest first.")
    st.dataframe([rows.backup(b) for b in found], hide_index=True)
    failed = next((b for b in found if b.get("error")), None)
    if failed:
        err = failed["error"]
        st.caption(f"Last failure ({failed['id']}): {err.get('message')} {err.get('hint') or ''}")


def _confirm(
    con: Console, service: dict[str, Any], verb: str, backup: dict[str, Any] | None, keep: bool
) -> None:
    name = service["name"]
    if verb == "backup":
        text = changes.backup(name, service.get("database") is not None)
    elif backup is None:
        st.session_state.pop(PENDING, None)
        return
    else:
        text = changes.verify(backup) if verb == "verify" else changes.restore(backup, keep)
    with st.container(border=True):
        st.markdown(text)
        yes, no = st.columns(2)
        label = (
            f"Yes, {verb} {name}" if verb != "verify" else f"Yes, verify {backup and backup['id']}"
        )
        if yes.button(label, type="primary", key=f"bak-yes-{verb}"):
            _run(con, name, verb, backup, keep)
        if no.button("Cancel", key=f"bak-no-{verb}"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _run(con: Console, name: str, verb: str, backup: dict[str, Any] | None, keep: bool) -> None:
    if verb == "backup":
        job = ui.call(con, lambda c: c.backup(name))
        what = f"Backup of {name}"
    elif backup is not None and verb == "verify":
        job = ui.call(con, lambda c: c.verify_backup(backup["id"]))
        what = f"Verification of {backup['id']}"
    elif backup is not None:
        job = ui.call(con, lambda c: c.restore(backup["id"], keep_old=keep))
        what = f"Restore of {name} from {backup['id']}"
    else:
        return
    st.session_state.pop(PENDING, None)
    if job is not None:
        jobs.started(PAGE, name, what, data.plain(job))
        st.rerun()
