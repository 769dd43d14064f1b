"""Registering services: containers from specs, status, health gate, unmanaged containers."""

from __future__ import annotations

import time
from typing import Any

import docker
import pytest

from matrx_ship.client import AgentClient, AgentError
from tests.harness import app_spec
from tests.harness.engines import wait_for


def managed(client: docker.DockerClient, name: str) -> list[Any]:
    return client.containers.list(
        all=True, filters={"label": ["matrx.managed=true", f"matrx.service={name}"]}
    )


def test_create_runs_a_healthy_labelled_container_with_env_masked_on_read(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    spec = app_spec(
        svc_name,
        app_image,
        env={"DB_PASSWORD": "canary-5e3"},
        labels={"team": "ops"},
        memory_mb=64,
        cpus=0.5,
    )
    created = admin.create_service(spec)
    assert created["health"]["healthy"] is True
    assert created["service"]["state"] == "running"
    [container] = managed(docker_client, svc_name)
    assert container.labels["team"] == "ops" and container.labels["matrx.kind"] == "app"
    assert container.name.startswith(f"{svc_name}--g1-")
    assert "DB_PASSWORD=canary-5e3" in container.attrs["Config"]["Env"]
    assert container.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    detail = admin.service(svc_name)
    assert detail["spec"]["env"] == {"DB_PASSWORD": "••••••"}
    assert "canary-5e3" not in str(detail) and "canary-5e3" not in str(admin.services())
    net = docker_client.networks.get("matrx-test")
    aliases = net.attrs and container.attrs["NetworkSettings"]["Networks"]["matrx-test"]["Aliases"]
    assert svc_name in aliases


def test_status_reports_health_uptime_and_resources(
    admin: AgentClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))

    def with_cpu() -> dict[str, Any] | None:
        [svc] = [s for s in admin.services()["services"] if s["name"] == svc_name]
        res = svc["current"]["resources"]
        return svc if res and res["cpu_percent"] is not None else None

    svc = wait_for(with_cpu, 15, "cpu figures")
    cur = svc["current"]
    assert svc["health"] == "healthy" and cur["health"] == "healthy"
    assert cur["restart_count"] == 0 and cur["image"] == app_image
    assert cur["image_id"].startswith("sha256:")
    assert cur["resources"]["memory_bytes"] > 0 and cur["resources"]["sampled_at"]
    assert {"net_rx_bytes", "block_read_bytes", "disk_bytes", "volumes_bytes"} <= (
        set(cur["resources"]) | set(cur)
    )
    time.sleep(1.1)  # time passing is the behaviour: the uptime must count it
    detail = admin.service(svc_name)["status"]
    assert detail["current"]["uptime_s"] >= 1
    assert detail["probe"]["ok"] is True and detail["probe"]["at"]


def test_events_and_exit_codes_show_a_crash(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image, restart_policy="no"))
    [container] = managed(docker_client, svc_name)
    container.kill()

    def died() -> dict[str, Any] | None:
        st = admin.service(svc_name)["status"]
        return (
            st
            if st["state"] == "exited" and any(e["action"] == "die" for e in st["events"])
            else None
        )

    st = wait_for(died, 10, "die event")
    assert st["current"]["exit_code"] == 137


def test_unmanaged_containers_are_listed_read_only(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str
) -> None:
    stray = docker_client.containers.run(
        app_image, name="t-stray-unmanaged", detach=True, init=True
    )
    try:
        listing = admin.services()
        names = [c["name"] for c in listing["unmanaged"]]
        assert "t-stray-unmanaged" in names
        assert all(c["managed"] is False for c in listing["unmanaged"])
        assert "t-stray-unmanaged" not in [s["name"] for s in listing["services"]]
        with pytest.raises(AgentError) as info:
            admin.lifecycle("t-stray-unmanaged", "stop")
        assert info.value.status == 404
        stray.reload()
        assert stray.status == "running"
    finally:
        stray.remove(force=True)


def test_update_swaps_to_a_healthy_new_container(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image, env={"APP_VERSION": "1"}))
    [old] = managed(docker_client, svc_name)
    result = admin.update_service(app_spec(svc_name, app_image, env={"APP_VERSION": "2"}))
    assert [s["action"] for s in result["steps"]][-3:] == ["detach", "stop", "remove"]
    [new] = managed(docker_client, svc_name)
    assert new.id != old.id and "APP_VERSION=2" in new.attrs["Config"]["Env"]
    assert new.labels["matrx.generation"] == "2"


def test_update_that_never_gets_healthy_changes_nothing(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image, env={"APP_VERSION": "1"}))
    [old] = managed(docker_client, svc_name)
    bad = app_spec(svc_name, app_image, env={"APP_VERSION": "2", "UNHEALTHY": "1"})
    with pytest.raises(AgentError) as info:
        admin.update_service(bad, timeout=4)
    assert info.value.status == 504 and info.value.code == "unhealthy"
    assert info.value.detail["evidence"]["logs"]
    [still] = managed(docker_client, svc_name)
    assert still.id == old.id and still.status == "running"
    assert admin.service(svc_name)["spec"]["env"] == {"APP_VERSION": "••••••"}
    assert "UNHEALTHY" not in admin.service(svc_name)["spec"]["env"]


def test_a_missing_image_is_refused_and_nothing_is_registered(
    admin: AgentClient, docker_client: docker.DockerClient, svc_name: str
) -> None:
    with pytest.raises(AgentError) as info:
        admin.create_service(app_spec(svc_name, "matrx-test/does-not-exist:1"))
    assert info.value.status == 422 and info.value.code == "image_not_found"
    assert svc_name not in [s["name"] for s in admin.services()["services"]]
    assert managed(docker_client, svc_name) == []


def test_create_that_fails_its_health_gate_leaves_nothing(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    with pytest.raises(AgentError) as info:
        admin.create_service(app_spec(svc_name, app_image, env={"FAIL_START": "1"}))
    assert info.value.status == 504 and "exited with code 3" in info.value.message
    assert svc_name not in [s["name"] for s in admin.services()["services"]]
    assert managed(docker_client, svc_name) == []


def test_delete_removes_containers_and_keeps_volumes(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    vol = f"{svc_name}-data"
    admin.create_service(
        app_spec(svc_name, app_image, volumes=[{"source": vol, "target": "/data"}])
    )
    out = admin.delete_service(svc_name)
    assert out["volumes_kept"] is True and len(out["removed_containers"]) == 1
    assert managed(docker_client, svc_name) == []
    assert docker_client.volumes.get(vol).name == vol
    docker_client.volumes.get(vol).remove()
    with pytest.raises(AgentError) as info:
        admin.service(svc_name)
    assert info.value.status == 404
