"""The dedicated-database image (infra/postgres/Dockerfile), built and run for real."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import docker
import psycopg
import pytest
from docker.models.containers import Container

from tests.harness import engines
from tests.infra import images

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]
PASSWORD = "t-db-password-0123456789"


@pytest.fixture(scope="module")
def postgres_image(docker_client: docker.DockerClient) -> Iterator[images.Built]:
    built = images.postgres_image(docker_client)
    print(f"\npostgres image {built.tag}: {built.seconds} s, {built.size_bytes / 1e6:.0f} MB")
    yield built
    images.remove_image(docker_client, built.tag)


@pytest.fixture(scope="module")
def database(
    docker_client: docker.DockerClient, postgres_image: images.Built
) -> Iterator[Container]:
    port = engines.free_port()
    with images.private_network(docker_client) as network:
        container = docker_client.containers.run(
            postgres_image.tag,
            name=f"matrx-t-infra-pg-{port}",
            detach=True,
            network=network,
            ports={"5432/tcp": ("127.0.0.1", port)},
            environment={"POSTGRES_USER": "app", "POSTGRES_PASSWORD": PASSWORD,
                         "POSTGRES_DB": "appdb"},
        )
        container.port = port  # type: ignore[attr-defined]
        try:
            images.wait_healthy(container, 60)
            yield container
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)


def test_reports_healthy(database: Container) -> None:
    database.reload()
    assert database.attrs["State"]["Health"]["Status"] == "healthy"


def test_answers_select_1_with_the_configured_user_and_database(database: Container) -> None:
    conninfo = (f"host=127.0.0.1 port={database.port} user=app "  # type: ignore[attr-defined]
                f"password={PASSWORD} dbname=appdb connect_timeout=5")
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT 1, current_user, current_database()").fetchone() == (
            1, "app", "appdb")


def test_pgbackrest_runs_as_the_server_user(database: Container) -> None:
    code, out = database.exec_run(["pgbackrest", "version"])
    assert code == 0 and re.fullmatch(r"pgBackRest 2\.\d+(\.\d+)?\n", out.decode()), out
    code, out = database.exec_run(["id", "-un"])
    assert out.decode().strip() == "postgres"
