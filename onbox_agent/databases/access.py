"""Reaching a service's database: its container (found by labels), psql and pg_isready run
through ``docker exec`` inside it, and the app container next to it.

The agent never connects to a container address from the host: everything on the database
side goes through the container's local socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from docker.errors import APIError, DockerException
from docker.models.containers import Container

from matrx_ship.errors import NotFound, Unavailable, Unhealthy
from onbox_agent import engine
from onbox_agent.databases.records import DbInfo, Records
from onbox_agent.databases.sql import QueryFailed, parse_csv, psql_command
from onbox_agent.dockerexec import MAX_OUTPUT, run_exec
from onbox_agent.engine import DATABASE_OF, KIND, MANAGED

Rows = list[list[str | None]]


def on_network(container: Container, network: str) -> bool:
    """Whether the container is attached to ``network`` now (fresh from the engine)."""
    container.reload()
    return network in ((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})


def env_of(container: Container) -> dict[str, str]:
    """The container's environment as created (values are secrets: never log them)."""
    pairs = (container.attrs.get("Config") or {}).get("Env") or []
    return dict(p.split("=", 1) for p in pairs if "=" in p)


@contextmanager
def engine_errors() -> Iterator[None]:
    """Docker's errors as the agent's: the engine is unreachable or refused (503)."""
    try:
        yield
    except DockerException as exc:
        raise engine.engine_error(exc) from exc


def unhealthy(container: Container, why: str) -> Unhealthy:
    """The error of a database container that is not ready, with its last log lines."""
    return Unhealthy(
        f"The database container {container.name} is not ready: {why}.",
        hint="Read its last log lines in 'detail', fix the cause, then repair the database.",
        code="database_unhealthy",
        detail={"logs": engine.tail_text(container, 20)},
    )


class Access(Records):
    """The database container, and commands run inside it."""

    def db_container(self, service: str) -> Container:
        """The service's database container (running first); NotFound when it has none.

        It is found by its labels (matrx.kind=database, matrx.database_of=<service>), never
        by name alone, so an unrelated container called ``<service>-db`` is never touched.
        """
        labels = [f"{MANAGED}=true", f"{KIND}=database", f"{DATABASE_OF}={service}"]
        found = engine.serving(self.docker.containers.list(all=True, filters={"label": labels}))
        if found is None:
            raise NotFound(
                f"The database container of '{service}' does not exist.",
                hint=f"Create it again with POST /v1/databases/{service}/repair (data is kept).",
                code="no_database_container",
            )
        return found

    def running_db(self, service: str) -> tuple[DbInfo, Container]:
        """The record and the running container; Unavailable when it does not run."""
        info = self.info(service)
        container = self.db_container(service)
        if container.status != "running":
            raise Unavailable(
                f"The database container {container.name} is {container.status}.",
                hint=f"Start it with POST /v1/databases/{service}/repair.",
                code="database_unavailable",
            )
        return info, container

    def psql(
        self,
        container: Container,
        sql: str | list[str],
        db: str,
        user: str,
        env: dict[str, str] | None = None,
        max_bytes: int = MAX_OUTPUT,
    ) -> tuple[Rows, bool]:
        """Run SQL with psql over the container's local socket; CSV rows (header first).

        Each item of a list is its own ``-c`` (one statement each, one session). Raises
        QueryFailed with PostgreSQL's message when psql fails.
        """
        result = run_exec(self.docker, container, psql_command(sql, db, user), env, max_bytes)
        if result.code != 0 and not result.truncated:
            raise QueryFailed(result.stderr_tail())
        return parse_csv(result.out.decode(errors="replace"), result.truncated), result.truncated

    def pg_ready(self, container: Container) -> bool:
        """pg_isready over TCP inside the container (the init-time server listens on no TCP)."""
        try:
            result = run_exec(self.docker, container, ["pg_isready", "-q", "-h", "127.0.0.1"])
        except APIError:
            return False
        return result.code == 0

    def wait_ready(self, container: Container, deadline_s: float) -> float:
        """Wait until the server accepts connections; Unhealthy (with its logs) when not."""
        start = time.monotonic()
        while True:
            container.reload()
            state = container.attrs["State"]
            if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
                raise unhealthy(container, f"it exited with code {state.get('ExitCode')}")
            if state.get("Running") and self.pg_ready(container):
                return time.monotonic() - start
            if time.monotonic() - start > deadline_s:
                why = f"it did not accept connections within {deadline_s:.0f} s"
                raise unhealthy(container, why)
            time.sleep(0.2)

    def app_container(self, service: str) -> Container | None:
        """The app's live container (running first), or None."""
        return engine.serving(engine.service_containers(self.docker, service))
