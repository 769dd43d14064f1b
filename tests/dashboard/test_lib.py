"""The console's pure helpers: formatting, scopes, problems, navigation plans, actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.lib import changes, docs, fmt, jobs, nav, rows, terminal
from dashboard.lib.access import Identity
from dashboard.lib.actions import ACTIONS, action, summary
from dashboard.lib.logquery import LogQuery, as_text, newest_first
from dashboard.lib.memory import ResourceHistory, Snapshot
from dashboard.lib.problems import open_problems
from dashboard.settings import ConsoleSettings
from matrx_ship.models import Scope

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def running(name: str = "web", **current: object) -> dict[str, object]:
    base = {
        "name": f"{name}--g1-abcd",
        "state": "running",
        "health": "healthy",
        "restart_count": 0,
        "exit_code": 0,
        "oom_killed": False,
        "error": None,
        "resources": {"memory_percent": 10.0},
    }
    return {
        "name": name,
        "kind": "app",
        "image": "img:1",
        "state": "running",
        "health": "healthy",
        "current": {**base, **current},
    }


def test_fmt_reads_like_a_person_would_say_it() -> None:
    assert fmt.size(512) == "512 B"
    assert fmt.size(1536) == "1.5 KiB"
    assert fmt.size(300 * 2**20) == "300 MiB"
    assert fmt.duration(59) == "59 s"
    assert fmt.duration(3 * 86400 + 4 * 3600 + 5) == "3 d 4 h"
    assert fmt.when("2026-11-27T00:31:24.960171151Z") == "2026-11-27 00:31:24 UTC"
    assert fmt.ago(NOW - timedelta(minutes=5, seconds=3), now=NOW) == "5 min 3 s ago"
    assert fmt.when(None) == "—" and fmt.size(None) == "—"


def test_a_scope_too_small_says_who_and_what_is_needed() -> None:
    reader = Identity("alice", Scope.read)
    assert reader.why_not(Scope.operate, "Restart") == (
        "Restart needs a token with the 'operate' scope; you are signed in as 'alice' (read)."
    )
    assert Identity("root", Scope.admin).why_not(Scope.admin, "The terminal") is None


def test_open_problems_name_what_is_wrong() -> None:
    assert open_problems(running()) == []
    bad = running(
        state="exited",
        exit_code=3,
        oom_killed=True,
        restart_count=4,
        health="unhealthy",
        last_check={"output": "connection refused"},
    )
    problems = open_problems(bad)
    assert "web is exited with exit code 3; read its logs, then start it (Actions)." in problems
    assert "web fails its health check: connection refused" in problems
    assert "web was killed for lack of memory (OOM)." in problems
    assert "Docker restarted web 4 time(s) since it was created." in problems
    assert open_problems({"name": "db", "current": None}) == [
        "db has no container: recreate it from its spec (Actions)."
    ]


def test_deploy_scope_puts_the_manager_first_and_manager_scope_does_not() -> None:
    deploy = nav.plan("deploy", agent_up=True, signed_in=True, has_store=False, manager="m")
    assert list(deploy) == ["Manager", "Services", "Infrastructure", "History", "Docs"]
    assert [p.url_path for p in deploy["Manager"]] == [
        "manager",
        "manager-logs",
        "manager-terminal",
        "manager-actions",
        "manager-releases",
        "manager-environment",
        "manager-routing",
        "manager-backups",
    ]
    assert all(p.pinned for p in deploy["Manager"])
    infrastructure = [p.url_path for p in deploy["Infrastructure"]]
    assert infrastructure[-3:] == ["routes", "local-state", "databases"]
    assert [p.url_path for p in deploy["History"]] == ["deployments", "audit"]
    manager = nav.plan("manager", agent_up=True, signed_in=True, has_store=True, manager="m")
    assert list(manager) == ["Services", "Databases", "Infrastructure", "History", "Docs"]
    assert [p.url_path for p in manager["Services"]] == [
        "services",
        "overview",
        "logs",
        "terminal",
        "actions",
        "releases",
        "environment",
        "routing",
        "backups",
    ]
    assert [p.url_path for p in manager["Databases"]] == ["databases"]
    assert "databases" not in [p.url_path for p in manager["Infrastructure"]]


def test_without_a_token_only_sign_in_and_docs_are_offered() -> None:
    plan = nav.plan("deploy", agent_up=True, signed_in=False, has_store=True, manager=None)
    assert [p.url_path for s in plan.values() for p in s] == ["sign-in", "docs"]


def test_agent_down_puts_recovery_first_and_keeps_what_the_store_shows() -> None:
    plan = nav.plan("deploy", agent_up=False, signed_in=True, has_store=True, manager="m")
    assert list(plan) == ["Recovery", "Manager", "Services", "History", "Docs"]
    assert [p.url_path for p in plan["Services"]] == ["services", "overview"]
    bare = nav.plan("manager", agent_up=False, signed_in=True, has_store=True, manager="m")
    assert list(bare) == ["Recovery", "Docs"]


def test_every_planned_page_file_exists() -> None:
    root = Path(nav.__file__).resolve().parents[1]
    specs = nav.manager_pages() + nav.service_pages() + nav.INFRASTRUCTURE
    extra = [nav.AUDIT, nav.DEPLOYMENTS, nav.DATABASES, nav.DOCS, nav.RECOVERY, nav.SIGN_IN]
    for spec in [*specs, *extra]:
        assert (root / spec.file).is_file(), spec.file


def test_each_action_says_what_will_happen_to_this_service() -> None:
    svc = running("web")
    text = action("recreate").describe(svc)
    assert "beside container `web--g1-abcd`" in text and "old one keeps serving" in text
    assert "nothing will change" in action("start").describe(svc)
    stopped = {**svc, "state": "exited"}
    assert "nothing will change" in action("stop").describe(stopped)
    assert "creates one from the stored spec" in action("start").describe({**svc, "current": None})
    assert all(a.needs is Scope.operate for a in ACTIONS)


def test_an_action_result_is_summed_up_in_one_sentence() -> None:
    result = {
        "steps": [{"action": "restart", "target": "web--g1"}],
        "health": {"healthy": True, "seconds": 1.2},
        "service": {"state": "running"},
    }
    assert (
        summary(result) == "Done: restart web--g1; healthy after 1.2 s. The service is now running."
    )


def test_log_queries_leave_out_empty_filters() -> None:
    since = datetime(2026, 11, 27, tzinfo=UTC)
    q = LogQuery(text="boom", stream="stderr", since=since, tail=50, ignore_case=True)
    assert q.params() == {
        "tail": 50,
        "stream": "stderr",
        "q": "boom",
        "ignore_case": "true",
        "since": "2026-11-27T00:00:00+00:00",
    }
    assert LogQuery().params() == {"tail": 200, "stream": "all"}
    lines = [
        {"ts": "2026-11-27T00:00:01.123456789Z", "stream": "stdout", "text": "a"},
        {"ts": "2026-11-27T00:00:02.5Z", "stream": "stderr", "text": "b"},
    ]
    assert as_text(lines).splitlines()[0] == "2026-11-27T00:00:01.123456789Z stdout a"
    assert newest_first(lines).splitlines()[0].endswith("b")


def test_history_keeps_one_row_per_sample_and_forgets_old_ones() -> None:
    history = ResourceHistory(timedelta(hours=1))
    for minutes in (0, 30, 30, 90):
        svc = running(
            resources={
                "cpu_percent": 1.0,
                "memory_bytes": 2**20,
                "sampled_at": (NOW + timedelta(minutes=minutes)).isoformat(),
            }
        )
        history.record([svc])
    rows = history.rows("web")
    assert [r["at"] for r in rows] == [NOW + timedelta(minutes=30), NOW + timedelta(minutes=90)]
    assert rows[0]["memory_mib"] == 1.0


def test_snapshot_finds_the_manager() -> None:
    snap = Snapshot([running("a"), {**running("m"), "kind": "manager"}], [], NOW)
    assert snap.manager() == "m" and snap.find("a") is not None and snap.find("x") is None


def test_doc_links_become_console_links() -> None:
    text = "see [Agent down](agent-down.md) and [env](../env.md#x) and [web](https://a.b/c.md)"
    out = docs.render_links(text, "runbooks/disaster-recovery")
    assert "(/docs?doc=runbooks/agent-down)" in out
    assert "(/docs?doc=env#x)" in out
    assert "(https://a.b/c.md)" in out
    keys = [d.key for d in docs.all_docs()]
    assert docs.DISASTER_RECOVERY in keys and "architecture" in keys
    assert keys.index("architecture") < keys.index("runbooks/README")
    assert keys.index("runbooks/README") < keys.index(docs.DISASTER_RECOVERY)


def test_the_browser_gets_a_ticket_url_never_a_token(tmp_path: Path, xterm: None) -> None:
    url = terminal.exec_url("wss://agent.example", "web", "tkt_abc", "/bin/sh", 80, 24)
    assert (
        url
        == "wss://agent.example/v1/services/web/exec?ticket=tkt_abc&shell=%2Fbin%2Fsh&cols=80&rows=24"
    )
    with pytest.raises(terminal.AssetsMissing, match=r"xterm\.js is not installed"):
        terminal.assets.__wrapped__(tmp_path)
    html = terminal.page(url, "web")
    assert "new Terminal(" in html and json_str(url) in html and "Bearer" not in html


def json_str(value: str) -> str:
    return '"' + value + '"'


def test_settings_derive_the_browser_websocket_and_refuse_placeholders() -> None:
    s = ConsoleSettings(agent_url="https://agent.example/")  # type: ignore[call-arg]
    assert s.websocket_base == "wss://agent.example"
    s = ConsoleSettings(
        agent_url="http://agent.internal:8700", browser_agent_url="http://127.0.0.1:9"
    )  # type: ignore[call-arg]
    assert s.websocket_base == "ws://127.0.0.1:9"
    with pytest.raises(ValueError, match="placeholder"):
        ConsoleSettings(token="changeme")  # type: ignore[call-arg,arg-type]
    with pytest.raises(ValueError, match="http"):
        ConsoleSettings(agent_url="agent:8700")  # type: ignore[call-arg]


def test_table_rows_read_like_the_status() -> None:
    row = rows.service(running("web", uptime_s=125, resources={"cpu_percent": 2.5}))
    assert row == {
        "service": "web",
        "kind": "app",
        "state": "running · healthy",
        "uptime": "2 min 5 s",
        "restarts": 0,
        "CPU": "2.5 %",
        "memory": "—",
        "image": "img:1",
        "problems": 0,
    }
    event = {
        "id": 7,
        "at": "2026-11-27T00:00:00Z",
        "actor": "ops",
        "action": "POST /v1/x",
        "target": "web",
        "outcome": "denied",
        "status": 403,
        "detail": {"error": "forbidden"},
    }
    assert rows.audit_event(event)["detail"] == "error=forbidden"
    assert rows.state_label("exited", "none") == "exited"


def test_release_and_backup_confirmations_name_what_will_happen() -> None:
    live = {"id": "rel_000000000001", "commit_sha": "a" * 40, "message": "one\nbody"}
    target = {"id": "rel_000000000002", "commit_sha": "b" * 40, "message": "two"}
    text = changes.deploy("web", target, live)
    assert text.startswith(
        "**Deploy `rel_000000000002` (bbbbbbbbbbbb “two”) to web**, replacing "
        "`rel_000000000001` (aaaaaaaaaaaa “one”)"
    )
    assert "the old one keeps serving and nothing changes" in text
    assert "the previous release that was healthy" in changes.rollback("web", None, live)
    assert "at the head of `main`" in changes.build("web", "", "main")
    assert "set `A` and remove `B`" in changes.env_change("web", ["A"], ["B"])
    assert changes.dotenv_keys("# c\nexport A=1\nB = 2\nnot a line\n") == ["A", "B"]
    restore = changes.restore({"id": "bak_1", "service": "web", "size": 2048}, keep_old=True)
    assert "**Restore web from backup `bak_1`**" in restore and "is kept, renamed," in restore


def test_job_progress_reads_like_a_person_would_say_it() -> None:
    job = {
        "status": "succeeded",
        "started_at": "2024-05-01T10:00:00Z",
        "finished_at": "2024-05-01T10:00:08Z",
        "result": {"deployment": "dep_1", "seconds": 7.5},
    }
    assert jobs.status_line(job) == "succeeded in 8 s"
    assert jobs.result_line(job) == "deployment `dep_1` · 7.5 s"
    events = [
        {"kind": "step", "step": "pull", "percent": 10},
        *({"kind": "log", "line": f"line {i}"} for i in range(10)),
        {"kind": "end", "status": "succeeded"},
    ]
    assert jobs.log_lines(events, 3) == ["line 7", "line 8", "line 9"]
    assert jobs.log_lines(events[:2]) == ["» pull (10 %)", "line 0"]


def test_routes_and_backups_read_like_the_report() -> None:
    route = {
        "service": "web",
        "router": "web-0@file",
        "host": "web.example.com",
        "path_prefix": None,
        "port": 8080,
        "entrypoint": "websecure",
        "upstream": "http://web:8080",
        "loaded": False,
        "check": {"ok": False, "status": 404, "latency_ms": 3.2},
    }
    row = rows.route(route)
    assert (row["in Traefik"], row["request"], row["latency"]) == (
        "missing",
        "FAILED: 404",
        "3.2 ms",
    )
    backup = {"id": "bak_1", "status": "succeeded", "size": 1536, "parts": [{"kind": "database"}]}
    assert rows.backup(backup)["verified"] == "not verified"
    checked = backup | {"verification": {"ok": True}, "verified_at": "2024-05-01T10:00:00Z"}
    assert rows.backup(checked)["verified"] == "ok 2024-05-01 10:00:00 UTC"


def test_a_deploy_that_did_not_end_well_is_an_open_problem_with_its_reason() -> None:
    from dashboard.lib.problems import deploy_problem

    failed = {
        "outcome": "failed",
        "to_release": "rel_2",
        "evidence": {"health": {"reason": "not healthy after 30 s", "logs": ["a", "b", "boom"]}},
    }
    assert deploy_problem(failed) == (
        "The last deploy (rel_2) failed: not healthy after 30 s; last lines: a | b | boom. "
        "See Deployments; fix and deploy again."
    )
    watched = {
        "outcome": "rolled_back",
        "to_release": "rel_3",
        "evidence": {"watch": {"reason": "the container exited with code 4", "logs": []}},
    }
    assert deploy_problem(watched) == (
        "The last deploy (rel_3) rolled back by the watch: the container exited with code 4. "
        "See Deployments; fix and deploy again."
    )
    assert deploy_problem({"outcome": "succeeded", "to_release": "rel_4"}) is None
    assert deploy_problem(None) is None
