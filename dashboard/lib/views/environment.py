"""A service's environment: masked values; set, unset and .env import through the health
gate (operate); reveal one value and export them all (admin, audited by the agent)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.lib import changes, data, ui
from dashboard.lib.console import Console, current
from matrx_ship import envtext
from matrx_ship.api.env import EnvApplied
from matrx_ship.client import AgentClient
from matrx_ship.models import Scope

PAGE = "environment"
PENDING = "env_pending"  # (service, ("change" or "import", body), sentence)
DONE = "env_done"
REVEALED = "env_revealed"  # (service, key, value)


def render() -> None:
    con = current()
    snap = ui.attempt(lambda: data.snapshot(con))
    service = ui.pick_service(con, snap) if snap else None
    if service is None:
        return
    name = service["name"]
    ui.header(con, service, "Environment")
    ui.service_links(con, name, PAGE)
    done = st.session_state.get(DONE)
    if done and done[0] == name:
        st.success(done[1], icon=":material/check_circle:")
        st.session_state.pop(DONE)
    body = ui.call(con, lambda c: c.env(name))
    if body is None:
        return
    env = body.env
    _table(con, name, env)
    pending = st.session_state.get(PENDING)
    if pending and pending[0] == name:
        _confirm(con, name, pending[1], pending[2])
    operate = _why(con, Scope.operate, "Changing the environment")
    left, right = st.columns(2)
    with left:
        _edit(name, env, operate)
    with right:
        _import(name, operate)
    _export(con, name)


def _why(con: Console, needed: Scope, what: str) -> str | None:
    return con.identity.why_not(needed, what) if con.identity else "Sign in first."


def _table(con: Console, name: str, env: dict[str, str]) -> None:
    st.subheader("Variables")
    st.caption("Values are masked by the agent.")
    if not env:
        st.info("No variables.", icon=":material/info:")
        return
    revealed = st.session_state.get(REVEALED)
    shown = [
        {
            "variable": k,
            "value": revealed[2] if revealed and revealed[:2] == (name, k) else v,
        }
        for k, v in env.items()
    ]
    st.dataframe(shown, hide_index=True)
    why = _why(con, Scope.admin, "Revealing a value")
    cols = st.columns([2, 1])
    key = cols[0].selectbox("Reveal the value of", list(env), key="reveal_key", disabled=bool(why))
    cols[1].caption(
        "Each reveal is recorded in the agent's audit log with your name and the variable "
        "(never the value)."
    )
    if why:
        st.info(why, icon=":material/lock:")
    if cols[0].button("Reveal (audited)", disabled=bool(why), help=why) and key:
        got = ui.call(con, lambda c: c.reveal_env(name, key))
        if got is not None:
            st.session_state[REVEALED] = (name, got.key, got.value)
            st.rerun()


def _edit(name: str, env: dict[str, str], why: str | None) -> None:
    st.subheader("Edit")
    if why:
        st.info(why, icon=":material/lock:")
    with st.form("env_edit", border=True):
        key = st.text_input("Set variable", help=envtext.KEY_HELP, disabled=bool(why))
        value = st.text_input("to value", type="password", disabled=bool(why))
        unset = st.multiselect("Remove variables", list(env), disabled=bool(why))
        if st.form_submit_button("Apply…", disabled=bool(why)):
            key = key.strip()
            if key and not envtext.valid_key(key):
                st.error(f"`{key}` is not a variable name. {envtext.KEY_HELP}")
                return
            body: dict[str, Any] = {"set": {key: value} if key else {}, "unset": unset}
            if not body["set"] and not unset:
                st.warning("Name a variable to set or pick one to remove.")
                return
            text = changes.env_change(name, list(body["set"]), unset)
            st.session_state[PENDING] = (name, ("change", body), text)
            st.rerun()


def _import(name: str, why: str | None) -> None:
    st.subheader("Import a .env")
    with st.form("env_import", border=True):
        upload = st.file_uploader(".env file", type=None, disabled=bool(why))
        text = st.text_area("…or paste its text", height=100, disabled=bool(why))
        replace = st.checkbox(
            "Replace: remove the variables the file does not name", disabled=bool(why)
        )
        if st.form_submit_button("Import…", disabled=bool(why)):
            dotenv = upload.getvalue().decode(errors="replace") if upload else text
            keys = changes.dotenv_keys(dotenv)
            body = {"dotenv": dotenv, "replace": replace}
            sentence = changes.env_import(name, keys, replace)
            st.session_state[PENDING] = (name, ("import", body), sentence)
            st.rerun()


def _apply(client: AgentClient, name: str, kind: str, body: dict[str, Any]) -> EnvApplied:
    if kind == "import":
        return client.import_env(name, body["dotenv"], body["replace"])
    return client.change_env(name, body["set"], body["unset"])


def _confirm(con: Console, name: str, call: tuple[str, dict[str, Any]], text: str) -> None:
    with st.container(border=True):
        st.markdown(text)
        yes, no = st.columns(2)
        if yes.button(f"Yes, apply to {name}", type="primary", key="env-yes"):
            kind, body = call
            with st.spinner(f"Applying to {name}: waiting for the health gate…"):
                result = ui.call(con, lambda c: _apply(c, name, kind, body))
            st.session_state.pop(PENDING, None)
            con.memory.forget_snapshot()
            if result is not None:
                st.session_state.pop(REVEALED, None)
                st.session_state[DONE] = (name, changes.applied(data.plain(result)))
                st.rerun()
        if no.button("Cancel", key="env-no"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _export(con: Console, name: str) -> None:
    st.subheader("Export")
    why = _why(con, Scope.admin, "Exporting the values")
    st.caption("The .env with every value. Each export is recorded in the agent's audit log.")
    if why:
        st.info(why, icon=":material/lock:")
        return
    if st.button("Export .env (audited)"):
        text = ui.call(con, lambda c: c.export_env(name))
        if text is not None:
            st.download_button(
                f"Download {name}.env", str(text), file_name=f"{name}.env", mime="text/plain"
            )
