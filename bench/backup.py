"""Backup throughput to S3 against a plain ``pg_dump -Fc > /dev/null``, and restore time.

A service gets a dedicated Postgres filled with about 1 GB of random text rows (made
inside the db container with generate_series). In the same run, on the same database:
  - ``pg_dump -Fc > /dev/null`` inside the db container (the baseline), before and after,
  - a backup through the agent to S3 (moto on loopback): the dump streamed out of
    ``docker exec``, hashed and uploaded multipart, plus row counts, spec and manifest,
  - a restore of that backup (fresh database, row counts checked, swap, health gate).
Printed: both throughputs (database bytes per second), their ratio (target >= 0.8), the
dump size, the CPU seconds the agent, moto and dockerd spent during the backup (on 2 cores
they compete with pg_dump, so other load on the machine moves the ratio), and the restore
time.

Run: .venv/bin/python -m bench.backup [--gb 1.0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import docker

from matrx_ship.client import AgentClient
from tests.harness import app_spec, start_agent
from tests.harness.engines import Moto, build_busybox_app, build_postgres_image, docker_client

SERVICE = "t-bench-backup"
ROW_TEXT = " || ".join(["md5(random()::text)"] * 8)  # 256 random hex characters a row
ROWS_PER_GB = 3_300_000


def psql(box: docker.models.containers.Container, sql: str) -> str:
    code, out = box.exec_run(["psql", "-U", "app", "-d", "app", "-AtXc", sql])
    if code != 0:
        raise RuntimeError(out.decode(errors="replace"))
    return str(out.decode().strip())


def fill(box: docker.models.containers.Container, gb: float) -> int:
    """Make about ``gb`` GB of rows in batches; returns the database size in bytes."""
    psql(box, "CREATE TABLE events (id bigint, body text)")
    total, batch = int(ROWS_PER_GB * gb), 500_000
    for start in range(0, total, batch):
        end = min(start + batch, total)
        psql(
            box,
            f"INSERT INTO events SELECT g, {ROW_TEXT} "  # noqa: S608 - constants only
            f"FROM generate_series({start + 1}, {end}) g",
        )
    psql(box, "VACUUM ANALYZE events")
    return int(psql(box, "SELECT pg_database_size('app')"))


def plain_dump(box: docker.models.containers.Container) -> float:
    """Seconds for ``pg_dump -Fc > /dev/null`` inside the db container."""
    started = time.perf_counter()
    code, out = box.exec_run(["sh", "-c", "pg_dump -Fc -U app -d app > /dev/null"])
    if code != 0:
        raise RuntimeError(out.decode(errors="replace"))
    return time.perf_counter() - started


def timed_job(api: AgentClient, method: str, path: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    job = api.request(method, path)
    done = api.wait_job(str(job["id"]), timeout=3600)
    if done["status"] != "succeeded":
        raise RuntimeError(f"{path}: {done['error']}")
    return time.perf_counter() - started, job


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mb_s(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
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
    agent = start_agent(
        s3_bucket=bucket,
        s3_endpoint_url=moto.endpoint,
        postgres_image=build_postgres_image(client),
        health_timeout=120.0,
    )
    api = agent.client()
    dockerd = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    pids = {"agent": os.getpid(), "moto": moto.proc.pid if moto.proc else 0}
    pids |= {"dockerd": int(dockerd[0])} if dockerd else {}
    try:
        run(api, client, args.gb, pids)
    finally:
        agent.close()
        moto.stop()


def run(api: AgentClient, client: docker.DockerClient, gb: float, pids: dict[str, int]) -> None:
    image = build_busybox_app(client)
    api.create_service(app_spec(SERVICE, image, database={"db": "app", "user": "app"}))
    [box] = client.containers.list(filters={"label": f"matrx.database_of={SERVICE}"})
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores: figures are relative)")
    t0 = time.perf_counter()
    size = fill(box, gb)
    print(
        f"database: {size / 1e9:.2f} GB of random text rows, made in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    before = plain_dump(box)
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    backup_s, job = timed_job(api, "POST", f"/v1/services/{SERVICE}/backups")
    cpu = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
    after = plain_dump(box)
    baseline = (before + after) / 2
    row = api.request("GET", f"/v1/backups/{job['params']['backup_id']}")  # type: ignore[index]
    dump = next(p for p in row["parts"] if p["kind"] == "database")
    print(
        f"pg_dump -Fc > /dev/null : {before:6.1f} s and {after:6.1f} s  "
        f"-> {mb_s(size, baseline):6.1f} MB/s of database"
    )
    print(
        f"backup to S3 (moto)     : {backup_s:6.1f} s               "
        f"-> {mb_s(size, backup_s):6.1f} MB/s of database "
        f"(dump {dump['size'] / 1e6:.0f} MB, sha256 {dump['sha256'][:12]}…)"
    )
    print(f"ratio backup/baseline   : {baseline / backup_s:.2f}  (target >= 0.8)")
    print("CPU during the backup   : " + ", ".join(f"{n} {s:.1f} s" for n, s in cpu.items()))
    restore_s, _ = timed_job(api, "POST", f"/v1/backups/{row['id']}/restore")
    print(
        f"restore (fresh db, counts checked, swap, health gate, old dropped): {restore_s:.1f} s "
        f"-> {mb_s(size, restore_s):.1f} MB/s of database"
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
