"""A real agent served by uvicorn on a loopback port: the one way tests and bench/ make one."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
import uvicorn

from matrx_ship.client import AgentClient
from onbox_agent.__main__ import server_config
from onbox_agent.backups import stop_scheduler
from onbox_agent.logship import stop_shipper
from onbox_agent.main import create_app
from onbox_agent.settings import AgentSettings
from tests.harness import engines

# Labels that tie a container to a service: the app itself, its database, its backup helpers.
OWNER_LABELS = ("matrx.service", "matrx.database_of", "matrx.helper_of")


@contextlib.contextmanager
def serving(config: uvicorn.Config, what: str) -> Iterator[uvicorn.Server]:
    """Serve ``config`` in a background thread until the block ends."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        engines.wait_for(lambda: server.started, 20, what)
        yield server
    finally:
        server.should_exit = True
        thread.join(10)


class RunningAgent:
    """A real agent served by uvicorn on a loopback port in a background thread.

    Usually made by ``start_agent``; a ``with`` block (or ``close``) removes everything its
    services left on the engine and stops it.
    """

    def __init__(self, settings: AgentSettings) -> None:
        self.app = create_app(settings)
        self.runtime = self.app.state.runtime
        self.settings = self.runtime.settings  # with what the store keeps for the host
        self.server = uvicorn.Server(server_config(self.app, self.settings))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.on_close: list[Any] = []  # callables run after stop(), newest first

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls_cert else "http"
        return f"{scheme}://127.0.0.1:{self.settings.port}"

    @property
    def admin_token(self) -> str:
        return self.settings.admin_token.get_secret_value()

    def start(self) -> RunningAgent:
        """Serve the agent and wait until uvicorn accepts connections."""
        self.thread.start()
        engines.wait_for(lambda: self.server.started, 20, "agent")
        return self

    def remove_containers(self) -> None:
        """Remove what every service this agent knows left behind (not other agents').

        Containers of the app, its database and backup helpers (with their anonymous
        volumes), the named volumes ``<service>-*`` and the ``<service>-db-net`` network.
        """
        client = self.runtime.docker
        for spec in self.runtime.specs.list():
            remove_service_objects(client, spec.name)

    def stop(self) -> None:
        """Stop serving, the monitor, the backup scheduler and the log shipper; close the store."""
        self.server.should_exit = True  # a graceful stop runs the lifespan's shutdown
        self.thread.join(5)
        if self.thread.is_alive():  # a connection that will not close (a followed websocket)
            self.server.force_exit = True
            self.thread.join(10)
        self.runtime.monitor.stop()  # force_exit skips the lifespan's shutdown
        self.runtime.stopping.set()
        stop_scheduler(self.runtime)
        stop_shipper(self.runtime)
        self.runtime.store.dispose()

    def close(self) -> None:
        """Remove what its services left, stop the agent, then drop what start_agent made."""
        try:
            self.remove_containers()
        finally:
            self.stop()
            while self.on_close:
                self.on_close.pop()()

    def __enter__(self) -> RunningAgent:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def client(self, token: str | None = None, **kw: Any) -> AgentClient:
        """An API client of this agent, with the admin token unless another is given."""
        return AgentClient(self.url, token if token is not None else self.admin_token, **kw)


def remove_service_objects(client: docker.DockerClient, service: str) -> None:
    """Everything of one service on the engine: containers, ``<service>-*`` volumes, db network."""
    for label in OWNER_LABELS:
        for c in client.containers.list(all=True, filters={"label": f"{label}={service}"}):
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True, v=True)
    for v in client.volumes.list(filters={"name": f"{service}-"}):
        if v.name.startswith(f"{service}-"):  # the filter matches anywhere in the name
            with contextlib.suppress(docker.errors.APIError):
                v.remove(force=True)
    for n in client.networks.list(names=[f"{service}-db-net"]):
        with contextlib.suppress(docker.errors.APIError):
            n.remove()


def lose_host_objects(
    client: docker.DockerClient, services: Iterable[str], images: Iterable[str]
) -> None:
    """What a lost host loses on the engine: every container, volume and network of these
    services and their built images (the wipe drills and bench/recover)."""
    for name in services:
        remove_service_objects(client, name)
    for image in images:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image, force=True)


def agent_settings(data_dir: Path, **overrides: Any) -> AgentSettings:
    """Settings of a test agent: fresh secrets, a free port, fast checks; ``overrides`` win."""
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


def start_agent(
    data_dir: Path | None = None, *, postgres: engines.Postgres | None = None, **overrides: Any
) -> RunningAgent:
    """Start a real agent; the one factory for every test fixture and benchmark.

    ``data_dir``: the agent's folder (default: a temporary one, removed on close).
    ``postgres``: keep the state in a fresh database of this cluster (dropped on close)
    instead of SQLite in ``data_dir`` or the ``database_url`` override.
    ``overrides``: any AgentSettings field (postgres_image, s3_bucket, tls_cert, ...).
    """
    cleanups: list[Any] = []
    if data_dir is None:
        data_dir = engines.temp_dir("matrx-agent-")
        cleanups.append(lambda: shutil.rmtree(data_dir, ignore_errors=True))
    if postgres is not None:
        name = postgres.create_database("m_")
        overrides["database_url"] = postgres.url(name)
        cleanups.append(lambda: postgres.drop_database(name))
    agent = RunningAgent(agent_settings(data_dir, **overrides))
    agent.on_close.extend(cleanups)
    try:
        return agent.start()
    except BaseException:
        for cleanup in reversed(cleanups):
            cleanup()
        raise
