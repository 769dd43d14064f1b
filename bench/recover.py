"""Recovery time of a wiped host against the sum of its raw steps, measured in the same run.

A host of ``--services`` services (default 10): a quarter of them (at least one) with a
dedicated Postgres holding about ``--mb`` MB of rows in total and a volume of files, a few
git-built services at their second release, the rest plain image services. Everything is
backed up to S3 (moto). Then the host is wiped: every container, volume, network and built
image of those services, and the agent's data folder. The state store (SQLite in a folder of
its own, as Postgres would be off the box) and the bucket stay.

Measured, in order:
  - RTO: from starting a fresh agent on the same store and bucket to "every service running,
    healthy, with its data": the agent's start, then one reconcile (POST /v1/system/reconcile).
  - the raw steps on the same host, after the recovery: every release image loaded again from
    its archive, ``pg_restore`` of every database dump into a fresh database, a fresh
    Postgres container per database started to accepting connections (its initdb), and every
    service's container started to its first passing health check.
Printed: the RTO, each raw step's total, the ratio RTO / raw steps (target <= 1.5), the
number of commands a person typed (one) and of services needing a person (target 0).

Run: .venv/bin/python -m bench.recover [--services 10] [--mb 200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import docker

from matrx_ship.client import AgentClient
from matrx_ship.models import ServiceSpec
from onbox_agent import archive, engine
from onbox_agent.backups import checked_read
from onbox_agent.databases import PGDATA
from tests.harness import GitApp, RunningAgent, agent_settings, app_spec, source_spec
from tests.harness.agent import lose_host_objects
from tests.harness.engines import Moto, build_busybox_app, build_postgres_image, docker_client

ROW_TEXT = " || ".join(["md5(random()::text)"] * 8)  # 256 random hex characters a row
ROWS_PER_MB = 3_300


def psql(client: docker.DockerClient, service: str, sql: str) -> str:
    [box] = client.containers.list(filters={"label": f"matrx.database_of={service}"})
    code, out = box.exec_run(["psql", "-U", "app", "-d", "app", "-AtXc", sql])
    if code != 0:
        raise RuntimeError(out.decode(errors="replace"))
    return str(out.decode().strip())


def job(api: AgentClient, started: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    done = api.wait_job(str(started["id"]), timeout=timeout)
    if done["status"] != "succeeded":
        raise RuntimeError(f"job {started['id']}: {done.get('error')}")
    return done


class Host:
    """The services of the benchmark's host, by role."""

    def __init__(self, count: int) -> None:
        tag = uuid.uuid4().hex[:4]
        self.db = [f"t-rec{tag}-db{i}" for i in range(max(1, count // 4))]
        self.git = [f"t-rec{tag}-git{i}" for i in range(max(1, count // 4))]
        rest = max(0, count - len(self.db) - len(self.git))
        self.plain = [f"t-rec{tag}-app{i}" for i in range(rest)]

    @property
    def all(self) -> list[str]:
        return self.db + self.git + self.plain


def build_host(
    api: AgentClient, client: docker.DockerClient, host: Host, image: str, mb: float, repo: Path
) -> tuple[dict[str, str], list[str]]:
    """Create every service, fill the databases and volumes, deploy two releases, back up.

    Returns each database's row digest and the release images (to wipe)."""
    per_db = max(1, int(ROWS_PER_MB * mb / len(host.db)))
    digests = {}
    for name in host.db:
        api.create_service(
            app_spec(
                name,
                image,
                database={"db": "app", "user": "app"},
                volumes=[{"source": f"{name}-files", "target": "/srv/files"}],
                env={"API_SECRET": secrets.token_hex(8)},
            )
        )
        psql(client, name, "CREATE TABLE events (id bigint PRIMARY KEY, body text)")
        for start in range(0, per_db, 100_000):
            end = min(start + 100_000, per_db)
            psql(
                client,
                name,
                f"INSERT INTO events SELECT g, {ROW_TEXT} "  # noqa: S608 - constants only
                f"FROM generate_series({start + 1}, {end}) g",
            )
        digests[name] = psql(
            client, name, "SELECT md5(string_agg(body, '' ORDER BY id)) FROM events"
        )
    app = GitApp(repo, image)
    app.commit("1.0.0")
    images = []
    for name in host.git:
        api.create_service(source_spec(name, image, repo))
    for version in ("1.0.0", "2.0.0"):
        if version != "1.0.0":
            app.commit(version)
        for name in host.git:
            release = job(api, api.build(name))["result"]["release"]
            job(api, api.deploy(name, release["id"]))
            images.append(release["image"])
    for name in host.plain:
        api.create_service(app_spec(name, image))
    for name in host.db + host.git:
        job(api, api.request("POST", f"/v1/services/{name}/backups"))
    return digests, images


def wipe(
    client: docker.DockerClient, agent: RunningAgent, names: list[str], images: list[str]
) -> None:
    agent.stop()
    lose_host_objects(client, names, images)
    shutil.rmtree(agent.settings.data_dir)


def raw_image_loads(agent: RunningAgent, host: Host) -> float:
    """Every live release image loaded from its archive, after removing it again."""
    rt, total = agent.runtime, 0.0
    for name in host.git:
        release = rt.records.release(rt.records.deployments(service=name)[0]["to_release"])
        with contextlib.suppress(docker.errors.APIError):
            rt.docker.images.remove(release["image"], force=True)
        started = time.perf_counter()
        archive.ensure_image_from_archive(rt.docker, rt.blobs, release)
        total += time.perf_counter() - started
    return total


def raw_pg_restores(agent: RunningAgent, host: Host) -> float:
    """``pg_restore`` of every database's dump (read from the bucket) into a fresh database."""
    rt, total = agent.runtime, 0.0
    for name in host.db:
        [backup] = rt.backup_catalog.find(service=name, kind="service", status="succeeded", limit=1)
        part = next(p for p in backup["parts"] if p["kind"] == "database")
        fresh = f"raw_{secrets.token_hex(3)}"
        started = time.perf_counter()
        with checked_read(rt, part) as reader:
            rt.databases.restore_into(name, fresh, reader.chunks())
        total += time.perf_counter() - started
        info, box = rt.databases.running_db(name)
        rt.databases.drop(box, info, fresh)
    return total


def raw_starts(agent: RunningAgent, host: Host) -> float:
    """Every service's image started as a bare container, to its first passing health check."""
    rt, total = agent.runtime, 0.0
    for name in host.all:
        spec: ServiceSpec = rt.specs.get(name)
        [live] = rt.docker.containers.list(filters={"label": f"matrx.service={name}"})
        started = time.perf_counter()
        box = rt.docker.containers.run(
            live.attrs["Config"]["Image"], detach=True, name=f"raw-{name}", network_disabled=True
        )
        try:
            result = engine.wait_healthy(box, spec, 120)
            if not result.healthy:
                raise RuntimeError(f"{name}: {result.reason}")
            total += time.perf_counter() - started
        finally:
            box.remove(force=True)
    return total


def raw_database_starts(agent: RunningAgent, host: Host) -> float:
    """A fresh Postgres container (new volume: initdb) per database, to accepting connections."""
    rt, total = agent.runtime, 0.0
    for name in host.db:
        info = rt.databases.info(name)
        volume = f"raw-{secrets.token_hex(3)}"
        started = time.perf_counter()
        box = rt.docker.containers.run(
            info.image,
            detach=True,
            name=f"raw-{name}-db",
            environment={"POSTGRES_USER": info.user, "POSTGRES_PASSWORD": info.password},
            volumes={volume: {"bind": PGDATA, "mode": "rw"}},
            network_disabled=True,
        )
        try:
            rt.databases.wait_ready(box, 120)
            total += time.perf_counter() - started
        finally:
            box.remove(force=True, v=True)
            with contextlib.suppress(docker.errors.APIError):
                rt.docker.volumes.get(volume).remove(force=True)
    return total


def breakdown(result: dict[str, Any]) -> str:
    """Seconds per reconcile action, summed over services."""
    per: dict[str, float] = {}
    for service in result["services"].values():
        for step in service["steps"]:
            per[step["action"]] = per.get(step["action"], 0.0) + step["seconds"]
    return ", ".join(f"{a} {s:.1f} s" for a, s in sorted(per.items(), key=lambda x: -x[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--mb", type=float, default=200.0)
    args = ap.parse_args()
    client = docker_client()
    moto = Moto()
    moto.start()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ[key] = value
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=bucket)
    work = Path(tempfile.mkdtemp(prefix="matrx-bench-recover-"))
    settings = agent_settings(
        work / "data",
        database_url=f"sqlite:///{work / 'store.db'}",  # off the wiped folder, as Postgres is
        s3_bucket=bucket,
        s3_endpoint_url=moto.endpoint,
        postgres_image=build_postgres_image(client),
        health_timeout=120.0,
    )
    host = Host(args.services)
    agents: list[RunningAgent] = []
    try:
        run(client, settings, host, args.mb, work, agents)
    finally:
        for agent in agents:
            with contextlib.suppress(Exception):
                agent.close()
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(
    client: docker.DockerClient,
    settings: Any,
    host: Host,
    mb: float,
    work: Path,
    agents: list[RunningAgent],
) -> None:
    image = build_busybox_app(client)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores: figures are relative)")
    first = RunningAgent(settings).start()
    agents.append(first)
    api = first.client()
    repo = work / "repo"
    repo.mkdir()
    t0 = time.perf_counter()
    digests, images = build_host(api, client, host, image, mb, repo)
    sizes = [int(psql(client, n, "SELECT pg_database_size('app')")) for n in host.db]
    print(
        f"host: {len(host.all)} services ({len(host.db)} with a database, {len(host.git)} "
        f"git-built at their 2nd release, {len(host.plain)} plain); databases "
        f"{sum(sizes) / 1e6:.0f} MB in total; built and backed up in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    api.close()
    agents.remove(first)
    wipe(client, first, host.all, images)
    first.runtime.store.dispose()

    started = time.perf_counter()
    second = RunningAgent(settings).start()  # what bootstrap's last step starts
    agents.append(second)
    api = second.client()
    reconciled = job(api, api.request("POST", "/v1/system/reconcile"))
    result = reconciled["result"]
    for name in host.all:
        status = api.service(name)["status"]
        if status["state"] != "running":
            raise RuntimeError(f"{name} is {status['state']} after the reconcile")
    rto = time.perf_counter() - started
    lost = [
        n
        for n in host.db
        if psql(client, n, "SELECT md5(string_agg(body, '' ORDER BY id)) FROM events") != digests[n]
    ]
    failed = result.get("failed") or []

    loads = raw_image_loads(second, host)
    restores = raw_pg_restores(second, host)
    starts = raw_starts(second, host)
    db_starts = raw_database_starts(second, host)
    raw = loads + restores + starts + db_starts
    print(f"RTO (agent start + one reconcile, to all running with data): {rto:6.1f} s")
    print(f"  by reconcile step: {breakdown(result)}")
    for event in api.job_events(reconciled["id"]):
        line = str(event.get("line", ""))
        if line.startswith("restored the database"):
            print(f"  {line}")
    print(
        f"raw steps: image loads {loads:.1f} s + pg_restore {restores:.1f} s + database "
        f"starts to ready {db_starts:.1f} s + app starts to healthy {starts:.1f} s = {raw:.1f} s"
    )
    print(f"ratio RTO / raw steps: {rto / raw:.2f}  (target <= 1.5)")
    print("commands typed: 1 (bootstrap.sh runs this reconcile)")
    print(f"services needing a person: {len(failed)} {failed or ''} (target 0)")
    print(f"databases whose rows differ from before the wipe: {len(lost)} {lost or ''}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    api.close()


if __name__ == "__main__":
    main()
