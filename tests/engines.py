"""Real engines for the tests: dockerd, a private PostgreSQL cluster, moto's S3 server.

Each starter is idempotent: it reuses what already runs and starts what does not.
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
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
IMAGES = Path(__file__).resolve().parent / "images"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check, timeout: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
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
    subprocess.run([str(ROOT / "scripts" / "start-docker.sh")], check=True)
    client = docker.from_env(timeout=120)
    client.ping()
    return client


def build_busybox_app(client: docker.DockerClient) -> str:
    """The busybox test app image, built once per content and reused."""
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
        self.dir = Path(tempfile.mkdtemp(prefix="matrx-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
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
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run(
                str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"
            )

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"


class Moto:
    """moto in server mode on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
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
