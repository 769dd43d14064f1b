"""Real engines for the tests: dockerd, a private PostgreSQL cluster, moto's S3 server.

Each starter is idempotent: it reuses what already runs and starts what does not. Under
pytest every starter first asks ``require_engine``: a test that is not marked ``engine``
must never start one, or the fast lane (``-m "not engine"``) would quietly start them.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import docker
import psycopg

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "tests" / "images"
T = TypeVar("T")

# Set by tests/conftest.py around each test: None outside pytest (bench/), else whether the
# running test is marked `engine`, and its id for the error.
_engine_allowed: tuple[bool, str] | None = None


def allow_engines(allowed: bool | None, test: str = "") -> None:
    """Say whether the test about to run may start engines (None: not under pytest)."""
    global _engine_allowed
    _engine_allowed = None if allowed is None else (allowed, test)


def require_engine(what: str) -> None:
    """Refuse to start ``what`` inside a test that is not marked ``engine``."""
    if _engine_allowed is not None and not _engine_allowed[0]:
        raise RuntimeError(
            f"{_engine_allowed[1]} starts {what} but is not marked engine: give it an engine "
            "fixture (tests/conftest.py ENGINE_FIXTURES) or `pytestmark = pytest.mark.engine`"
        )


_temp_dirs: list[Path] = []


def temp_dir(prefix: str) -> Path:
    """A new temporary folder; the session sweep removes it if its owner did not."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _temp_dirs.append(path)
    return path


def made_temp_dirs() -> list[Path]:
    """Every folder ``temp_dir`` made in this process."""
    return list(_temp_dirs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy (returned); TimeoutError names ``what``.

    Exceptions from ``check`` count as "not yet" and the last one is in the error.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s (last error: {last})")


def docker_client() -> docker.DockerClient:
    """A client of the machine's engine; starts dockerd when none answers."""
    require_engine("dockerd")
    subprocess.run([str(ROOT / "scripts" / "start-docker.sh")], check=True)
    client = docker.from_env(timeout=120)
    client.ping()
    return client


def build_busybox_app(client: docker.DockerClient) -> str:
    """The busybox test app image, built once per content and reused."""
    require_engine("an image build")
    src = IMAGES / "busybox-app"
    busybox = Path("/bin/busybox")
    digest = hashlib.sha256()
    for f in sorted(src.iterdir()):
        digest.update(f.read_bytes())
    digest.update(busybox.read_bytes())
    tag = f"matrx-test/busybox-app:{digest.hexdigest()[:12]}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return tag
    with tempfile.TemporaryDirectory() as tmp:
        for f in src.iterdir():
            shutil.copy(f, tmp)
        shutil.copy(busybox, Path(tmp) / "busybox")
        client.images.build(path=tmp, tag=tag, rm=True)
    return tag


class Postgres:
    """A private PostgreSQL cluster on a free loopback port, trust auth, run as 'postgres'."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed: run scripts/test.sh")
        self.bin = Path(bins[-1]).parent
        self.dir = temp_dir("matrx-pg-")
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        """Start the cluster (created on the first start) and wait until it accepts."""
        require_engine("PostgreSQL")
        data = self.dir / "data"
        if not data.exists():  # a restart reuses the cluster
            self.run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                     "--no-sync", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.dir / "log"),
            "-o",
            opts,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Stop the cluster; its data stays, so a test can start it again (the store coming
        back after an outage). The session sweep removes the folder."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run(
                str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"
            )

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, prefix: str = "t_") -> str:
        """A new, empty database named ``prefix`` + random hex; its name."""
        name = prefix + uuid.uuid4().hex[:12]
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database even while clients are still connected to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(statement)


class Moto:
    """moto in server mode on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start moto_server and wait until its port accepts."""
        require_engine("moto")
        exe = Path(sys.executable).parent / "moto_server"
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), 0.5), 20, "moto")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


PG_CACHE = Path(os.environ.get("MATRX_TEST_CACHE", "/var/cache/matrx-test"))


def build_postgres_image(client: docker.DockerClient) -> str:
    """A Postgres image with the official image's interface, built from Debian with debootstrap.

    The Debian root is a tar cached under ``PG_CACHE`` (keyed by build-root.sh), so a second
    run on the same machine only imports it; the image is tagged by the content hash of
    tests/images/postgres and reused while it exists.
    """
    require_engine("an image build")
    src = IMAGES / "postgres"
    root_key = hashlib.sha256((src / "build-root.sh").read_bytes()).hexdigest()[:12]
    digest = hashlib.sha256()
    for f in sorted(src.iterdir()):
        digest.update(f.name.encode() + f.read_bytes())
    tag = f"matrx-test/postgres:{digest.hexdigest()[:12]}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return tag
    import fcntl

    PG_CACHE.mkdir(parents=True, exist_ok=True)
    with open(PG_CACHE / "postgres.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be building it right now
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.get(tag)
            return tag
        rootfs = _postgres_rootfs(client, src, root_key)
        client.images.build(
            path=str(src), tag=tag, rm=True, buildargs={"ROOTFS": rootfs}, pull=False
        )
    return tag


def _postgres_rootfs(client: docker.DockerClient, src: Path, key: str) -> str:
    """The imported Debian root with PostgreSQL 15, from the cached tar (built when missing)."""
    rootfs = f"matrx-test/postgres-rootfs:{key}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(rootfs)
        return rootfs
    tar = PG_CACHE / f"postgres-root-{key}.tar"
    if not tar.exists():
        subprocess.run([str(src / "build-root.sh"), str(tar)], check=True)
    repository, _, tagname = rootfs.partition(":")
    client.api.import_image_from_file(str(tar), repository=repository, tag=tagname)
    return rootfs
