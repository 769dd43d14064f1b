"""A service's releases: build history and logs, pending commits, build, deploy, rollback,
each confirmed first and followed live while the agent's job runs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.lib import changes, data, jobs, rows, ui
from dashboard.lib.console import Console, current
from dashboard.lib.nav import url_for
from matrx_ship.models import Scope

PAGE = "releases"
PENDING = "release_pending"  # (service, verb, release id or ref)
PREVIOUS = "previous healthy release"


def render() -> None:
    con = current()
    snap = ui.attempt(lambda: data.snapshot(con))
    service = ui.pick_service(con, snap) if snap else None
    if service is None:
        return
    name = service["name"]
    ui.header(con, service, "Releases")
    ui.service_links(con, name, PAGE)
    detail = ui.call(con, lambda c: c.service(name))
    history = ui.call(con, lambda c: c.releases(name))
    if detail is None or history is None:
        return
    source = detail["spec"].get("source")
    live = next((r for r in history if r.get("live")), None)
    st.markdown(f"**Live release:** {changes.release_label(live)}")
    jobs.follow(con, PAGE, name)
    _actions(con, name, source, history, live)
    _restart_link(con, name)
    _pending(con, name, source)
    _history(con, history)


def _why(con: Console, what: str) -> str | None:
    return con.identity.why_not(Scope.operate, what) if con.identity else "Sign in first."


def _actions(
    con: Console,
    name: str,
    source: dict[str, Any] | None,
    history: list[dict[str, Any]],
    live: dict[str, Any] | None,
) -> None:
    st.subheader("Build, deploy, roll back")
    why = _why(con, "Building and deploying")
    if why:
        st.info(why, icon=":material/lock:")
    ready = [r for r in history if r.get("status") == "ready"]
    build, deploy, back = st.columns(3)
    with build:
        if source is None:
            st.caption(
                "No git source in the spec: builds need one. Register an image with "
                f"`POST /v1/services/{name}/releases`."
            )
        else:
            ref = st.text_input(
                "Commit or branch (empty: branch head)", key="build_ref", disabled=why is not None
            )
            if st.button("Build…", disabled=why is not None, help=why):
                st.session_state[PENDING] = (name, "build", ref.strip())
    with deploy:
        choices = [r["id"] for r in ready if not r.get("live")]
        labels = {r["id"]: changes.release_label(r) for r in ready}
        pick = st.selectbox(
            "Release to deploy",
            choices,
            format_func=lambda i: labels[i].replace("`", ""),
            key="deploy_pick",
            disabled=why is not None or not choices,
        )
        if st.button("Deploy…", disabled=why is not None or not pick, help=why):
            st.session_state[PENDING] = (name, "deploy", pick)
    with back:
        kept = [PREVIOUS, *choices]
        target = st.selectbox(
            "Roll back to",
            kept,
            format_func=lambda i: i if i == PREVIOUS else labels[i].replace("`", ""),
            key="rollback_pick",
            disabled=why is not None or live is None,
        )
        if st.button("Roll back…", disabled=why is not None or live is None, help=why):
            st.session_state[PENDING] = (name, "rollback", target)
    pending = st.session_state.get(PENDING)
    if pending and pending[0] == name:
        _confirm(con, name, pending[1], pending[2], source, {r["id"]: r for r in history}, live)


def _confirm(
    con: Console,
    name: str,
    verb: str,
    arg: str,
    source: dict[str, Any] | None,
    by_id: dict[str, dict[str, Any]],
    live: dict[str, Any] | None,
) -> None:
    if verb == "build":
        text = changes.build(name, arg, (source or {}).get("branch"))
    elif verb == "deploy":
        text = changes.deploy(name, by_id[arg], live)
    else:
        text = changes.rollback(name, by_id.get(arg), live)
    with st.container(border=True):
        st.markdown(text)
        yes, no = st.columns(2)
        if yes.button(f"Yes, {verb} {name}", type="primary", key=f"yes-{verb}"):
            _run(con, name, verb, arg)
        if no.button("Cancel", key=f"no-{verb}"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _run(con: Console, name: str, verb: str, arg: str) -> None:
    if verb == "build":
        job = ui.call(con, lambda c: c.build(name, arg or None))
        what = f"Build of {name}" + (f" at {arg}" if arg else "")
    elif verb == "deploy":
        job = ui.call(con, lambda c: c.deploy(name, arg))
        what = f"Deploy of {arg} to {name}"
    else:
        release = None if arg == PREVIOUS else arg
        job = ui.call(con, lambda c: c.rollback(name, release))
        what = f"Rollback of {name}" + (f" to {release}" if release else "")
    st.session_state.pop(PENDING, None)
    if job is not None:
        jobs.started(PAGE, name, what, job)
        st.rerun()


def _restart_link(con: Console, name: str) -> None:
    page = con.pages.get(url_for("actions", con.pinned))
    if page is not None:
        st.page_link(
            page,
            label="Restart or force-recreate the running release: Actions",
            icon=":material/power_settings_new:",
            query_params=None if con.pinned else {"service": name},
        )


def _pending(con: Console, name: str, source: dict[str, Any] | None) -> None:
    st.subheader("Pending changes")
    if source is None:
        st.caption("No git source: nothing to compare.")
        return
    body = ui.call(con, lambda c: data.plain(c.pending(name)))
    if body is None:
        return
    st.caption(
        f"Branch `{body['branch']}` at `{body['head'][:12]}`; running "
        + (f"`{body['running']['commit_sha'][:12]}`" if body.get("running") else "no release")
    )
    if body.get("up_to_date"):
        st.success("Up to date: the running release is the branch head.", icon=":material/check:")
    elif not body["commits"]:
        st.info(body["message"], icon=":material/info:")
    else:
        st.warning(body["message"], icon=":material/pending:")
        st.dataframe([rows.commit(c) for c in body["commits"]], hide_index=True)
        stat = body.get("diffstat") or {}
        if stat:
            st.caption(
                f"{stat['files_changed']} file(s) changed, {stat['insertions']} insertion(s), "
                f"{stat['deletions']} deletion(s)"
            )
            st.dataframe(stat["files"], hide_index=True)


def _history(con: Console, history: list[dict[str, Any]]) -> None:
    st.subheader("Build history")
    if not history:
        st.info("No release yet: build one above.", icon=":material/info:")
        return
    st.dataframe([rows.release(r) for r in history], hide_index=True)
    ids = [r["id"] for r in history]
    pick = st.selectbox("Build log of", ids, key="log_pick")
    if pick:
        text = ui.call(con, lambda c: c.build_log(pick))
        if text is not None:
            st.code(text[-20_000:] or "(empty)", language=None)
