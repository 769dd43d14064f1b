"""Start, stop, restart, force-recreate, and one change at a time per service."""

from __future__ import annotations

import threading

import docker
import pytest

from matrx_ship.client import AgentClient, AgentError
from tests.harness import app_spec, wait_for


def test_stop_then_start_answers_when_healthy(
    admin: AgentClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    stopped = admin.lifecycle(svc_name, "stop", grace=5)
    assert stopped["service"]["state"] == "exited"
    assert admin.lifecycle(svc_name, "stop")["steps"] == []  # already stopped: nothing to do
    started = admin.lifecycle(svc_name, "start")
    assert started["health"]["healthy"] is True
    assert started["service"]["state"] == "running"


def test_restart_keeps_the_container_and_counts(
    admin: AgentClient, app_image: str, svc_name: str
) -> None:
    first = admin.create_service(app_spec(svc_name, app_image))["service"]["current"]
    again = admin.lifecycle(svc_name, "restart")
    assert again["health"]["healthy"] is True
    cur = again["service"]["current"]
    assert cur["id"] == first["id"] and cur["started_at"] != first["started_at"]


def test_recreate_replaces_the_container_from_the_spec(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    first = admin.create_service(app_spec(svc_name, app_image))["service"]["current"]
    docker_client.containers.get(first["id"]).exec_run(["sh", "-c", "echo drift > /www/x"])
    recreated = admin.lifecycle(svc_name, "recreate")
    cur = recreated["service"]["current"]
    assert cur["id"] != first["id"] and cur["labels"]["matrx.generation"] == "2"
    code, _ = docker_client.containers.get(cur["id"]).exec_run(["test", "-e", "/www/x"])
    assert code == 1
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(first["id"])


def test_a_second_change_while_one_runs_is_refused_with_its_holder(
    admin: AgentClient,
    agent,
    app_image: str,
    svc_name: str,  # type: ignore[no-untyped-def]
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    other = agent.client()
    errors: list[AgentError] = []

    def slow_stop() -> None:
        other.lifecycle(svc_name, "stop", grace=3)

    # A container that ignores SIGTERM makes 'stop' hold the lock for the grace period.
    admin.update_service(
        app_spec(
            svc_name,
            app_image,
            command=["sh", "-c", "trap '' TERM; /app/start.sh & while true; do sleep 1; done"],
        )
    )
    t = threading.Thread(target=slow_stop)
    t.start()
    wait_for(lambda: svc_name in agent.runtime.locks.holders(), 10, "the stop to hold the lock")
    try:
        admin.lifecycle(svc_name, "restart")
    except AgentError as exc:
        errors.append(exc)
    t.join()
    assert len(errors) == 1
    err = errors[0]
    assert err.status == 409 and err.code == "service_busy"
    assert err.detail["action"] == "stop" and err.detail["held_by"] == "bootstrap-admin"
    assert admin.service(svc_name)["status"]["state"] == "exited"


def test_lifecycle_of_an_unknown_service_is_404(admin: AgentClient) -> None:
    for action in ("start", "stop", "restart", "recreate"):
        with pytest.raises(AgentError) as info:
            admin.lifecycle("t-ghost", action)
        assert info.value.status == 404 and info.value.hint
