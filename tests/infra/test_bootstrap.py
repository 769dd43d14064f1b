"""bootstrap.sh run for real: its refusals (fast: no engine), then a fresh host and a second run.

The refusals run the real script against a real env file and assert what a person sees:
exit 2, the variable named, "nothing was changed", and nothing created (no MATRX_HOME, no
data folder, no agent env file). The engine test bootstraps a fresh MATRX_HOME with the
fallback supervisor against a real PostgreSQL store and moto's S3, with a stand-in platform
service (the busybox test app) in MATRX_PLATFORM_DIR instead of Traefik and the console,
whose images cannot be had here and whose ports (80, 443) are the host's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import docker
import pytest

from matrx_ship.crypto import SecretBox
from matrx_ship.store import Store
from matrx_ship.store.backuptables import BackupCatalog
from matrx_ship.store.canary import ensure_canary
from tests.harness import engines, service_name
from tests.harness.agent import remove_service_objects
from tests.infra.procs import REPO, alive, wait_for

SCRIPT = REPO / "bootstrap.sh"
PYTHON_ENV = Path(sys.executable).parent.parent  # the environment running these tests


@dataclass
class Host:
    """A host's paths under one temporary folder, and the env file bootstrap reads."""

    root: Path
    values: dict[str, str] = field(default_factory=dict)
    script: Path = SCRIPT

    def __post_init__(self) -> None:
        self.home = self.root / "opt"
        self.data = self.root / "data"
        self.agent_env = self.root / "etc" / "agent.env"
        self.run_dir = self.root / "run"
        self.env_file = self.root / "host.env"
        self.values = {
            "MATRX_HOME": str(self.home),
            "MATRX_DATA_DIR": str(self.data),
            "MATRX_ENV_FILE": str(self.agent_env),
            "MATRX_LOG_DIR": str(self.root / "log"),
            "MATRX_RUN_DIR": str(self.run_dir),
            "MATRX_SUPERVISOR": "fallback",
            "MATRX_PYTHON_ENV": str(PYTHON_ENV),
            "MATRX_ADMIN_TOKEN": "adm_" + uuid.uuid4().hex,
            "MATRX_MASTER_KEY": "mk_" + uuid.uuid4().hex,
            "MATRX_ALLOW_SQLITE": "1",
            "SUPABASE_DB_URL": f"sqlite:///{self.root / 'store' / 'state.db'}",
            "MATRX_DOMAIN": "example.test",
            "MATRX_REPO": str(REPO),
            "MATRX_CONSOLE_AGENT_URL": "http://127.0.0.1:8700",
            **self.values,
        }

    def write(self, **changes: str | None) -> Path:
        for key, value in changes.items():
            if value is None:
                self.values.pop(key, None)
            else:
                self.values[key] = value
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.values.items()))
        return self.env_file

    def bootstrap(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.script), "--env-file", str(self.env_file), *args],
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def nothing_created(self) -> bool:
        return not any(p.exists() for p in (self.home, self.data, self.agent_env, self.run_dir))


def refused(result: subprocess.CompletedProcess[str], variable: str) -> bool:
    return (
        result.returncode == 2
        and "nothing was changed" in result.stderr
        and f"  {variable}: " in result.stderr
    )


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_a_missing_env_file_is_refused(host: Host) -> None:
    result = host.bootstrap()
    assert refused(result, "--env-file"), result.stderr
    assert f"{host.env_file} does not exist" in result.stderr
    assert host.nothing_created()


def test_a_placeholder_secret_is_refused(host: Host) -> None:
    host.write(MATRX_MASTER_KEY="change-me")
    result = host.bootstrap()
    assert refused(result, "MATRX_MASTER_KEY"), result.stderr
    assert "MATRX_MASTER_KEY: is a placeholder" in result.stderr
    assert host.nothing_created()


def test_a_store_url_that_is_not_postgres_is_refused(host: Host) -> None:
    host.write(
        SUPABASE_DB_URL="mysql://matrx:pw@db.example.com/matrx",
        MATRX_ALLOW_SQLITE=None,
        MATRX_S3_BUCKET="bkt",
        AWS_ACCESS_KEY_ID="AKIA0123456789ABCDEF",
        AWS_SECRET_ACCESS_KEY="0123456789abcdef0123456789abcdef01234567",
    )
    result = host.bootstrap()
    assert refused(result, "SUPABASE_DB_URL"), result.stderr
    assert "is a mysql URL, not PostgreSQL" in result.stderr
    assert host.nothing_created()


def test_sqlite_is_refused_unless_allowed(host: Host) -> None:
    host.write(
        MATRX_ALLOW_SQLITE=None,
        MATRX_S3_BUCKET="bkt",
        AWS_ACCESS_KEY_ID="AKIA0123456789AB",
        AWS_SECRET_ACCESS_KEY="0123456789abcdef0123456789abcdef01234567",
    )
    result = host.bootstrap()
    assert refused(result, "SUPABASE_DB_URL"), result.stderr
    assert "MATRX_ALLOW_SQLITE=1" in result.stderr
    assert host.nothing_created()


def test_an_unreachable_store_is_refused(host: Host) -> None:
    url = f"postgresql://matrx:s3cret-pw@127.0.0.1:{engines.free_port()}/matrx"
    host.write(SUPABASE_DB_URL=url)
    result = host.bootstrap()
    assert refused(result, "SUPABASE_DB_URL"), result.stderr
    assert "cannot be reached" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert host.nothing_created()


def test_a_wrong_master_key_is_refused_by_the_store_s_canary(host: Host) -> None:
    store = Store(host.values["SUPABASE_DB_URL"])
    store.migrate()
    ensure_canary(store, SecretBox("the-key-the-store-was-made-with"))
    store.dispose()
    host.write()
    result = host.bootstrap()
    assert refused(result, "MATRX_MASTER_KEY"), result.stderr
    assert "does not decrypt the store's canary" in result.stderr
    assert host.nothing_created()


def test_a_line_that_is_not_key_value_is_refused_without_showing_it(host: Host) -> None:
    host.write()
    with host.env_file.open("a") as f:
        f.write("MATRX_MASTER_KEY: s3cret-value-0123456789\n")
    result = host.bootstrap()
    assert refused(result, "--env-file"), result.stderr
    assert f"line {len(host.values) + 1} of {host.env_file} is not KEY=VALUE" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert host.nothing_created()


def test_an_unknown_argument_is_refused_with_the_usage(host: Host) -> None:
    result = subprocess.run(
        [str(SCRIPT), "--env-flie", "x"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 64 and "usage:" in result.stderr
    assert host.nothing_created()


# --- the engine test -----------------------------------------------------------------------------


@pytest.fixture
def fresh_host(
    tmp_path: Path,
    pg_url: str,
    moto: engines.Moto,
    app_image: str,
    docker_client: docker.DockerClient,
) -> Iterator[tuple[Host, str]]:
    """A fresh host: PostgreSQL store, moto's S3, a stand-in platform service, no agent yet."""
    name = service_name("boot-")
    bucket = "b-" + uuid.uuid4().hex[:10]
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIATESTTESTTEST0000",
        aws_secret_access_key="test-secret-0123456789abcdef0123456789",
    )
    s3.create_bucket(Bucket=bucket)
    platform = tmp_path / "platform"
    platform.mkdir()
    spec = {
        "$comment": "a stand-in for Traefik: the busybox test app",
        "name": name,
        "kind": "infra",
        "image": "${MATRX_TRAEFIK_IMAGE}",
        "networks": [f"{name}-net"],
        "health": {
            "http_path": "/healthz",
            "port": 8080,
            "interval_s": 1,
            "timeout_s": 1,
            "retries": 2,
        },
        "routes": [{"host": "proxy.${MATRX_DOMAIN}", "port": 8080}],
    }
    (platform / "standin.json").write_text(json.dumps(spec))
    host = Host(tmp_path / "host")
    host.root.mkdir()
    port = engines.free_port()
    host.write(
        SUPABASE_DB_URL=pg_url,
        MATRX_ALLOW_SQLITE=None,
        MATRX_S3_BUCKET=bucket,
        MATRX_S3_PREFIX="bootstrap-test",
        AWS_ENDPOINT_URL=moto.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="AKIATESTTESTTEST0000",
        AWS_SECRET_ACCESS_KEY="test-secret-0123456789abcdef0123456789",
        MATRX_AGENT_PORT=str(port),
        MATRX_PLATFORM_DIR=str(platform),
        MATRX_TRAEFIK_IMAGE=app_image,
        MATRX_PULL_IMAGES="false",
        MATRX_HEALTH_TIMEOUT="30",
    )
    yield host, name
    stop_supervisor(host)
    remove_service_objects(docker_client, name)
    for net in docker_client.networks.list(names=[f"{name}-net"]):
        net.remove()


def stop_supervisor(host: Host) -> None:
    pidfile = host.run_dir / "matrx-agent-supervise.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not alive(pid), 30, "the supervisor to stop")


def containers(client: docker.DockerClient, service: str) -> list[str]:
    return [
        str(c.name) for c in client.containers.list(filters={"label": f"matrx.service={service}"})
    ]


def test_bootstrap_brings_a_fresh_host_up_and_a_second_run_changes_nothing(
    fresh_host: tuple[Host, str], docker_client: docker.DockerClient
) -> None:
    host, name = fresh_host
    check = host.bootstrap("--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "    would unpack" in check.stdout and host.nothing_created()

    first = host.bootstrap(timeout=240)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "install-agent: the supervisor is running" in out
    assert "==> waiting for the agent to be ready (GET /readyz)\n    ready" in out
    assert f"registered {name}: running and healthy" in out
    assert f"summary:\n  {name}: https://proxy.example.test\n" in out
    assert (host.home / "current").resolve().parent == host.home / "slots"
    assert containers(docker_client, name)

    second = host.bootstrap(timeout=240)
    assert second.returncode == 0, second.stdout + second.stderr
    assert_nothing_changed(second.stdout)


def test_the_reconcile_brings_back_what_the_host_lost(
    fresh_host: tuple[Host, str], docker_client: docker.DockerClient
) -> None:
    host, name = fresh_host
    assert host.bootstrap(timeout=240).returncode == 0
    for c in docker_client.containers.list(all=True, filters={"label": f"matrx.service={name}"}):
        c.remove(force=True)  # the host lost the service's container; the store still has it

    check = host.bootstrap("--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"    would apply: 1 step(s)\n    start {name} spec image" in check.stdout
    assert not containers(docker_client, name)  # --check changed nothing

    again = host.bootstrap(timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"    start {name}" in again.stdout  # the plan, printed before the job runs
    assert "    job " in again.stdout and "NEEDS A PERSON" not in again.stdout
    assert containers(docker_client, name)
    assert_nothing_changed(host.bootstrap(timeout=240).stdout)


def agent_environment(host: Host) -> str:
    """The running agent's environment ("" while it is being replaced)."""
    try:
        pid = (host.run_dir / "matrx-agent.pid").read_text().strip()
        return Path(f"/proc/{pid}/environ").read_text().replace("\0", "\n")
    except OSError:
        return ""


def test_a_changed_env_file_reaches_the_running_agent(fresh_host: tuple[Host, str]) -> None:
    host, _ = fresh_host
    assert host.bootstrap(timeout=240).returncode == 0
    assert "MATRX_LOG_LEVEL=DEBUG" not in agent_environment(host)
    host.write(MATRX_LOG_LEVEL="DEBUG")
    changed = host.bootstrap(timeout=240)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "the env file changed: stopping the supervisor" in changed.stdout
    wait_for(lambda: "MATRX_LOG_LEVEL=DEBUG" in agent_environment(host), 30, "the new agent")
    assert_nothing_changed(host.bootstrap(timeout=240).stdout)


def assert_nothing_changed(stdout: str) -> None:
    """Every step that changes something says "already done"; the reconcile has nothing to do."""
    lines = stdout.splitlines()
    steps = [i for i, line in enumerate(lines) if line.startswith("==> ")]
    for start, end in zip(steps, [*steps[1:], len(lines)], strict=True):
        if lines[start].startswith(("==> reading", "==> checking", "==> waiting")):
            continue  # these change nothing on any run
        body = lines[start + 1 : end]
        done = ("already done", "nothing to do")
        assert any(w in line for line in body for w in done), lines[start]
    assert "    nothing to do: the host already matches the store" in lines
    changes = ("    installed ", "    created ", "    registered ", "    unpacked ", "    copied ")
    assert [line for line in lines if line.startswith(changes)] == []


def test_a_bucket_prefix_without_the_catalog_s_backups_is_refused(
    fresh_host: tuple[Host, str], moto: engines.Moto
) -> None:
    host, _ = fresh_host
    store = Store(host.values["SUPABASE_DB_URL"])
    store.migrate()
    ensure_canary(store, SecretBox(host.values["MATRX_MASTER_KEY"]))
    catalog = BackupCatalog(store)
    catalog.add(
        id="bak_old1",
        kind="service",
        service="shop",
        trigger="scheduled",
        actor="t",
        prefix="backups/shop/1/",
    )
    catalog.update("bak_old1", status="succeeded", manifest_key="backups/shop/1/manifest.json")
    store.dispose()
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id=host.values["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=host.values["AWS_SECRET_ACCESS_KEY"],
    )
    s3.put_object(
        Bucket=host.values["MATRX_S3_BUCKET"],
        Key="old-host/backups/shop/1/manifest.json",
        Body=b"{}",
    )

    host.write(MATRX_S3_PREFIX="new-host")  # a rebuilt host with another name
    result = host.bootstrap()
    assert refused(result, "MATRX_S3_PREFIX"), result.stdout + result.stderr
    assert "the service backup of shop the store names as newest (bak_old1" in result.stderr
    assert host.nothing_created()

    host.write(MATRX_S3_PREFIX="old-host")
    check = host.bootstrap("--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "the env file, the store, the master key and the backups check out" in check.stdout
    assert host.nothing_created()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def agent_slot(host: Host) -> Path | None:
    """The slot the running agent runs from (its working directory)."""
    try:
        pid = (host.run_dir / "matrx-agent.pid").read_text().strip()
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def test_a_new_commit_gets_its_own_slot_and_the_old_one_stays_previous(
    fresh_host: tuple[Host, str], tmp_path: Path
) -> None:
    host, _ = fresh_host
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(REPO), str(src)], check=True)
    host.script = src / "bootstrap.sh"
    assert host.bootstrap(timeout=240).returncode == 0
    old = (host.home / "current").resolve()
    assert old.name == git(src, "rev-parse", "HEAD")
    wait_for(lambda: agent_slot(host) == old, 30, "the agent in the first slot")

    (src / "NEXT").write_text("the next release of the agent\n")
    git(src, "add", "NEXT")
    git(src, "commit", "-q", "-m", "next")
    again = host.bootstrap(timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    new = host.home / "slots" / git(src, "rev-parse", "HEAD")
    assert (host.home / "current").resolve() == new
    assert (host.home / "previous").resolve() == old and old.is_dir()
    assert "the slot changed: restarting the agent (SIGHUP" in again.stdout
    wait_for(lambda: agent_slot(host) == new, 30, "the agent in the new slot")
    assert_nothing_changed(host.bootstrap(timeout=240).stdout)


def test_a_platform_service_that_cannot_start_is_reported_and_the_rest_goes_on(
    fresh_host: tuple[Host, str],
) -> None:
    host, name = fresh_host
    host.write(MATRX_TRAEFIK_IMAGE="matrx-test/not-on-this-host:1")  # and pulls are off
    result = host.bootstrap(timeout=240)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"    NEEDS A PERSON: could not register {name}: " in result.stdout
    assert "==> the reconcile: make the host match the store" in result.stdout
    assert "summary:" in result.stdout
    assert "  NEEDS A PERSON: a platform service could not be registered (above)" in result.stdout
