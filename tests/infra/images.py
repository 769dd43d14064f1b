"""Builds the repository's images on local bases, for the tests (no registry here).

The bases are cached by content and kept between runs: a Debian root with python3 made by
tests/images/python/build-root.sh (a tar under ``engines.PG_CACHE``, imported as
``matrx-test/python-rootfs:<key>``), the test Postgres image from ``engines``, and the
console's dependency stage (``matrx-test/console-deps:<key>``, keyed by the locks). What a
test builds on top of them gets a tag of its own that the test removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.models.containers import Container

from tests.harness import engines

ROOT = engines.ROOT
PYTHON_ROOT_SCRIPT = engines.IMAGES / "python" / "build-root.sh"
EXTRA_CAS = Path("/usr/local/share/ca-certificates")
CONSOLE_DEPS_INPUTS = ("pyproject.toml", "uv.lock", "dashboard/package-lock.json",
                       "dashboard/fetch_assets.py", "dashboard/Dockerfile")


@dataclass
class Built:
    tag: str
    seconds: float
    size_bytes: int


def _key(*blobs: bytes) -> str:
    digest = hashlib.sha256()
    for blob in blobs:
        digest.update(hashlib.sha256(blob).digest())
    return digest.hexdigest()[:12]


def _exists(client: docker.DockerClient, tag: str) -> bool:
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return True
    return False


@contextlib.contextmanager
def _cache_lock(name: str) -> Iterator[None]:
    engines.PG_CACHE.mkdir(parents=True, exist_ok=True)
    with open(engines.PG_CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be building it right now
        yield


def python_base(client: docker.DockerClient) -> str:
    """The imported Debian root with python3 and pip, from the cached tar (built when missing)."""
    cas = b"".join(p.read_bytes() for p in sorted(EXTRA_CAS.glob("*.crt")))
    key = _key(PYTHON_ROOT_SCRIPT.read_bytes(), cas)
    tag = f"matrx-test/python-rootfs:{key}"
    with _cache_lock("python-root"):
        if _exists(client, tag):
            return tag
        tar = engines.PG_CACHE / f"python-root-{key}.tar"
        if not tar.exists():
            subprocess.run([str(PYTHON_ROOT_SCRIPT), str(tar)], check=True)
        repository, _, tagname = tag.partition(":")
        client.api.import_image_from_file(str(tar), repository=repository, tag=tagname)
    return tag


def build(client: docker.DockerClient, tag: str, path: Path, **kwargs: object) -> Built:
    """``docker build`` that raises with the log's tail when a step fails."""
    started = time.monotonic()
    log: list[str] = []
    for chunk in client.api.build(path=str(path), tag=tag, rm=True, forcerm=True, pull=False,
                                  decode=True, **kwargs):
        if "error" in chunk:
            raise RuntimeError(f"build of {tag} failed: {chunk['error']}\n" + "".join(log[-30:]))
        log.append(chunk.get("stream", ""))
    seconds = round(time.monotonic() - started, 1)
    return Built(tag, seconds, int(client.images.get(tag).attrs["Size"]))


def console_deps(client: docker.DockerClient, base: str) -> str:
    """The console Dockerfile's ``deps`` stage, built once per lock content and kept as cache."""
    key = _key(base.encode(), *((ROOT / f).read_bytes() for f in CONSOLE_DEPS_INPUTS))
    tag = f"matrx-test/console-deps:{key}"
    with _cache_lock("console-deps"):
        if not _exists(client, tag):
            build(client, tag, ROOT, dockerfile="dashboard/Dockerfile", target="deps",
                  buildargs={"BASE": base})
    return tag


def console_image(client: docker.DockerClient) -> Built:
    """The manager console's image from dashboard/Dockerfile on the local python base."""
    base = python_base(client)
    console_deps(client, base)  # the full build below reuses its layers
    tag = f"matrx-test/console:t-{uuid.uuid4().hex[:8]}"
    return build(client, tag, ROOT, dockerfile="dashboard/Dockerfile", buildargs={"BASE": base})


def postgres_image(client: docker.DockerClient) -> Built:
    """The dedicated-database image from infra/postgres on the test Postgres image."""
    base = engines.build_postgres_image(client)
    tag = f"matrx-test/infra-postgres:t-{uuid.uuid4().hex[:8]}"
    return build(client, tag, ROOT / "infra" / "postgres", buildargs={"BASE": base})


def wait_healthy(container: Container, timeout: float) -> None:
    """Waits until Docker reports the container healthy; raises with its logs otherwise."""
    def healthy() -> bool:
        container.reload()
        if container.status == "exited":
            raise RuntimeError(container.logs().decode()[-2000:])
        return bool(container.attrs["State"].get("Health", {}).get("Status") == "healthy")

    try:
        engines.wait_for(healthy, timeout, f"{container.name} healthy", interval=0.5)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\n{container.logs().decode()[-2000:]}") from exc


@contextlib.contextmanager
def private_network(client: docker.DockerClient) -> Iterator[str]:
    """A Docker network of the test's own, removed afterwards."""
    network = client.networks.create(f"matrx-t-img-{uuid.uuid4().hex[:8]}", driver="bridge")
    try:
        yield str(network.name)
    finally:
        network.remove()


def remove_image(client: docker.DockerClient, tag: str) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(tag, force=True)
