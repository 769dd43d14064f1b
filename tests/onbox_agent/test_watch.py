"""The watch after a deploy, over the real engine: a release that degrades after passing its
health gate is rolled back to the one before; one that stays healthy is promoted."""

from __future__ import annotations

from typing import Any

import docker

from matrx_ship.client import AgentClient
from tests.harness import GitApp, source_spec, wait_for
from tests.onbox_agent.test_releases import built, deployed


def deployment(admin: AgentClient, name: str, release_id: str) -> dict[str, Any]:
    return next(d for d in admin.deployments(service=name) if d["to_release"] == release_id)


def live_release(client: docker.DockerClient, name: str) -> str | None:
    running = client.containers.list(filters={"label": f"matrx.service={name}"})
    return running[0].labels.get("matrx.release") if len(running) == 1 else None


def two_releases(
    admin: AgentClient, git_app: GitApp, app_image: str, name: str, env: str, **spec: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Release 1 live, then release 2 (built with ``env``) deployed through the gate."""
    git_app.commit("1.0.0")
    admin.create_service(source_spec(name, app_image, git_app.path, **spec))
    one = built(admin, name)
    deployed(admin, name, one["id"])
    git_app.commit("2.0.0", env=env)
    two = built(admin, name)
    done = deployed(admin, name, two["id"])
    assert done["result"]["watch_s"] > 0
    return one, two


def test_a_release_that_turns_unhealthy_after_going_live_is_rolled_back(
    admin: AgentClient,
    docker_client: docker.DockerClient,
    git_app: GitApp,
    app_image: str,
    svc_name: str,
) -> None:
    watch = {"window_s": 90, "interval_s": 1, "unhealthy_checks": 3}
    one, two = two_releases(
        admin, git_app, app_image, svc_name, "ENV UNHEALTHY_AFTER=4", watch=watch
    )
    wait_for(
        lambda: deployment(admin, svc_name, two["id"])["outcome"] == "rolled_back",
        60,
        "the watch to roll the release back",
    )
    bad = deployment(admin, svc_name, two["id"])["evidence"]["watch"]
    assert bad["reason"] == "it failed its health check 3 times in a row", bad
    wait_for(lambda: live_release(docker_client, svc_name) == one["id"], 60, "release 1 live")
    back = admin.deployments(service=svc_name)[0]
    assert (back["kind"], back["actor"], back["to_release"], back["outcome"]) == (
        "rollback",
        "deploy-watch",
        one["id"],
        "succeeded",
    )
    [event] = admin.audit(target=svc_name, action="deploy.watch.rollback")["events"]
    assert event["detail"]["reason"] == bad["reason"] and event["detail"]["back_to"] == one["id"]


def test_a_release_whose_container_keeps_restarting_is_rolled_back(
    admin: AgentClient,
    docker_client: docker.DockerClient,
    git_app: GitApp,
    app_image: str,
    svc_name: str,
) -> None:
    watch = {"window_s": 90, "interval_s": 1}
    one, two = two_releases(
        admin,
        git_app,
        app_image,
        svc_name,
        "ENV EXIT_AFTER=4",
        watch=watch,
        restart_policy="always",
    )
    wait_for(
        lambda: deployment(admin, svc_name, two["id"])["outcome"] == "rolled_back",
        60,
        "the watch to roll the release back",
    )
    reason = deployment(admin, svc_name, two["id"])["evidence"]["watch"]["reason"]
    assert reason.startswith(("the container restarted", "the container exited")), reason
    wait_for(lambda: live_release(docker_client, svc_name) == one["id"], 60, "release 1 live")


def test_a_release_that_stays_healthy_is_promoted_and_its_standby_kept(
    admin: AgentClient,
    docker_client: docker.DockerClient,
    git_app: GitApp,
    app_image: str,
    svc_name: str,
) -> None:
    watch = {"window_s": 4, "interval_s": 1}
    one, two = two_releases(admin, git_app, app_image, svc_name, "", watch=watch)
    wait_for(
        lambda: (deployment(admin, svc_name, two["id"])["evidence"].get("watch") or {}).get(
            "promoted"
        ),
        30,
        "the watch to promote the release",
    )
    assert deployment(admin, svc_name, two["id"])["outcome"] == "succeeded"
    assert live_release(docker_client, svc_name) == two["id"]
    standby = docker_client.containers.list(
        all=True, filters={"label": [f"matrx.service={svc_name}", f"matrx.release={one['id']}"]}
    )
    assert [c.status for c in standby] == ["exited"]  # kept stopped, for a fast rollback
