"""What a test run leaves behind, and the session sweep that removes it.

The run's products go: images tagged ``matrx/*`` (releases the agent built), containers of
test services and their helpers, their volumes and networks, and the temporary folders the
harness made. Kept on purpose: the cached base images under ``matrx-test/`` (busybox-app,
the debootstrap Postgres and its rootfs) that make the next run fast, and everything that
existed before the run first touched the engine (someone else's, or an earlier run's).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from dataclasses import dataclass

import docker
from docker.models.containers import Container

from tests.harness import engines
from tests.harness.agent import OWNER_LABELS
from tests.harness.apps import TEST_PREFIX

RELEASE_IMAGES = "matrx/"  # the agent's builds; the cache is "matrx-test/", kept
TEST_NETWORKS = ("matrx-test",)  # the networks app_spec puts test services on

@dataclass(frozen=True)
class Inventory:
    """The test objects on the engine (and harness temp folders) at one moment, by name."""

    images: frozenset[str] = frozenset()
    containers: frozenset[str] = frozenset()
    volumes: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    temp: frozenset[str] = frozenset()

    def __sub__(self, other: Inventory) -> Inventory:
        return Inventory(
            self.images - other.images,
            self.containers - other.containers,
            self.volumes - other.volumes,
            self.networks - other.networks,
            self.temp - other.temp,
        )

    def lines(self) -> list[str]:
        """One line a kind that has something, e.g. ``images: matrx/t-ab:1``."""
        kinds = ("images", "containers", "volumes", "networks", "temp")
        return [f"{k}: {' '.join(sorted(getattr(self, k)))}" for k in kinds if getattr(self, k)]


def _is_test_container(c: Container) -> bool:
    labels = c.labels or {}
    owners = [labels.get(label, "") for label in OWNER_LABELS]
    return any(o.startswith(TEST_PREFIX) for o in owners) or (c.name or "").startswith(TEST_PREFIX)


def take(client: docker.DockerClient | None) -> Inventory:
    """The test objects present now; only the temp folders without an engine client."""
    temp = frozenset(str(p) for p in engines.made_temp_dirs() if p.exists())
    if client is None:
        return Inventory(temp=temp)
    tags = {t for i in client.images.list() for t in i.tags if t.startswith(RELEASE_IMAGES)}
    containers = {str(c.name) for c in client.containers.list(all=True) if _is_test_container(c)}
    volumes = {str(v.name) for v in client.volumes.list()}
    networks = {str(n.name) for n in client.networks.list()}
    return Inventory(
        frozenset(tags),
        frozenset(containers),
        frozenset(v for v in volumes if v.startswith(TEST_PREFIX)),
        frozenset(n for n in networks if n.startswith(TEST_PREFIX) or n in TEST_NETWORKS),
        temp,
    )


def remove(client: docker.DockerClient | None, what: Inventory) -> None:
    """Remove the objects named in ``what``: containers first, then what they held."""
    for path in what.temp:
        shutil.rmtree(path, ignore_errors=True)
    if client is None:
        return
    steps = (
        (what.containers, lambda n: client.containers.get(n).remove(force=True, v=True)),
        (what.volumes, lambda n: client.volumes.get(n).remove(force=True)),
        (what.networks, lambda n: client.networks.get(n).remove()),
        (what.images, lambda n: client.images.remove(n)),  # untag; never forced
    )
    for names, remove_one in steps:
        for name in names:
            with contextlib.suppress(docker.errors.APIError):
                remove_one(name)


class Ledger:
    """What existed when the run first touched the engine, so the sweep takes only the rest."""

    def __init__(self) -> None:
        self.client: docker.DockerClient | None = None
        self.before = Inventory()

    def open(self, client: docker.DockerClient) -> None:
        """Note the engine's test objects now (the first call of the session counts)."""
        if self.client is None:
            self.before = dataclasses.replace(take(client), temp=frozenset())
            self.client = client

    def sweep(self) -> Inventory:
        """Remove what the run created; returns what is still there after trying."""
        remove(self.client, take(self.client) - self.before)
        return take(self.client) - self.before
