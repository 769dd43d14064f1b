"""The health probe against a real agent, a real manager container and moto's SNS."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import docker
import httpx
import pytest
from aws_lambda_powertools import Metrics

from lambdas.common.ladder import Thresholds
from lambdas.common.records import ProbeResult, ProbeStore
from lambdas.health_probe import handler
from lambdas.health_probe.probe import RoundReport, Runner, run_round
from lambdas.health_probe.settings import ProbeSettings, get_settings
from matrx_ship.client import AgentClient
from tests.harness import RunningAgent, engines
from tests.lambdas.conftest import (
    BROKEN_CONSOLE,
    Aws,
    FakeLambdaContext,
    Inbox,
    Manager,
    manager_spec,
    scheduled_event,
)

PREFIX = "[matrx testhost] "


@pytest.fixture
def settings(
    probe_env: dict[str, str], manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProbeSettings]:
    monkeypatch.setenv("MATRX_MANAGER_SERVICE", manager.name)
    monkeypatch.setenv("MATRX_MANAGER_CONSOLE_URL", manager.console_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def new_runner() -> Runner:
    get_settings.cache_clear()
    runner = Runner.build(get_settings(), Metrics(service="health_probe"))
    runner.deadline = time.monotonic() + 300
    return runner


def rounds(
    runner: Runner, most: int, until: Callable[[RoundReport], bool] = lambda _: False
) -> list[RoundReport]:
    """Probe rounds `interval_s` apart, as one invocation runs them, until `until` holds."""
    reports: list[RoundReport] = []
    for _ in range(most):
        reports.append(run_round(runner))
        Metrics(service="health_probe").flush_metrics()
        if until(reports[-1]):
            break
        time.sleep(runner.settings.interval_s)  # the cadence under test, as the Lambda waits
    return reports


def state_of(report: RoundReport, target: str) -> str | None:
    return next((x.get("state") for x in report.results if x["target"] == target), None)


def steps(reports: list[RoundReport]) -> list[str]:
    return [f"{s['target']}:{s['step']}" for r in reports for s in r.steps if not s["hold"]]


def recovered(report: RoundReport) -> bool:
    return any(s["step"] == "recovered" for s in report.steps)


def audit_trail(
    admin: AgentClient, target: str, since: datetime | None = None
) -> list[tuple[str, str]]:
    """What the agent's audit log shows the deploy tier did to `target`, oldest first."""
    after = since.isoformat() if since else None
    events = admin.audit(actor="deploy-tier", target=target, since=after, limit=200)["events"]
    return [(e["action"], e["outcome"]) for e in reversed(events)]


def kill(admin: AgentClient, docker_client: docker.DockerClient, name: str) -> None:
    container_id = admin.service(name)["status"]["current"]["id"]
    docker_client.containers.get(container_id).kill()


def emf_documents(text: str) -> list[dict[str, Any]]:
    docs = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            docs.append(doc)
    return docs


def deliver_emf(cloudwatch: Any, doc: dict[str, Any]) -> None:
    """What CloudWatch Logs does with an EMF line: one datum per metric and dimension set."""
    at = datetime.fromtimestamp(doc["_aws"]["Timestamp"] / 1000, UTC)
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for keys in directive["Dimensions"]:
            dims = [{"Name": k, "Value": str(doc[k])} for k in keys]
            data = [
                {"MetricName": m["Name"], "Dimensions": dims, "Value": float(v), "Timestamp": at}
                for m in directive["Metrics"]
                for v in (doc[m["Name"]] if isinstance(doc[m["Name"]], list) else [doc[m["Name"]]])
            ]
            cloudwatch.put_metric_data(Namespace=directive["Namespace"], MetricData=data)


def test_a_healthy_system_is_recorded_and_reported_to_the_alarms(
    settings: ProbeSettings,
    probe_db: ProbeStore,
    inbox: Inbox,
    aws: Aws,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer = handler.handler(scheduled_event(), FakeLambdaContext(budget_s=8))
    n = answer["rounds"]  # one round a second for the invocation's ~4 s budget
    assert n >= 2 and answer["verdict"] == "ok" and answer["manager_down"] is False
    assert answer["steps"] == []
    states = {t.target: t.state.value for t in probe_db.targets()}
    assert states == {"agent": "healthy", "manager": "healthy"}  # no spec has a route
    assert [r["status"] for r in probe_db.results(target="manager")] == ["ok"] * n
    assert inbox.messages() == []

    docs = emf_documents(capsys.readouterr().out)
    assert len(docs) == n  # one per round, each with its own timestamp
    for doc in docs:
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MatrxShip"
        assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
        assert (doc["service"], doc["ManagerDown"], doc["ProbeFailures"]) == (
            "health_probe",
            [0.0],
            [0.0],
        )
    cloudwatch = aws.client("cloudwatch")
    for doc in docs:
        deliver_emf(cloudwatch, doc)
    # The alarm's own query (cdk/monitoring.py): namespace, name and the service dimension.
    stats = cloudwatch.get_metric_statistics(
        Namespace="MatrxShip",
        MetricName="ManagerDown",
        Dimensions=[{"Name": "service", "Value": "health_probe"}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )
    assert sum(p["SampleCount"] for p in stats["Datapoints"]) == n
    assert max(p["Maximum"] for p in stats["Datapoints"]) == 0


def test_a_killed_manager_is_detected_restarted_and_every_step_is_audited_and_sent(
    settings: ProbeSettings,
    manager: Manager,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    inbox: Inbox,
) -> None:
    kill(admin, docker_client, manager.name)
    reports = rounds(new_runner(), 8, until=recovered)

    assert [state_of(r, "manager") for r in reports] == ["degraded", "down", "down", "healthy"]
    assert [r.manager_down for r in reports] == [False, True, True, False]
    assert steps(reports) == ["manager:alert", "manager:restart", "manager:recovered"]
    assert inbox.subjects() == [
        PREFIX + "Manager down: restarting it",
        PREFIX + "Manager restarted: healthy",
        PREFIX + "Manager recovered",
    ]
    assert "https://runbooks.example/manager-down" in inbox.messages()[0]["Message"]
    assert audit_trail(admin, manager.name) == [
        ("probe.alert", "allowed"),
        ("POST /v1/services/{name}/restart", "allowed"),
        ("probe.restart", "allowed"),
        ("probe.recovered", "allowed"),
    ]
    assert httpx.get(manager.console_url).status_code == 200
    assert admin.service(manager.name)["status"]["state"] == "running"


def release(admin: AgentClient, name: str, image: str) -> str:
    """Register a local image as a release of `name` and deploy it; its id."""
    job = admin.request("POST", f"/v1/services/{name}/releases", json={"image": image})
    assert admin.wait_job(job["id"], 120)["status"] == "succeeded"
    release_id = str(admin.releases(name)[0]["id"])
    assert admin.wait_job(admin.deploy(name, release_id)["id"], 120)["status"] == "succeeded"
    return release_id


@pytest.fixture(scope="module")
def broken_console_image(docker_client: docker.DockerClient, app_image: str) -> str:
    """The test app, but its console serves nothing on `/` (its health check passes)."""
    dockerfile = f"FROM {app_image}\nCMD {json.dumps(BROKEN_CONSOLE)}\n"
    tag = app_image.replace("busybox-app", "busybox-broken-console")
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return tag


def test_a_manager_that_a_restart_cannot_fix_is_rolled_back_to_its_last_healthy_release(
    settings: ProbeSettings,
    manager: Manager,
    admin: AgentClient,
    app_image: str,
    broken_console_image: str,
    inbox: Inbox,
) -> None:
    good = release(admin, manager.name, app_image)
    bad = release(admin, manager.name, broken_console_image)
    assert httpx.get(manager.console_url).status_code == 404
    reports = rounds(new_runner(), 10, until=recovered)

    assert steps(reports) == [
        "manager:alert",
        "manager:restart",
        "manager:rollback",
        "manager:recovered",
    ]
    rolled = next(s for r in reports for s in r.steps if s["step"] == "rollback")
    assert (rolled["detail"]["from_release"], rolled["detail"]["to_release"]) == (bad, good)
    trail = audit_trail(admin, manager.name)
    assert ("POST /v1/services/{name}/rollback", "allowed") in trail
    assert ("probe.rollback", "allowed") in trail
    assert PREFIX + "Manager rollback: done" in inbox.subjects()
    assert httpx.get(manager.console_url).status_code == 200
    assert [r["id"] for r in admin.releases(manager.name) if r["live"]] == [good]


def test_when_restart_and_rollback_do_not_help_a_human_is_asked_once_with_the_runbook(
    probe_env: dict[str, str],
    admin: AgentClient,
    app_image: str,
    svc_name: str,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = engines.free_port()
    admin.create_service(manager_spec(svc_name, app_image, port, command=BROKEN_CONSOLE))
    monkeypatch.setenv("MATRX_MANAGER_SERVICE", svc_name)
    monkeypatch.setenv("MATRX_MANAGER_CONSOLE_URL", f"http://127.0.0.1:{port}/")
    runner = new_runner()
    reports = rounds(runner, 8, until=lambda r: any(s["step"] == "human" for s in r.steps))
    reports += rounds(runner, 2)  # the ladder is done: nothing more happens

    assert steps(reports) == [
        "manager:alert",
        "manager:restart",
        "manager:rollback",
        "manager:human",
    ]
    subjects = inbox.subjects()
    assert subjects[-1] == PREFIX + "Manager down: needs a human" and len(subjects) == 4
    assert subjects[2].startswith(PREFIX + "Manager rollback")
    last = inbox.messages()[-1]["Message"]
    assert "Runbook: https://runbooks.example/manager-down" in last
    assert "restart (ok), rollback (failed)" in last
    assert [a for a, _ in audit_trail(admin, svc_name) if a.startswith("probe.")] == [
        "probe.alert",
        "probe.restart",
        "probe.rollback",
        "probe.human",
    ]


def test_two_overlapping_runs_escalate_only_once(
    settings: ProbeSettings,
    manager: Manager,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    inbox: Inbox,
) -> None:
    kill(admin, docker_client, manager.name)
    runners = [new_runner(), new_runner()]
    start = threading.Barrier(2)
    reports: dict[int, list[RoundReport]] = {0: [], 1: []}

    def run(i: int) -> None:
        for _ in range(6):
            start.wait(30)
            reports[i].append(run_round(runners[i]))
            time.sleep(runners[i].settings.interval_s)  # the cadence under test

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert inbox.subjects() == [
        PREFIX + "Manager down: restarting it",
        PREFIX + "Manager restarted: healthy",
        PREFIX + "Manager recovered",
    ]
    trail = audit_trail(admin, manager.name)
    assert trail.count(("POST /v1/services/{name}/restart", "allowed")) == 1
    assert [a for a, _ in trail if a.startswith("probe.")] == [
        "probe.alert",
        "probe.restart",
        "probe.recovered",
    ]
    taken = steps(reports[0]) + steps(reports[1])
    assert sorted(taken) == ["manager:alert", "manager:recovered", "manager:restart"]


def test_a_broken_proxy_is_told_apart_and_the_manager_is_restarted_over_break_glass(
    settings: ProbeSettings,
    manager: Manager,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    breakglass: tuple[str, str],
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, pin = breakglass
    monkeypatch.setenv("MATRX_AGENT_URL", f"http://127.0.0.1:{engines.free_port()}")  # proxy gone
    monkeypatch.setenv("MATRX_BREAKGLASS_URL", url)
    monkeypatch.setenv(
        "MATRX_BREAKGLASS_CERT_SHA256", ":".join(pin[i : i + 2] for i in range(0, 64, 2))
    )
    kill(admin, docker_client, manager.name)
    reports = rounds(new_runner(), 8, until=recovered)

    assert {r.verdict for r in reports} == {"proxy_broken"}
    agent_lines = [x for x in reports[0].results if x["target"] == "agent"]
    assert agent_lines[0]["path"] == "breakglass" and agent_lines[0]["status"] == "fail"
    assert steps(reports)[:3] == ["agent:alert", "manager:alert", "manager:restart"]
    subjects = inbox.subjects()
    assert PREFIX + "Proxy down: the agent answers only on break-glass" in subjects
    assert PREFIX + "Manager restarted: healthy" in subjects
    proxy = next(m for m in inbox.messages() if m["Subject"].startswith(PREFIX + "Proxy down"))
    assert "Runbook: https://runbooks.example/traefik-routing-broken" in proxy["Message"]
    assert ("POST /v1/services/{name}/restart", "allowed") in audit_trail(admin, manager.name)
    assert httpx.get(manager.console_url).status_code == 200


def test_a_host_that_answers_on_no_path_goes_straight_to_the_disaster_recovery_alert(
    probe_env: dict[str, str],
    admin: AgentClient,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead = [f"127.0.0.1:{engines.free_port()}" for _ in range(3)]
    monkeypatch.setenv("MATRX_AGENT_URL", f"https://{dead[0]}")
    monkeypatch.setenv("MATRX_BREAKGLASS_URL", f"https://{dead[1]}")
    monkeypatch.setenv("MATRX_BREAKGLASS_CERT_SHA256", "ab" * 32)
    monkeypatch.setenv("MATRX_MANAGER_CONSOLE_URL", f"https://{dead[2]}/")
    started = datetime.now(UTC)
    reports = rounds(new_runner(), 4)

    assert {r.verdict for r in reports} == {"host_unreachable"}
    assert [r.manager_down for r in reports] == [False, True, True, True]
    assert steps(reports) == ["agent:alert"]  # no restart is tried: nothing could take it
    assert inbox.subjects() == [PREFIX + "Host unreachable: disaster recovery"]
    assert "Runbook: https://runbooks.example/disaster-recovery" in inbox.messages()[0]["Message"]
    assert audit_trail(admin, "agent", since=started) == [("probe.alert", "allowed")]


def test_routes_seen_before_are_still_probed_while_the_agent_cannot_list_them(
    probe_env: dict[str, str],
    manager: Manager,
    probe_db: ProbeStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live, dead = f"{manager.console_url}healthz", f"http://127.0.0.1:{engines.free_port()}/"
    for url in (live, dead):  # what an earlier round recorded from the agent's route list
        probe_db.record(
            ProbeResult(target=f"route:{url}", kind="route", ok=True, url=url),
            run_id="earlier",
            thresholds=Thresholds(),
        )
    monkeypatch.setenv("MATRX_AGENT_URL", f"http://127.0.0.1:{engines.free_port()}")
    monkeypatch.setenv("MATRX_MANAGER_CONSOLE_URL", manager.console_url)
    report = rounds(new_runner(), 1)[0]

    lines = {x["target"]: (x["status"], x["state"]) for x in report.results}
    assert lines[f"route:{live}"] == ("ok", "healthy")
    assert lines[f"route:{dead}"] == ("fail", "degraded")
    assert report.failures == 2  # the agent and the dead route: what ProbeFailures says


def test_the_command_line_runs_one_round(
    settings: ProbeSettings, agent: RunningAgent, probe_env: dict[str, str]
) -> None:
    env = {**os.environ, "MATRX_MANAGER_SERVICE": settings.manager_service}
    env["MATRX_MANAGER_CONSOLE_URL"] = settings.manager_console_url
    done = subprocess.run(
        [sys.executable, "-m", "lambdas.health_probe.probe", "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["verdict"] == "ok" and report["failures"] == 0
    assert {x["target"]: x["status"] for x in report["results"]} == {"agent": "ok", "manager": "ok"}
