"""Every page under Streamlit's AppTest against a real agent with real containers."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from matrx_ship.client import AgentClient, AgentError
from tests.dashboard.conftest import (
    Fleet,
    Shipped,
    app_test,
    console_env,
    open_page,
    rerun_until,
    texts,
)
from tests.harness import RunningAgent, app_spec, service_name
from tests.harness.agent import remove_service_objects


def nav_titles(at: AppTest) -> list[str]:
    return [p.page_name for p in at.session_state["_console"].pages.values()]


def test_deploy_scope_opens_on_the_manager(console: AppTest, fleet: Fleet) -> None:
    at = console
    assert not at.exception
    assert at.title[0].value == f"Overview: {fleet.manager}"
    shown = texts(at)
    assert "Manager · image" in shown and "running · healthy" in shown
    assert {m.label: m.value for m in at.metric}["State"] == "running"
    assert "No open problems." in shown
    assert "POST /v1/services" in shown  # its creation, from the audit log
    sidebar = [e.value for e in at.sidebar.error]
    assert sidebar == ["NOT DURABLE: the agent runs on embedded defaults (see Agent)."]
    assert list(at.session_state["_console"].pages)[:4] == [
        "manager",
        "manager-logs",
        "manager-terminal",
        "manager-actions",
    ]


def test_all_services_lists_the_apps_with_their_state(console: AppTest, fleet: Fleet) -> None:
    at = open_page(console, "services")
    table = at.dataframe[0].value
    assert list(table["service"]) == [fleet.app]
    assert table["state"][0] == "running · healthy"
    assert f"The Manager (`{fleet.manager}`) has its own section above." in texts(at)


def test_overview_shows_the_picked_service(console: AppTest, fleet: Fleet) -> None:
    at = open_page(console, "overview", service=fleet.app)
    assert at.selectbox[0].value == fleet.app
    assert at.title[0].value == f"Overview: {fleet.app}"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["State"] == "running" and metrics["Health"] == "healthy"
    assert metrics["Restarts"] == "0"
    assert "Figures sampled" in texts(at)
    # the chart needs two agent samples (one a second, slower under load)
    rerun_until(at, lambda: at.get("vega_lite_chart"), 10, "the resource charts")
    assert len(at.get("vega_lite_chart")) == 2  # CPU, and memory with disk


def test_logs_tail_and_search(console: AppTest, fleet: Fleet) -> None:
    at = open_page(console, "logs", service=fleet.app)
    assert "app starting version=1" in at.code[0].value
    at.text_input[0].input("hello")
    at.selectbox[1].select("stderr")
    at.button[-1].click().run()  # the form's Search button
    assert not at.exception
    result = at.dataframe[0].value
    assert list(result["text"]) == ["app stderr hello"]
    assert list(result["stream"]) == ["stderr"]
    assert "1 matching line(s)" in texts(at)


def test_terminal_hands_the_browser_a_ticket_not_the_token(
    console: AppTest, fleet: Fleet, agent: RunningAgent, xterm: None
) -> None:
    at = open_page(console, "terminal", service=fleet.app)
    button = next(b for b in at.button if b.label == "Open a terminal session")
    assert not button.disabled
    button.click().run()
    assert not at.exception
    html = at.session_state["terminal_session"]["html"]
    assert f"/v1/services/{fleet.app}/exec?ticket=tkt_" in html
    assert agent.admin_token not in html


def test_actions_confirm_then_restart_through_the_agent(
    console: AppTest, fleet: Fleet, admin: AgentClient
) -> None:
    at = open_page(console, "actions", service=fleet.app)
    next(b for b in at.button if b.label == "Restart…").click().run()
    shown = texts(at)
    assert f"**Restart {fleet.app}**: the agent restarts container `{fleet.app}--g1-" in shown
    next(b for b in at.button if b.label == f"Yes, restart {fleet.app}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value.startswith(f"Done: restart {fleet.app}--g1-")
    events = admin.audit(target=fleet.app, action="POST /v1/services/{name}/restart")["events"]
    assert events[0]["actor"] == "bootstrap-admin" and events[0]["outcome"] == "allowed"


def test_a_read_token_sees_actions_and_terminal_disabled_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, agent: RunningAgent, admin: AgentClient, fleet: Fleet
) -> None:
    token = admin.create_token("console-reader", "read")["token"]
    console_env(monkeypatch, agent.url, token)
    at = open_page(app_test().run(), "actions", service=fleet.app)
    restart = next(b for b in at.button if b.label == "Restart…")
    assert restart.disabled
    assert at.info[0].value == (
        "Start needs a token with the 'operate' scope; "
        "you are signed in as 'console-reader' (read)."
    )
    at = open_page(at, "terminal", service=fleet.app)
    assert next(b for b in at.button if b.label == "Open a terminal session").disabled
    assert "needs a token with the 'admin' scope" in at.info[0].value


def test_infrastructure_pages_show_the_host(console: AppTest, fleet: Fleet) -> None:
    at = open_page(console, "host")
    assert "Disks" in texts(at) and "`/`:" in texts(at)
    at = open_page(at, "networks")
    row = at.dataframe[0].value.set_index("network").loc["matrx-test"]
    assert fleet.app in row["containers"] and bool(row["managed"])
    at = open_page(at, "images")
    assert fleet.app in " ".join(at.dataframe[0].value["used by"])
    at = open_page(at, "agent")
    assert "NOT DURABLE: blob store is a local folder" in texts(at)
    assert any(s.value == "store: ok" for s in at.success)


def test_audit_filters_and_pages(console: AppTest, admin: AgentClient) -> None:
    for i in range(55):  # each refused change is one audit event
        with pytest.raises(AgentError, match="no token named"):
            admin.revoke_token(f"nope-{i}")
    at = open_page(console, "audit")
    at.selectbox[0].select("failed").run()
    assert len(at.dataframe[0].value) == 50
    assert at.dataframe[0].value["target"][0] == "nope-54"
    next(b for b in at.button if b.label == "Older →").click().run()
    assert list(at.dataframe[0].value["target"]) == [f"nope-{i}" for i in range(4, -1, -1)]
    assert "Page 2" in texts(at)


def test_docs_render_the_runbooks(console: AppTest) -> None:
    at = open_page(console, "docs", doc="runbooks/disaster-recovery")
    assert at.radio[0].value == "runbooks/disaster-recovery"
    assert "# Disaster recovery: rebuild the host" in texts(at)


def test_sign_in_refuses_a_bad_token_and_admits_a_good_one(
    monkeypatch: pytest.MonkeyPatch, agent: RunningAgent, admin: AgentClient, fleet: Fleet
) -> None:
    console_env(monkeypatch, agent.url, None)
    at = app_test().run()
    assert at.title[0].value == "Sign in"
    at.text_input[0].input("msk_not-a-real-token-at-all")
    at.button[0].click().run()
    assert "The token is unknown, revoked or expired." in at.error[0].value
    token = admin.create_token("console-operator", "operate")["token"]
    at.text_input[0].input(token)
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == f"Overview: {fleet.manager}"
    assert "Signed in as **console-operator** (operate)" in texts(at)


def test_a_refused_console_token_is_said_plainly(
    monkeypatch: pytest.MonkeyPatch, agent: RunningAgent
) -> None:
    console_env(monkeypatch, agent.url, "msk_revoked-or-never-issued-token")
    at = app_test().run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert at.error[0].value == "The agent refuses the console's token (MATRX_CONSOLE_TOKEN)."
    assert "The token is unknown, revoked or expired." in at.error[1].value
    assert not at.text_input  # nobody is asked for another token


def test_manager_scope_lists_every_service_manager_first(
    monkeypatch: pytest.MonkeyPatch, agent: RunningAgent, fleet: Fleet
) -> None:
    console_env(monkeypatch, agent.url, agent.admin_token, scope="manager")
    at = app_test().run()
    assert "manager" not in at.session_state["_console"].pages
    at = open_page(at, "services")
    assert list(at.dataframe[0].value["service"]) == [fleet.manager, fleet.app]


# --- releases, deployments, environment, routing, databases, backups ---------------------


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def test_releases_show_history_log_and_pending_commits(console: AppTest, shipped: Shipped) -> None:
    at = open_page(console, "releases", service=shipped.name)
    shown = texts(at)
    assert f"**Live release:** `{shipped.first['id']}` ({shipped.first['commit_sha'][:12]}" in shown
    table = next(d.value for d in at.dataframe if "release" in d.value.columns)
    assert list(table["release"]) == [shipped.second["id"], shipped.first["id"]]
    assert list(table["commit"]) == [
        shipped.second["commit_sha"][:12],
        shipped.first["commit_sha"][:12],
    ]
    assert table["message"][1] == "first release of the shop"
    assert table["author"][1].startswith("Dev Person")
    assert list(table["live"]) == ["", "● live"]
    assert table["status"][0] == "ready" and table["size"][0] != "—"
    commits = next(
        d.value for d in at.dataframe if "commit" in d.value.columns and "date" in d.value.columns
    )
    assert list(commits["message"]) == ["pending change not built", "second release with a fix"]
    assert shipped.pending[:12] in list(commits["commit"])
    assert "2 commit(s) not deployed" in shown
    at.selectbox(key="log_pick").select(shipped.first["id"]).run()
    assert "ENV APP_VERSION=1" in at.code[-1].value  # the stored build log of the first
    labels = [link.proto.label for link in at.get("page_link")]
    assert "Restart or force-recreate the running release: Actions" in labels


def test_a_deploy_is_confirmed_then_followed_until_it_ends(
    console: AppTest, shipped: Shipped, admin: AgentClient
) -> None:
    at = open_page(console, "releases", service=shipped.name)
    at.selectbox(key="deploy_pick").select(shipped.second["id"]).run()
    button(at, "Deploy…").click().run()
    shown = texts(at)
    assert f"**Deploy `{shipped.second['id']}`" in shown and "old one keeps serving" in shown
    button(at, f"Yes, deploy {shipped.name}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    rerun_until(at, lambda: any("succeeded" in s.value for s in at.success), 60, "the deploy")
    assert any(s.value.startswith(f"Deploy of {shipped.second['id']}") for s in at.success)
    at.run()
    assert f"**Live release:** `{shipped.second['id']}`" in texts(at)
    # back to the first release through a rollback to a chosen kept release
    at.selectbox(key="rollback_pick").select(shipped.first["id"]).run()
    button(at, "Roll back…").click().run()
    assert f"**Roll {shipped.name} back** from `{shipped.second['id']}`" in texts(at)
    button(at, f"Yes, rollback {shipped.name}").click().run()
    job = admin.jobs(service=shipped.name, kind="rollback")[0]
    assert admin.wait_job(job["id"], timeout=120)["status"] == "succeeded"


def test_deployments_list_every_service(console: AppTest, shipped: Shipped) -> None:
    at = open_page(console, "deployments")
    table = at.dataframe[0].value
    mine = table[table["service"] == shipped.name]
    first = mine.iloc[-1]
    assert first["to"] == shipped.first["id"] and first["outcome"] == "succeeded"
    assert first["who"] == "bootstrap-admin" and first["duration"] != "—"


def test_environment_is_masked_and_changes_go_through_the_gate(
    console: AppTest, shipped: Shipped, admin: AgentClient
) -> None:
    at = open_page(console, "environment", service=shipped.name)
    env = at.dataframe[0].value.set_index("variable")["value"]
    assert "SHOP_SECRET" in env.index and "hush-41" not in env["SHOP_SECRET"]
    assert "recorded in the agent's audit log" in texts(at)
    at.selectbox(key="reveal_key").select("SHOP_SECRET").run()
    button(at, "Reveal (audited)").click().run()
    env = at.dataframe[0].value.set_index("variable")["value"]
    assert env["SHOP_SECRET"] == "hush-41"
    events = admin.audit(target=f"{shipped.name}/SHOP_SECRET")["events"]
    assert events and events[0]["actor"] == "bootstrap-admin"
    at.text_input[0].input("FEATURE_X")
    at.text_input[1].input("on")
    button(at, "Apply…").click().run()
    assert "set `FEATURE_X`" in texts(at)
    button(at, f"Yes, apply to {shipped.name}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value.startswith("Applied: ")
    assert "FEATURE_X" in set(at.dataframe[0].value["variable"])
    assert (
        admin.request("GET", f"/v1/services/{shipped.name}/env/FEATURE_X/reveal")["value"] == "on"
    )


def test_routing_shows_the_service_routes_and_the_whole_table(
    console: AppTest, shipped: Shipped
) -> None:
    at = open_page(console, "routing", service=shipped.name)
    row = at.dataframe[0].value.iloc[0]
    assert (
        row["router"] == f"{shipped.name}-0@file" and row["host"] == f"{shipped.name}.example.com"
    )
    assert "Not compared: the agent has no MATRX_TRAEFIK_API_URL" in texts(at)
    at = open_page(at, "routes")
    assert f"{shipped.name}-0@file" in list(at.dataframe[0].value["router"])


def test_databases_list_audit_browse_and_query(console: AppTest, shipped: Shipped) -> None:
    at = open_page(console, "databases", db=shipped.name)
    listed = at.dataframe[0].value.set_index("service")
    assert bool(listed.loc[shipped.name, "connects"])
    shown = texts(at)
    assert "orders" in shown  # the schema browser's table list
    at.selectbox(key=f"table-{shipped.name}").select("public.orders").run()
    columns = next(d.value for d in at.dataframe if "nullable" in d.value.columns)
    assert list(columns["name"]) == ["id", "item"]
    at.text_area(key=f"sql-{shipped.name}").input("SELECT 40 + 2 AS answer")
    next(b for b in at.button if b.label == "Run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    result = next(d.value for d in at.dataframe if "answer" in d.value.columns)
    assert str(result["answer"][0]) == "42"
    at.text_area(key=f"sql-{shipped.name}").input("DELETE FROM orders")
    next(b for b in at.button if b.label == "Run").click().run()
    assert "The console only reads" in at.error[0].value


def test_backups_history_and_a_new_backup_followed_live(console: AppTest, shipped: Shipped) -> None:
    at = open_page(console, "backups", service=shipped.name)
    table = at.dataframe[0].value
    assert shipped.backup in list(table["backup"])
    assert table.set_index("backup").loc[shipped.backup, "status"] == "succeeded"
    button(at, "Back up now…").click().run()
    assert "the agent streams its database (a dump)" in texts(at)
    button(at, f"Yes, backup {shipped.name}").click().run()
    done = f"Backup of {shipped.name}: succeeded"
    rerun_until(at, lambda: any(s.value.startswith(done) for s in at.success), 60, "the backup")
    assert any(s.value.startswith(f"Backup of {shipped.name}: succeeded") for s in at.success)
    at.run()
    assert len(at.dataframe[0].value) == 2


def test_a_read_token_sees_release_env_and_database_actions_disabled(
    monkeypatch: pytest.MonkeyPatch, agent: RunningAgent, admin: AgentClient, shipped: Shipped
) -> None:
    token = admin.create_token("console-viewer", "read")["token"]
    console_env(monkeypatch, agent.url, token)
    at = open_page(app_test().run(), "releases", service=shipped.name)
    assert button(at, "Deploy…").disabled
    assert "Building and deploying needs a token with the 'operate' scope" in at.info[0].value
    at = open_page(at, "environment", service=shipped.name)
    assert button(at, "Reveal (audited)").disabled
    assert any("Revealing a value needs a token with the 'admin' scope" in i.value for i in at.info)
    at = open_page(at, "databases", db=shipped.name)
    assert any(
        "The query console needs a token with the 'operate' scope" in i.value for i in at.info
    )
    at = open_page(at, "backups", service=shipped.name)
    assert button(at, "Back up now…").disabled


def test_a_service_missing_from_the_host_is_brought_back_from_the_agent_page(
    console: AppTest, agent: RunningAgent, admin: AgentClient, app_image: str
) -> None:
    name = service_name("gone-")
    admin.create_service(app_spec(name, app_image))
    remove_service_objects(agent.runtime.docker, name)  # as on a wiped host
    console.session_state["_console"].memory.readiness = None  # the sidebar asks again
    at = open_page(console, "agent")
    assert any(e.value.startswith("HOST DOES NOT MATCH THE STORE") for e in at.error), texts(at)
    plan = at.dataframe[0].value.to_dict("records")
    assert {"action": "start", "target": name} in [
        {"action": row["action"], "target": row["target"]} for row in plan
    ]
    button(at, "Reconcile now").click().run()
    assert "databases restored from their newest good backup" in texts(at)
    button(at, "Yes, reconcile this host").click().run()
    rerun_until(
        at, lambda: any(s.value.startswith("Reconcile: succeeded") for s in at.success), 90, "it"
    )
    assert admin.service(name)["status"]["state"] == "running"
    assert admin.reconcile_plan()["nothing_to_do"] is True
    admin.delete_service(name)


def test_records_the_store_refused_are_shown_and_retried_from_the_agent_page(
    console: AppTest, agent: RunningAgent
) -> None:
    agent.runtime.outbox.put_aside("audit", "k-old", {"action": "x"}, "ValidationError: at")
    at = open_page(console, "agent")
    assert "1 record(s) the state store refused are set aside." in texts(at)
    [aside] = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert list(aside["key"]) == ["k-old"]
    button(at, "Retry the set-aside records").click().run()
    assert "Retried 1 set-aside record(s): 0 delivered, 1 still set aside." in texts(at)
    agent.runtime.outbox._db.execute("DELETE FROM set_aside")  # the shared agent, clean again
