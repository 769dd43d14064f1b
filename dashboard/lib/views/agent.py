"""The agent itself: readiness checks, version, loud warnings when state is not durable, and
the reconcile that makes the host match the store (a wiped or replaced host)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard.lib import fmt, jobs, ui
from dashboard.lib.console import Console, current

PAGE = "agent"
CONFIRM = "agent_reconcile_confirm"


def render() -> None:
    con = current()
    st.title("Agent")
    ready = ui.call(con, lambda c: c.readyz())
    if ready is None:
        return
    con.memory.readiness = (datetime.now(UTC), ready)
    _durability(ready)
    _checks(ready)
    cols = st.columns(3)
    cols[0].metric("Ready", "yes" if ready["ready"] else "NO")
    cols[1].metric("Version", ready.get("version") or "—")
    cols[2].metric("Environment", ready.get("env") or "—")
    st.caption(f"Agent {con.settings.agent_url} · last contact {fmt.when(con.memory.last_contact)}")
    _reconcile(con)
    _outbox(con)
    _settings(con)


def _durability(ready: dict[str, Any]) -> None:
    for warning in ready.get("warnings") or []:
        st.error(f"**{warning}**", icon=":material/warning:")
    if not ready.get("durable", True):
        st.error(
            "**This agent runs on the embedded defaults**: its state and blobs live only on "
            "this host's disk. Set `SUPABASE_DB_URL` and `MATRX_S3_BUCKET` (docs/env.md) "
            "before trusting it with anything.",
            icon=":material/dangerous:",
        )


def _checks(ready: dict[str, Any]) -> None:
    st.subheader("Readiness checks (GET /readyz)")
    for name, check in ready["checks"].items():
        if check["ok"]:
            st.success(f"{name}: ok", icon=":material/check_circle:")
        else:
            st.error(f"{name}: {check.get('error')}", icon=":material/error:")


def _reconcile(con: Console) -> None:
    """What the store holds and this host lacks, and the button that brings it back."""
    st.subheader("Host against the store")
    jobs.follow(con, PAGE, "host")
    plan = ui.call(con, lambda c: c.reconcile_plan())
    if plan is None:
        return
    if plan["nothing_to_do"]:
        st.success("The host matches the store: nothing to reconcile.", icon=":material/check:")
        return
    st.warning(
        f"{len(plan['steps'])} step(s) would make this host match the store.",
        icon=":material/sync_problem:",
    )
    st.dataframe(plan["steps"], hide_index=True)
    if not st.session_state.get(CONFIRM):
        if st.button("Reconcile now", type="primary", icon=":material/sync:"):
            st.session_state[CONFIRM] = True
            st.rerun()
        return
    with st.container(border=True):
        st.markdown(
            "The agent will apply the steps above, service by service: databases restored from "
            "their newest good backup before their app starts, images loaded or rebuilt, "
            "containers started through the health gate. Backups wait until it ends. A service "
            "that cannot come back is reported; the others still come back."
        )
        yes, no = st.columns(2)
        if yes.button("Yes, reconcile this host", type="primary", key="reconcile-yes"):
            st.session_state.pop(CONFIRM, None)
            job = ui.call(con, lambda c: c.reconcile())
            if job is not None:
                jobs.started(PAGE, "host", "Reconcile", job)
            st.rerun()
        if no.button("Cancel", key="reconcile-no"):
            st.session_state.pop(CONFIRM, None)
            st.rerun()


def _outbox(con: Console) -> None:
    """Records the store has not taken: waiting for it, or refused and set aside."""
    done = st.session_state.pop("outbox_retried", None)
    if done is not None:
        st.info(
            f"Retried {done['requeued']} set-aside record(s): {done['delivered']} delivered, "
            f"{len(done['set_aside'])} still set aside."
        )
    box = ui.call(con, lambda c: c.outbox())
    if box is None or (not box["pending"] and not box["set_aside"]):
        return
    st.subheader("Outbox")
    if box["pending"]:
        st.warning(
            f"{box['pending']} record(s) wait for the state store; they go in order when it "
            "answers again.",
            icon=":material/hourglass_top:",
        )
    if box["set_aside"]:
        st.error(
            f"{len(box['set_aside'])} record(s) the state store refused are set aside.",
            icon=":material/block:",
        )
        st.dataframe(
            [
                {"kind": r["kind"], "key": r["key"], "since": fmt.when(_at(r)), "why": r["reason"]}
                for r in box["set_aside"]
            ],
            hide_index=True,
        )
        if st.button("Retry the set-aside records", icon=":material/replay:"):
            done = ui.call(con, lambda c: c.retry_outbox())
            if done is not None:
                st.session_state["outbox_retried"] = done
            st.rerun()


def _at(row: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(row["at"], UTC)


def _settings(con: Console) -> None:
    """What a rebuilt host gets back from the store without anyone remembering it."""
    kept = ui.call(con, lambda c: c.host_settings())
    if kept is None:
        return
    with st.expander("Settings kept in the state store (a rebuilt host starts with them)"):
        st.dataframe(
            [
                {"setting": k, "value": "—" if v is None else str(v)}
                for k, v in kept["kept_in_store"].items()
            ],
            hide_index=True,
        )
        st.caption("Only in this host's env file: " + ", ".join(kept["env_file_only"]) + ".")
