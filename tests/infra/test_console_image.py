"""The manager console's image (dashboard/Dockerfile), built and run for real."""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container

from tests.harness import engines
from tests.infra import images

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def console_image(docker_client: docker.DockerClient) -> Iterator[images.Built]:
    built = images.console_image(docker_client)
    print(f"\nconsole image {built.tag}: {built.seconds} s, {built.size_bytes / 1e6:.0f} MB")
    yield built
    images.remove_image(docker_client, built.tag)


@pytest.fixture(scope="module")
def console(docker_client: docker.DockerClient, console_image: images.Built) -> Iterator[Container]:
    port = engines.free_port()
    with images.private_network(docker_client) as network:
        container = docker_client.containers.run(
            console_image.tag,
            name=f"matrx-t-console-{port}",
            detach=True,
            network=network,
            ports={"8501/tcp": ("127.0.0.1", port)},
            environment={
                "MATRX_AGENT_URL": "http://agent.invalid:8700",
                "MATRX_CONSOLE_TOKEN": "msk_console-test-token-0123456789abcdef",
            },
        )
        container.port = port  # type: ignore[attr-defined]
        try:
            images.wait_healthy(container, 90)
            yield container
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def get(container: Container, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{container.port}{path}"  # type: ignore[attr-defined]
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_health_endpoint_answers_ok(console: Container) -> None:
    assert get(console, "/_stcore/health") == (200, "ok")


def test_container_reports_healthy(console: Container) -> None:
    console.reload()
    assert console.attrs["State"]["Health"]["Status"] == "healthy"
    assert console.attrs["State"]["Health"]["Log"][-1]["ExitCode"] == 0


def test_runs_as_a_non_root_user(console: Container, console_image: images.Built) -> None:
    code, out = console.exec_run(["id", "-u"])
    assert code == 0 and int(out) != 0
    top = console.top(ps_args="-o pid,user,args")["Processes"]
    assert any("streamlit run" in p[2] and p[1] != "root" for p in top), top


def test_serves_the_page_html(console: Container) -> None:
    status, html = get(console, "/")
    assert status == 200
    assert '<div id="root">' in html and "<script" in html


def test_settings_come_from_the_environment(console: Container) -> None:
    code, out = console.exec_run(["python3", "-c", (
        "from dashboard.settings import get_console_settings as g; s = g(); "
        "print(s.scope, s.agent_url, s.token is not None)"
    )])
    assert (code, out.decode().split()) == (0, ["manager", "http://agent.invalid:8700", "True"])


def test_includes_the_terminal_assets(console: Container) -> None:
    code, out = console.exec_run(["python3", "-c", (
        "from dashboard.lib.terminal import assets; js, fit, css = assets(); "
        "print(len(js) > 100_000, 'FitAddon' in fit, '.xterm' in css)"
    )])
    assert (code, out.decode().split()) == (0, ["True", "True", "True"])
