"""The services' databases: state, the audit with repairs, the schema browser, the read-only
query console (operate), and links to each service's backups."""

from __future__ import annotations

import streamlit as st

from dashboard.lib import changes, data, fmt, rows, ui
from dashboard.lib.console import Console, current
from dashboard.lib.nav import url_for
from matrx_ship.api.databases import QueryResult
from matrx_ship.models import Scope

PENDING = "repair_pending"  # (service, codes)
DONE = "repair_done"
PICK = "db_pick"


def render() -> None:
    con = current()
    st.title("Databases")
    listed = ui.call(con, lambda c: c.databases())
    if listed is None:
        return
    dbs = [data.plain(d) for d in listed.databases]
    _done()
    if dbs:
        st.dataframe([rows.database(d) for d in dbs], hide_index=True)
    else:
        st.info(
            "No service declares a database. Add `database` to a spec to give it a dedicated "
            "Postgres.",
            icon=":material/info:",
        )
    _audit(con)
    names = [d["service"] for d in dbs]
    if not names:
        return
    st.divider()
    wanted = st.query_params.get("db")
    if st.session_state.get(PICK) not in names:
        st.session_state[PICK] = wanted if wanted in names else names[0]
    name = st.selectbox("Database of", names, key=PICK)
    _backups_link(con, name)
    browse, console = st.tabs(["Schema browser", "Query (read-only)"])
    with browse:
        _browser(con, name)
    with console:
        _query(con, name)


def _done() -> None:
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(done, icon=":material/check_circle:")


def _audit(con: Console) -> None:
    st.subheader("Audit")
    with st.spinner("The agent checks each database end to end…"):
        report = ui.call(con, lambda c: c.database_audit())
    if report is None:
        return
    findings = [data.plain(f) for f in report.findings]
    if not findings:
        st.success(
            "Every database checks out: container, server, role, app connection.",
            icon=":material/check:",
        )
        return
    st.dataframe([rows.finding(f) for f in findings], hide_index=True)
    why = con.identity.why_not(Scope.operate, "Repairing") if con.identity else "Sign in first."
    if why:
        st.info(why, icon=":material/lock:")
    repairable: dict[str, list[str]] = {}
    for f in findings:
        if f["severity"] == "error":
            repairable.setdefault(f["service"], []).append(f["code"])
    for service, codes in repairable.items():
        if st.button(f"Repair {service}…", key=f"repair-{service}", disabled=bool(why), help=why):
            st.session_state[PENDING] = (service, codes)
    pending = st.session_state.get(PENDING)
    if pending and pending[0] in repairable:
        _confirm_repair(con, *pending)


def _confirm_repair(con: Console, service: str, codes: list[str]) -> None:
    with st.container(border=True):
        st.markdown(changes.repair(service, codes))
        yes, no = st.columns(2)
        if yes.button(f"Yes, repair {service}", type="primary", key="repair-yes"):
            with st.spinner(f"Repairing {service}…"):
                result = ui.call(con, lambda c: c.repair_database(service))
            st.session_state.pop(PENDING, None)
            if result is not None:
                did = ", ".join(result.actions) or "nothing was missing"
                st.session_state[DONE] = f"Repaired {service}: {did}."
                st.rerun()
        if no.button("Cancel", key="repair-no"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _backups_link(con: Console, name: str) -> None:
    page = con.pages.get(url_for("backups", False))
    if page is not None:
        st.page_link(
            page,
            label=f"Back up or restore {name}'s database: Backups",
            icon=":material/backup:",
            query_params={"service": name},
        )


def _browser(con: Console, name: str) -> None:
    body = ui.call(con, lambda c: c.database_schemas(name))
    if body is None:
        return
    tables = [rows.db_table(s.name, data.plain(t)) for s in body.schemas for t in s.tables]
    st.caption(f"Database `{body.database}`: {len(tables)} table(s) and view(s).")
    if not tables:
        st.info("No tables yet.", icon=":material/info:")
        return
    st.dataframe(tables, hide_index=True)
    keys = [f"{t['schema']}.{t['name']}" for t in tables]
    pick = st.selectbox("Table", keys, key=f"table-{name}")
    if not pick:
        return
    schema, table = pick.split(".", 1)
    detail = ui.call(con, lambda c: c.database_table(name, schema, table))
    if detail is None:
        return
    st.caption(
        f"{detail.kind} `{pick}` · about {detail.row_estimate or 0} row(s) · "
        f"{fmt.size(detail.size_bytes)}"
    )
    st.dataframe([data.plain(c) for c in detail.columns], hide_index=True)
    if detail.indexes:
        st.caption("Indexes")
        st.dataframe([data.plain(i) for i in detail.indexes], hide_index=True)


def _query(con: Console, name: str) -> None:
    why = con.identity.why_not(Scope.operate, "The query console") if con.identity else "Sign in."
    st.caption(
        "One statement (SELECT, WITH, EXPLAIN, SHOW…) in a READ ONLY transaction, as a "
        "read-only role, with a timeout. The agent records each statement in its audit log."
    )
    if why:
        st.info(why, icon=":material/lock:")
    with st.form(f"query-{name}"):
        sql = st.text_area("SQL", key=f"sql-{name}", height=120, disabled=bool(why))
        left, right = st.columns(2)
        limit = left.number_input("Rows at most", 1, 1000, 100, disabled=bool(why))
        timeout = right.number_input("Timeout (s)", 1.0, 30.0, 10.0, disabled=bool(why))
        run = st.form_submit_button("Run", disabled=bool(why))
    if run and sql.strip():
        result = ui.call(con, lambda c: c.query(name, sql, int(limit), float(timeout)))
        if result is not None:
            _result(result)


def _result(result: QueryResult) -> None:
    cut = " (cut at the limit)" if result.truncated else ""
    st.caption(f"{result.row_count} row(s){cut} in {result.seconds} s")
    columns = [str(c) for c in result.columns]
    named = [_unique(columns)]
    st.dataframe([dict(zip(named[0], r, strict=False)) for r in result.rows], hide_index=True)


def _unique(columns: list[str]) -> list[str]:
    """Column names a table can show (a query may repeat a name)."""
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
        out.append(c if seen[c] == 1 else f"{c} ({seen[c]})")
    return out
