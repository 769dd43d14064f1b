"""Making a service's database exist: network, volume, container, a server that accepts
connections, the app user's password as recorded and the console's read-only role.

Observe first (``DbObserved``, what exists), then ``plan_provision`` (pure) says which
steps are missing, and ``Provisioning.apply`` runs them with ``steps.dispatch``. When
everything is in place the plan is empty and nothing is done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.errors import Conflict, MatrxError, NotFound
from matrx_ship.models import ServiceSpec
from onbox_agent import engine
from onbox_agent.databases.access import Access, engine_errors, on_network
from onbox_agent.databases.records import PGDATA, DbInfo
from onbox_agent.databases.sql import READONLY_ROLE_SQL, roles_sql, scram_matches, set_password_sql
from onbox_agent.engine import DATABASE_OF, KIND, MANAGED
from onbox_agent.steps import Step, check_handled, dispatch

Actions = Callable[[str], str | None]  # a step's handler: what it did, for the report


@dataclass(frozen=True)
class DbObserved:
    """What exists of one service's database (names from its record)."""

    container: str
    volume: str
    network: str
    image: str
    has_network: bool = False
    has_volume: bool = False
    state: str | None = None  # the labelled database container's status; None: there is none
    on_network: bool = False  # that container is attached to the database network
    ready: bool = False  # it runs and accepts connections
    password_current: bool = False  # the app user's stored verifier is of the recorded password
    readonly_role: bool = False  # the console's role exists and may read all data
    foreign: str | None = None  # the kind label of another container holding the name


def _refuse(observed: DbObserved) -> None:
    raise Conflict(
        f"A container named {observed.container} exists but is not this service's database "
        f"(labels {observed.foreign}).",
        hint="Rename or remove that container, then repair the database.",
        code="name_taken",
    )


def _container_steps(o: DbObserved) -> list[Step]:
    if o.state is None:
        return [Step("create_container", o.container)]
    steps = [] if o.state == "running" else [Step("start_container", o.container)]
    if not o.on_network:
        steps.append(Step("connect_container", o.container))
    return steps


def plan_provision(o: DbObserved) -> list[Step]:
    """The steps that make the database exist, run and accept the recorded password.

    Conflict when the container name is held by a container that is not this database.
    """
    if o.state is None and o.foreign is not None:
        _refuse(o)
    steps = [Step("ensure_image", o.image)] if o.state is None else []  # before making anything
    if not o.has_network:
        steps.append(Step("create_network", o.network))
    if not o.has_volume:
        steps.append(Step("create_volume", o.volume))
    steps += _container_steps(o)
    if not o.ready or steps:
        return [*steps, *_server_steps(o.container)]
    if not o.password_current:
        steps.append(Step("set_password", o.container))
    if not o.readonly_role:
        steps.append(Step("grant_readonly", o.container))
    return steps


def _server_steps(container: str) -> list[Step]:
    """After a change the server is waited for and its roles set (they could not be seen)."""
    return [
        Step("wait_ready", container),
        Step("set_password", container),
        Step("grant_readonly", container),
    ]


def db_labels(service: str) -> dict[str, str]:
    """The labels of everything made for a service's database."""
    return {MANAGED: "true", KIND: "database", DATABASE_OF: service}


def db_create_kwargs(spec: ServiceSpec, info: DbInfo) -> dict[str, Any]:
    """docker-py ``containers.create`` arguments of a service's database container."""
    kw: dict[str, Any] = {
        "image": info.image,
        "name": info.container,
        "detach": True,
        "environment": {
            "POSTGRES_USER": info.user,
            "POSTGRES_PASSWORD": info.password,
            "POSTGRES_DB": info.db,
        },
        "labels": db_labels(info.service),
        "volumes": {info.volume: {"bind": PGDATA, "mode": "rw"}},
        "network": info.network,
        "restart_policy": {"Name": "unless-stopped"},
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", info.user, "-d", info.db],
            "interval": 5 * engine.NS,
            "timeout": 3 * engine.NS,
            "retries": 3,
            "start_period": 30 * engine.NS,
        },
    }
    if spec.database and spec.database.memory_mb:
        kw["mem_limit"] = f"{spec.database.memory_mb}m"
    return kw


def run_steps(steps: list[Step], handlers: dict[str, Actions]) -> list[str]:
    """Apply the steps in order; what the handlers report doing."""
    check_handled(steps, handlers)
    done = [dispatch(step, handlers) for step in steps]
    return [str(d) for d in done if d]


class Provisioning(Access):
    """Observe, plan and apply a service's database."""

    def prepare(self, spec: ServiceSpec) -> dict[str, str]:
        """The ServiceManager's hook: make the database exist and be ready; the env to inject."""
        if spec.database is None:
            return {}
        info, _actions = self.ensure(spec)
        return {"DATABASE_URL": info.url}

    def ensure(self, spec: ServiceSpec) -> tuple[DbInfo, list[str]]:
        """Make network, volume and container exist, run and accept connections; what was done."""
        info = self.ensure_record(spec)
        with engine_errors():
            steps = plan_provision(self.observe(info))
            return info, run_steps(steps, self.provision_handlers(spec, info))

    def observe(self, info: DbInfo) -> DbObserved:
        """What exists of the database now; roles are read only from a server that is ready."""
        networks = self.docker.networks.list(names=[info.network])
        base = DbObserved(
            info.container,
            info.volume,
            info.network,
            info.image,
            has_network=any(n.name == info.network for n in networks),
            has_volume=self._has_volume(info.volume),
        )
        try:
            container = self.db_container(info.service)
        except NotFound:
            return replace(base, foreign=self._foreign(info))
        return self._observe_container(base, container, info)

    def _has_volume(self, name: str) -> bool:
        try:
            self.docker.volumes.get(name)
        except DockerNotFound:
            return False
        return True

    def _foreign(self, info: DbInfo) -> str | None:
        with contextlib.suppress(DockerNotFound):
            return str(self.docker.containers.get(info.container).labels.get(KIND, "none"))
        return None

    def _observe_container(
        self, base: DbObserved, container: Container, info: DbInfo
    ) -> DbObserved:
        ready = container.status == "running" and self.pg_ready(container)
        password, readonly = self._roles(container, info) if ready else (False, False)
        return replace(
            base,
            state=container.status,
            on_network=on_network(container, info.network),
            ready=ready,
            password_current=password,
            readonly_role=readonly,
        )

    def _roles(self, container: Container, info: DbInfo) -> tuple[bool, bool]:
        try:
            rows, _ = self.psql(container, roles_sql(info.user), info.maintenance, info.user)
        except MatrxError:
            return False, False  # cannot tell: set both again (each is idempotent)
        verifier, readonly = rows[1]
        return scram_matches(info.password, verifier), readonly == "t"

    def provision_handlers(self, spec: ServiceSpec, info: DbInfo) -> dict[str, Actions]:
        """What each provisioning step does; each returns its line for the report, or None."""
        return {
            "create_network": lambda name: self._create_network(info, name),
            "create_volume": lambda name: self._create_volume(info, name),
            "ensure_image": self._ensure_image,
            "create_container": lambda name: self._create_container(spec, info),
            "start_container": lambda name: self._start(info),
            "connect_container": lambda name: self._connect(info),
            "wait_ready": lambda name: self._wait(info),
            "set_password": lambda name: self._sql(
                info, set_password_sql(info.user, info.password)
            ),
            "grant_readonly": lambda name: self._sql(info, READONLY_ROLE_SQL),
        }

    def _create_network(self, info: DbInfo, name: str) -> str:
        self.docker.networks.create(
            name, driver="bridge", internal=True, labels=db_labels(info.service)
        )
        return f"created network {name}"

    def _create_volume(self, info: DbInfo, name: str) -> str:
        self.docker.volumes.create(name, labels=db_labels(info.service))
        return f"created volume {name}"

    def _ensure_image(self, image: str) -> None:
        engine.ensure_image(self.docker, image, self.settings.pull_images)

    def _create_container(self, spec: ServiceSpec, info: DbInfo) -> str:
        self.docker.containers.create(**db_create_kwargs(spec, info)).start()
        return f"created container {info.container}"

    def _start(self, info: DbInfo) -> str:
        container = self.db_container(info.service)
        container.start()
        return f"started container {container.name}"

    def _connect(self, info: DbInfo) -> str:
        container = self.db_container(info.service)
        self.docker.networks.get(info.network).connect(container)
        return f"connected {container.name} to {info.network}"

    def _wait(self, info: DbInfo) -> None:
        self.wait_ready(self.db_container(info.service), self.settings.health_timeout)

    def _sql(self, info: DbInfo, sql: str | list[str]) -> None:
        self.psql(self.db_container(info.service), sql, info.maintenance, info.user)
