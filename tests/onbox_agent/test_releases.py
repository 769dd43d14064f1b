"""Builds from git, releases, pending changes, atomic deploys, rollback, history."""

from __future__ import annotations

import hashlib
from typing import Any

import docker
import pytest

from matrx_ship.client import AgentClient, AgentError
from tests.harness import GitApp, RunningAgent, source_spec


def built(admin: AgentClient, name: str, ref: str | None = None) -> dict[str, Any]:
    job = admin.wait_job(admin.build(name, ref)["id"], timeout=120)
    assert job["status"] == "succeeded", job
    return job["result"]["release"]


def deployed(admin: AgentClient, name: str, release_id: str) -> dict[str, Any]:
    job = admin.deploy(name, release_id)
    done = admin.wait_job(job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    return done


def containers(client: docker.DockerClient, name: str) -> dict[str, Any]:
    return {
        c.name: c
        for c in client.containers.list(all=True, filters={"label": f"matrx.service={name}"})
    }


def test_build_records_a_release_with_log_and_archive(
    agent: RunningAgent, admin: AgentClient, app_image: str, git_app: GitApp, svc_name: str
) -> None:
    sha = git_app.commit("1", "first release")
    admin.create_service(source_spec(svc_name, app_image, git_app.path))
    job = admin.build(svc_name)
    events = list(admin.job_events(job["id"]))
    assert events[-1]["kind"] == "end" and events[-1]["status"] == "succeeded"
    assert any(e["kind"] == "step" and "building" in e["step"] for e in events)
    assert any(e["kind"] == "log" and "APP_VERSION" in e["line"] for e in events)
    release = admin.job(job["id"])["result"]["release"]
    assert release["commit_sha"] == sha and release["message"] == "first release"
    assert release["author"] == "Dev Person <dev@example.com>"
    assert release["image"] == f"matrx/{svc_name}:{sha[:12]}" and release["size_bytes"] > 0
    assert release["status"] == "ready" and release["started_by"] == "bootstrap-admin"
    assert "APP_VERSION" in admin.build_log(release["id"])
    blob = agent.runtime.blobs.open(release["archive_key"]).read()
    assert hashlib.sha256(blob).hexdigest() == release["archive_sha256"]
    assert [j["id"] for j in admin.jobs(service=svc_name, kind="build")] == [job["id"]]


def test_deploy_swaps_health_gated_and_keeps_the_old_container_stopped(
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    git_app: GitApp,
    svc_name: str,
) -> None:
    git_app.commit("1")
    admin.create_service(source_spec(svc_name, app_image, git_app.path))
    before = set(containers(docker_client, svc_name))
    first = built(admin, svc_name)
    deployed(admin, svc_name, first["id"])
    now = containers(docker_client, svc_name)
    live = [c for c in now.values() if c.status == "running"]
    assert len(live) == 1 and live[0].labels["matrx.release"] == first["id"]
    assert live[0].name.startswith(f"{svc_name}--{first['id'][4:]}-")
    assert "APP_VERSION=1" in live[0].attrs["Config"]["Env"]
    aliases = live[0].attrs["NetworkSettings"]["Networks"]["matrx-test"]["Aliases"]
    assert svc_name in aliases
    [old] = [now[n] for n in before]
    assert old.status == "exited" and old.attrs["NetworkSettings"]["Networks"] == {}
    [dep] = admin.deployments(service=svc_name)
    assert dep["outcome"] == "succeeded" and dep["to_release"] == first["id"]
    assert dep["from_release"] is None and dep["actor"] == "bootstrap-admin"
    assert dep["evidence"]["health"]["healthy"] is True and dep["seconds"] > 0
    assert [r["live"] for r in admin.releases(svc_name)] == [True]


def test_pending_changes_list_commits_not_yet_deployed(
    admin: AgentClient, app_image: str, git_app: GitApp, svc_name: str
) -> None:
    git_app.commit("1")
    admin.create_service(source_spec(svc_name, app_image, git_app.path))
    unknown = admin.pending(svc_name)
    assert unknown.running is None and "did not come from a recorded release" in unknown.message
    deployed(admin, svc_name, built(admin, svc_name)["id"])
    assert admin.pending(svc_name).up_to_date is True
    sha2 = git_app.commit("2", "second change")
    pending = admin.pending(svc_name)
    assert pending.up_to_date is False and pending.head == sha2
    assert [(c.sha, c.message) for c in pending.commits] == [(sha2, "second change")]
    assert pending.diffstat is not None
    assert {f.path for f in pending.diffstat.files} == {"Dockerfile", "VERSION"}


def test_a_release_that_never_gets_healthy_leaves_the_old_one_serving(
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    git_app: GitApp,
    svc_name: str,
) -> None:
    git_app.commit("1")
    admin.create_service(source_spec(svc_name, app_image, git_app.path))
    good = built(admin, svc_name)
    deployed(admin, svc_name, good["id"])
    live_before = [
        n for n, c in containers(docker_client, svc_name).items() if c.status == "running"
    ]
    git_app.commit("2", env="ENV UNHEALTHY=1")
    bad = built(admin, svc_name)
    started = admin.request(
        "POST",
        f"/v1/services/{svc_name}/deploy",
        json={"release_id": bad["id"]},
        params={"timeout": 4},
    )
    job = admin.wait_job(started["id"])
    assert job["status"] == "failed" and job["error"]["error"] == "unhealthy"
    assert job["error"]["detail"]["evidence"]["logs"]
    now = containers(docker_client, svc_name)
    assert [n for n, c in now.items() if c.status == "running"] == live_before
    assert not any(c.labels.get("matrx.release") == bad["id"] for c in now.values())
    latest = admin.deployments(service=svc_name)[0]
    assert latest["outcome"] == "failed" and latest["to_release"] == bad["id"]
    assert latest["evidence"]["health"]["logs"]


def test_rollback_restarts_the_kept_container_then_loads_archived_images(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    git_app: GitApp,
    svc_name: str,
) -> None:
    git_app.commit("1")
    admin.create_service(source_spec(svc_name, app_image, git_app.path))
    one = built(admin, svc_name)
    deployed(admin, svc_name, one["id"])
    [one_container] = [
        n for n, c in containers(docker_client, svc_name).items() if c.status == "running"
    ]
    git_app.commit("2")
    two = built(admin, svc_name)
    deployed(admin, svc_name, two["id"])
    job = admin.wait_job(admin.rollback(svc_name)["id"])
    assert job["status"] == "succeeded"
    now = containers(docker_client, svc_name)
    assert now[one_container].status == "running"  # the standby came back: no new container
    assert admin.deployments(service=svc_name)[0]["kind"] == "rollback"
    # the image of release 2 is pruned locally and its container gone: rollback loads it back
    for _name, c in now.items():
        if c.labels.get("matrx.release") == two["id"]:
            c.remove(force=True)
    docker_client.images.remove(two["image"], force=True)
    job = admin.wait_job(admin.rollback(svc_name, two["id"])["id"])
    assert job["status"] == "succeeded", job
    live = [c for c in containers(docker_client, svc_name).values() if c.status == "running"]
    assert [c.labels["matrx.release"] for c in live] == [two["id"]]
    assert docker_client.images.get(two["image"]).id == two["image_id"]


def test_logs_of_removed_containers_are_searchable(
    admin: AgentClient, app_image: str, git_app: GitApp, svc_name: str
) -> None:
    git_app.commit("alpha")
    admin.create_service(source_spec(svc_name, app_image, git_app.path))
    for version in ("beta", "gamma", "delta"):
        git_app.commit(version)
        deployed(admin, svc_name, built(admin, svc_name)["id"])
    live_only = admin.logs(svc_name, q="version=")["lines"]
    assert [ln["text"] for ln in live_only] == ["app starting version=delta"]
    everything = admin.logs(svc_name, q="version=", history=True)["lines"]
    texts = [ln["text"] for ln in everything]
    assert "app starting version=1" in texts and "app starting version=beta" in texts
    assert texts[-1] == "app starting version=delta"
    assert all(ln["container"] for ln in everything)


def test_one_deploy_per_service_at_a_time(
    admin: AgentClient, app_image: str, git_app: GitApp, svc_name: str
) -> None:
    git_app.commit("1", env="ENV START_DELAY=3")
    admin.create_service(
        source_spec(
            svc_name,
            app_image,
            git_app.path,
            health={
                "http_path": "/healthz",
                "port": 8080,
                "interval_s": 1,
                "timeout_s": 1,
                "retries": 2,
            },
        )
    )
    release = built(admin, svc_name)
    first = admin.deploy(svc_name, release["id"])
    with pytest.raises(AgentError) as info:
        admin.deploy(svc_name, release["id"])
    assert info.value.status == 409 and info.value.detail["action"] == "deploy"
    assert admin.wait_job(first["id"])["status"] == "succeeded"


def test_bad_release_requests_are_clear_and_change_nothing(
    admin: AgentClient, app_image: str, git_app: GitApp, svc_name: str
) -> None:
    git_app.commit("1")
    admin.create_service(source_spec(svc_name, app_image, git_app.path))
    other = f"{svc_name}-o"
    admin.create_service(source_spec(other, app_image, git_app.path))
    foreign = built(admin, other)
    cases = [
        (lambda: admin.deploy(svc_name, foreign["id"]), 422, "release_of_other_service"),
        (lambda: admin.deploy(svc_name, "rel_000000000000"), 404, "not_found"),
        (lambda: admin.build(svc_name, "0123456789abcdef"), 404, "unknown_commit"),
        (lambda: admin.build(svc_name, "no-such-branch"), 404, "branch_not_found"),
        (lambda: admin.rollback(svc_name), 404, "no_previous_release"),
    ]
    for call, status, code in cases:
        with pytest.raises(AgentError) as info:
            call()
        assert (info.value.status, info.value.code) == (status, code)
        assert info.value.hint
    git_app.commit("2", dockerfile='FROM scratch\nRUN ["/bin/false"]\n')
    job = admin.wait_job(admin.build(svc_name)["id"])
    assert job["status"] == "failed" and job["error"]["error"] == "build_failed"
    [failed] = admin.releases(svc_name)
    assert failed["status"] == "failed" and admin.build_log(failed["id"]).strip()
    assert admin.deployments(service=svc_name) == []
    plain = f"{svc_name}-p"
    admin.create_service(source_spec(plain, app_image, git_app.path) | {"source": None})
    with pytest.raises(AgentError) as info:
        admin.build(plain)
    assert info.value.code == "no_source"
    audit = admin.audit(target=svc_name, outcome="failed")["events"]
    assert {e["action"] for e in audit} >= {
        "POST /v1/services/{name}/deploy",
        "POST /v1/services/{name}/builds",
    }


def test_image_cleanup_keeps_the_last_releases_and_every_image_in_use(
    docker_client: docker.DockerClient,
    app_image: str,
    git_app: GitApp,
    svc_name: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.harness import agent_settings

    agent = RunningAgent(agent_settings(tmp_path_factory.mktemp("keep"), keep_releases=2)).start()
    admin = agent.client()
    try:
        git_app.commit("0")
        admin.create_service(source_spec(svc_name, app_image, git_app.path))
        made = []
        for version in ("1", "2", "3", "4"):
            git_app.commit(version)
            made.append(built(admin, svc_name))
            deployed(admin, svc_name, made[-1]["id"])
        local = {t for img in docker_client.images.list(name=f"matrx/{svc_name}") for t in img.tags}
        # kept: the last two releases (4 live, 3 the stopped standby); 1 and 2 pruned
        assert local == {made[2]["image"], made[3]["image"]}
        job = admin.wait_job(admin.rollback(svc_name, made[0]["id"])["id"])
        assert job["status"] == "succeeded"  # pruned locally, loaded back from its archive
    finally:
        agent.remove_containers()
        admin.close()
        agent.stop()
