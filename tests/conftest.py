"""Fixtures over the harness (tests/harness), the `engine` mark, and the end-of-run sweep.

A test is marked ``engine`` when its fixtures reach a real engine (dockerd, PostgreSQL,
moto, a running agent, Chromium): the hook below reads each test's fixture closure, so
``-m "not engine"`` is the fast lane without anyone remembering a mark. Tests that reach
an engine without such a fixture (CDK synth) say ``pytestmark = pytest.mark.engine``; the
harness refuses to start an engine inside an unmarked test, so a miss fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from matrx_ship.client import AgentClient
from tests.harness import GitApp, RunningAgent, engines, leftovers, service_name, start_agent

# Fixtures that start or reach an engine; any fixture depending on one inherits it.
ENGINE_FIXTURES = frozenset(
    {"docker_client", "app_image", "postgres", "pg_url", "moto", "agent", "admin", "xterm"}
)
# Parametrized fixtures whose engine comes from request.getfixturevalue (not in the closure).
ENGINE_PARAMS = frozenset({("store_url", "postgres"), ("blobs", "s3")})
LEDGER = leftovers.Ledger()
REMAINING = pytest.StashKey[leftovers.Inventory]()


def needs_engine(item: pytest.Item) -> bool:
    """Whether the test reaches an engine: marked, an engine fixture, or an engine param."""
    if item.get_closest_marker("engine"):
        return True
    callspec = getattr(item, "callspec", None)
    params: dict[str, Any] = callspec.params if callspec else {}
    fixtures = set(getattr(item, "fixturenames", ()))
    engine_param = any(
        (name, value) in ENGINE_PARAMS for name, value in params.items() if isinstance(value, str)
    )
    return bool(fixtures & ENGINE_FIXTURES) or engine_param


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if needs_engine(item) and not item.get_closest_marker("engine"):
            item.add_marker(pytest.mark.engine)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    engines.allow_engines(item.get_closest_marker("engine") is not None, item.nodeid)
    try:
        return (yield)
    finally:
        engines.allow_engines(False, "teardown after the last test")


def pytest_sessionfinish(session: pytest.Session) -> None:
    session.config.stash[REMAINING] = LEDGER.sweep()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    remaining = config.stash.get(REMAINING, leftovers.Inventory())
    if LEDGER.client is None and not remaining.lines():
        return  # no engine was touched: nothing to report
    terminalreporter.section("leftovers of this run")
    for line in remaining.lines() or ["none: images, containers, volumes, networks, temp"]:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = engines.docker_client()
    LEDGER.open(client)
    return client


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
    name = postgres.create_database("t_")
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against SQLite and the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module")
def agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """A real agent on PostgreSQL and the real engine, shared by one test module."""
    with start_agent(tmp_path_factory.mktemp("agent"), postgres=postgres) as running:
        yield running


@pytest.fixture
def admin(agent: RunningAgent) -> Iterator[AgentClient]:
    client = agent.client()
    yield client
    client.close()


@pytest.fixture
def svc_name() -> str:
    """A unique service name that the cleanup recognises."""
    return service_name()


@pytest.fixture
def git_app(tmp_path: Path, app_image: str) -> GitApp:
    repo = tmp_path / "repo"
    repo.mkdir()
    return GitApp(repo, app_image)
