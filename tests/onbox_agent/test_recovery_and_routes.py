"""An agent killed mid-deploy recovers on start; Traefik route files and route checks."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
import yaml

from matrx_ship.client import AgentClient
from matrx_ship.traefik import validate_dynamic
from tests.harness import GitApp, RunningAgent, agent_settings, app_spec, source_spec
from tests.harness.engines import free_port, wait_for


class AgentProcess:
    """The agent as its own process (python -m onbox_agent), so it can be SIGKILLed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['MATRX_AGENT_PORT']}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "onbox_agent"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: httpx.get(f"{self.url}/healthz").status_code == 200, 30, "agent process")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def agent_process(pg_url: str, tmp_path: Path) -> Iterator[AgentProcess]:
    env = {
        **os.environ,
        "MATRX_ADMIN_TOKEN": "adm_" + secrets.token_urlsafe(20),
        "MATRX_MASTER_KEY": secrets.token_urlsafe(32),
        "MATRX_DATA_DIR": str(tmp_path),
        "SUPABASE_DB_URL": pg_url,
        "MATRX_AGENT_PORT": str(free_port()),
        "MATRX_PULL_IMAGES": "false",
        "MATRX_LOG_LEVEL": "WARNING",
    }
    process = AgentProcess(env)
    process.start()
    yield process
    if process.proc and process.proc.poll() is None:
        process.proc.terminate()
        process.proc.wait(10)


def test_an_agent_killed_mid_deploy_keeps_the_old_release_live(
    agent_process: AgentProcess,
    docker_client: docker.DockerClient,
    app_image: str,
    git_app: GitApp,
    svc_name: str,
) -> None:
    client = AgentClient(agent_process.url, agent_process.env["MATRX_ADMIN_TOKEN"])
    try:
        git_app.commit("1")
        client.create_service(source_spec(svc_name, app_image, git_app.path))
        first = client.wait_job(client.build(svc_name)["id"])["result"]["release"]
        assert client.wait_job(client.deploy(svc_name, first["id"])["id"])["status"] == "succeeded"
        git_app.commit("2", env="ENV START_DELAY=60")
        slow = client.wait_job(client.build(svc_name)["id"])["result"]["release"]
        job = client.deploy(svc_name, slow["id"])

        def candidate() -> list[docker.models.containers.Container]:
            return [
                c
                for c in docker_client.containers.list(
                    filters={"label": f"matrx.service={svc_name}"}
                )
                if c.labels.get("matrx.release") == slow["id"]
            ]

        wait_for(candidate, 20, "candidate container")
        agent_process.kill()
        agent_process.start()
        client.close()
        client = AgentClient(agent_process.url, agent_process.env["MATRX_ADMIN_TOKEN"])
        assert candidate() == []
        running = docker_client.containers.list(filters={"label": f"matrx.service={svc_name}"})
        assert [c.labels["matrx.release"] for c in running] == [first["id"]]
        nets = running[0].attrs["NetworkSettings"]["Networks"]
        assert svc_name in nets["matrx-test"]["Aliases"]
        assert client.job(job["id"])["status"] == "interrupted"
        latest = client.deployments(service=svc_name)[0]
        assert latest["outcome"] == "interrupted" and "kept" in latest["evidence"]["recovery"]
        assert client.service(svc_name)["status"]["health"] == "healthy"
    finally:
        for c in docker_client.containers.list(
            all=True, filters={"label": f"matrx.service={svc_name}"}
        ):
            c.remove(force=True)
        client.close()


@pytest.fixture
def routed_agent(
    docker_client: docker.DockerClient, app_image: str, tmp_path: Path, postgres
) -> Iterator[tuple[RunningAgent, Path]]:  # type: ignore[no-untyped-def]
    """An agent whose route checks go to an entrypoint on loopback (a busybox httpd)."""
    port = free_port()
    www = tmp_path / "www"
    (www / "api" / "http").mkdir(parents=True)
    (www / "index.html").write_text("entrypoint\n")
    entry = docker_client.containers.run(
        app_image,
        ["httpd", "-f", "-p", "8080", "-h", "/srv"],
        detach=True,
        init=True,
        name=f"t-entry-{port}",
        ports={"8080/tcp": ("127.0.0.1", port)},
        volumes={str(www): {"bind": "/srv", "mode": "ro"}},
    )
    settings = agent_settings(
        tmp_path / "data",
        traefik_entrypoint_url=f"http://127.0.0.1:{port}",
        traefik_api_url=f"http://127.0.0.1:{port}",
    )
    agent = RunningAgent(settings).start()
    wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/").status_code == 200, 10, "entrypoint")
    yield agent, www
    agent.remove_containers()
    agent.stop()
    entry.remove(force=True)


def test_route_files_are_written_once_validated_and_removed(
    routed_agent: tuple[RunningAgent, Path], app_image: str, svc_name: str
) -> None:
    agent, www = routed_agent
    admin = agent.client()
    routes = [
        {"host": f"{svc_name}.example.com", "port": 8080},
        {"host": f"{svc_name}.example.com", "path_prefix": "/missing", "port": 8080},
    ]
    # what Traefik's API would list: only the first router was loaded
    loaded = [
        {"name": f"{svc_name}-0@file", "status": "enabled"},
        {"name": "stale-0@file", "status": "enabled"},
    ]
    (www / "api" / "http" / "routers").write_text(json.dumps(loaded))
    admin.create_service(app_spec(svc_name, app_image, routes=routes))
    path = agent.settings.routes_dir / f"{svc_name}.yml"
    config = yaml.safe_load(path.read_text())
    validate_dynamic(config)
    rules = sorted(r["rule"] for r in config["http"]["routers"].values())
    assert rules == [
        f"Host(`{svc_name}.example.com`)",
        f"Host(`{svc_name}.example.com`) && PathPrefix(`/missing`)",
    ]
    servers = config["http"]["services"][svc_name]["loadBalancer"]["servers"]
    assert servers == [{"url": f"http://{svc_name}:8080"}]
    mtime = path.stat().st_mtime_ns
    admin.update_service(app_spec(svc_name, app_image, routes=routes, labels={"x": "1"}))
    assert path.stat().st_mtime_ns == mtime  # unchanged routes: the file is not rewritten
    report = admin.routes()
    root, missing = report.routes
    assert root.upstream == f"http://{svc_name}:8080"
    assert root.check is not None and missing.check is not None
    assert (root.check.status, missing.check.status) == (200, 404)
    assert root.check.latency_ms > 0 and missing.check.ok is False
    assert (root.loaded, missing.loaded) == (True, False)
    assert report.traefik is not None
    assert report.traefik.missing_in_traefik == [f"{svc_name}-1@file"]
    assert report.traefik.unknown_to_specs == ["stale-0@file"]
    admin.delete_service(svc_name)
    assert not path.exists()
