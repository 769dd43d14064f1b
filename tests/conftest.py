"""Fixtures over real engines: dockerd, PostgreSQL, moto, and a real agent over HTTP."""

from __future__ import annotations

import contextlib
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest
import uvicorn

from matrx_ship.client import AgentClient
from onbox_agent.__main__ import server_config
from onbox_agent.backups import stop_scheduler
from onbox_agent.main import create_app
from onbox_agent.settings import AgentSettings
from tests import engines

TEST_PREFIX = "t-"


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return engines.docker_client()


@pytest.fixture(scope="session")
def app_image(docker_client: docker.DockerClient) -> str:
    return engines.build_busybox_app(docker_client)


@pytest.fixture(scope="session")
def postgres() -> Iterator[engines.Postgres]:
    pg = engines.Postgres()
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def moto() -> Iterator[engines.Moto]:
    m = engines.Moto()
    m.start()
    yield m
    m.stop()


@pytest.fixture
def pg_url(postgres: engines.Postgres) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = postgres.url().replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against SQLite and the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("pg_url"))


class RunningAgent:
    """A real agent served by uvicorn on a loopback port in a background thread."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.runtime = self.app.state.runtime
        self.server = uvicorn.Server(server_config(self.app, settings))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls_cert else "http"
        return f"{scheme}://127.0.0.1:{self.settings.port}"

    @property
    def admin_token(self) -> str:
        return self.settings.admin_token.get_secret_value()

    def start(self) -> RunningAgent:
        self.thread.start()
        engines.wait_for(lambda: self.server.started, 20, "agent")
        return self

    def remove_containers(self) -> None:
        """Remove the containers of every service this agent knows (not other agents')."""
        client = self.runtime.docker
        for spec in self.runtime.specs.list():
            for label in (f"matrx.service={spec.name}", f"matrx.database_of={spec.name}"):
                for c in client.containers.list(all=True, filters={"label": label}):
                    with contextlib.suppress(docker.errors.NotFound):
                        c.remove(force=True)

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(10)
        self.runtime.monitor.stop()  # force_exit may skip the lifespan's shutdown
        stop_scheduler(self.runtime)
        self.runtime.store.dispose()

    def client(self, token: str | None = None, **kw: Any) -> AgentClient:
        return AgentClient(self.url, token if token is not None else self.admin_token, **kw)


def agent_settings(data_dir: Path, **overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {
        "admin_token": "adm_" + secrets.token_urlsafe(24),
        "master_key": secrets.token_urlsafe(32),
        "data_dir": data_dir,
        "port": engines.free_port(),
        "stats_interval": 1.0,
        "health_timeout": 30.0,
        "s3_prefix": "testhost",
        "pull_images": False,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return AgentSettings(**values)


@pytest.fixture(scope="module")
def agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """A real agent on PostgreSQL and the real engine, shared by one test module."""
    name = "m_" + uuid.uuid4().hex[:12]
    admin = postgres.url().replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    settings = agent_settings(tmp_path_factory.mktemp("agent"), database_url=postgres.url(name))
    running = RunningAgent(settings).start()
    yield running
    running.remove_containers()
    running.stop()


@pytest.fixture
def admin(agent: RunningAgent) -> Iterator[AgentClient]:
    client = agent.client()
    yield client
    client.close()


@pytest.fixture
def svc_name() -> str:
    """A unique service name that the cleanup recognises."""
    return TEST_PREFIX + uuid.uuid4().hex[:8]


def app_spec(name: str, image: str, **overrides: Any) -> dict[str, Any]:
    """A spec of the busybox test app with a fast HTTP health check."""
    spec: dict[str, Any] = {
        "name": name,
        "image": image,
        "networks": ["matrx-test"],
        "health": {
            "http_path": "/healthz",
            "port": 8080,
            "interval_s": 1,
            "timeout_s": 1,
            "retries": 2,
        },
        "env": {},
    }
    spec.update(overrides)
    return spec


class GitApp:
    """A local git repository whose Dockerfile builds the busybox test app at a version."""

    def __init__(self, path: Path, base_image: str) -> None:
        self.path, self.base = path, base_image
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "Dev Person")

    def git(self, *args: str) -> str:
        import subprocess

        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit(
        self, version: str, message: str | None = None, dockerfile: str | None = None, env: str = ""
    ) -> str:
        """Commit a Dockerfile for ``version``; returns the full sha."""
        text = dockerfile or f"FROM {self.base}\nENV APP_VERSION={version}\n{env}\n"
        (self.path / "Dockerfile").write_text(text)
        (self.path / "VERSION").write_text(version + "\n")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message or f"release {version}")
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_app(tmp_path: Path, app_image: str) -> GitApp:
    repo = tmp_path / "repo"
    repo.mkdir()
    return GitApp(repo, app_image)


def source_spec(name: str, image: str, repo: Path, **overrides: Any) -> dict[str, Any]:
    """The test app's spec with a git source."""
    return app_spec(name, image, source={"repo": str(repo), "branch": "main"}, **overrides)
