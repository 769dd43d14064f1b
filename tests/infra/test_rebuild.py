"""The drill: a real host is built by bootstrap.sh, filled, backed up, wiped, and brought back
by ``bootstrap.sh --env-file`` against the same store (PostgreSQL) and bucket (moto).

The host: a stand-in manager (a platform service), a Ship-style app with a dedicated
Postgres holding rows, a volume with files, an env secret and a route, a git-built service
with two releases (the second live), an extra token; backups taken. The wipe removes every
container, volume, network and built image of those services, the agent's slot folder, data
folder, env copy and run folder: what a lost host loses. What is asserted is what a person
would check: every service running and healthy, the same release live, rows and files
identical, the env value the same, every route file present, the extra token valid, the audit
history intact, a rollback to the earlier release working, and a third run that changes
nothing.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest

from matrx_ship.client import AgentClient
from tests.harness import GitApp, app_spec, engines, service_name, source_spec, wait_for
from tests.harness.agent import lose_host_objects, remove_service_objects
from tests.infra.test_bootstrap import Host, assert_nothing_changed, stop_supervisor

ROWS = "SELECT count(*), md5(string_agg(body, ',' ORDER BY id)) FROM items"
FILES = "cd /srv/files && find . -type f | sort | xargs md5sum"
KEY, SECRET = "AKIATESTTESTTEST0000", "test-secret-0123456789abcdef0123456789"


@pytest.fixture
def drill(
    tmp_path: Path,
    pg_url: str,
    moto: engines.Moto,
    app_image: str,
    docker_client: docker.DockerClient,
) -> Iterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    names = {
        "manager": service_name(f"m{tag}-"),
        "ship": service_name(f"s{tag}-"),
        "git": service_name(f"g{tag}-"),
    }
    bucket = "b-" + uuid.uuid4().hex[:10]
    boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    ).create_bucket(Bucket=bucket)
    platform = tmp_path / "platform"
    platform.mkdir()
    manager = app_spec(
        names["manager"],
        "${MATRX_TRAEFIK_IMAGE}",
        kind="manager",
        routes=[{"host": "manager.${MATRX_DOMAIN}", "port": 8080}],
    )
    (platform / "manager.json").write_text(json.dumps(manager))
    host = Host(tmp_path / "host")
    host.root.mkdir()
    port = engines.free_port()
    host.write(
        SUPABASE_DB_URL=pg_url,
        MATRX_ALLOW_SQLITE=None,
        MATRX_S3_BUCKET=bucket,
        MATRX_S3_PREFIX="drill",
        AWS_ENDPOINT_URL=moto.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        MATRX_AGENT_PORT=str(port),
        MATRX_PLATFORM_DIR=str(platform),
        MATRX_TRAEFIK_IMAGE=app_image,
        MATRX_PULL_IMAGES="false",
        MATRX_HEALTH_TIMEOUT="30",
        MATRX_POSTGRES_IMAGE=engines.build_postgres_image(docker_client),
    )
    yield {"host": host, "names": names, "url": f"http://127.0.0.1:{port}"}
    stop_supervisor(host)
    for name in names.values():
        remove_service_objects(docker_client, name)


def sql(client: docker.DockerClient, service: str, statement: str) -> str:
    [box] = client.containers.list(filters={"label": f"matrx.database_of={service}"})
    code, out = box.exec_run(["psql", "-U", "app", "-d", "app", "-AtXc", statement])
    assert code == 0, out
    return out.decode().strip()


def sh(client: docker.DockerClient, service: str, script: str) -> str:
    [box] = client.containers.list(filters={"label": f"matrx.service={service}"})
    result = box.exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def release_live(client: docker.DockerClient, service: str) -> str:
    [box] = client.containers.list(filters={"label": f"matrx.service={service}"})
    return str(box.labels.get("matrx.release"))


def done(api: AgentClient, job: dict[str, Any]) -> dict[str, Any]:
    finished = api.wait_job(job["id"], timeout=240)
    assert finished["status"] == "succeeded", finished
    return finished


def fill(
    api: AgentClient, client: docker.DockerClient, names: dict[str, str], app_image: str, repo: Path
) -> dict[str, Any]:
    """The host's services and data, backed up; what a person would check afterwards."""
    ship, built = names["ship"], names["git"]
    api.create_service(
        app_spec(
            ship,
            app_image,
            database={"db": "app", "user": "app"},
            volumes=[{"source": f"{ship}-files", "target": "/srv/files"}],
            env={"API_SECRET": "canary-77"},
            routes=[{"host": f"{ship}.example.test", "port": 8080}],
        )
    )
    sql(client, ship, "CREATE TABLE items (id serial PRIMARY KEY, body text)")
    sql(client, ship, "INSERT INTO items (body) SELECT md5(g::text) FROM generate_series(1, 400) g")
    sh(client, ship, "echo one > /srv/files/a; mkdir /srv/files/d; echo two > /srv/files/d/b")
    repo.mkdir()
    app = GitApp(repo, app_image)
    app.commit("1.0.0")
    api.create_service(source_spec(built, app_image, repo))
    one = done(api, api.build(built))["result"]["release"]
    done(api, api.deploy(built, one["id"]))
    app.commit("2.0.0")
    two = done(api, api.build(built))["result"]["release"]
    done(api, api.deploy(built, two["id"]))
    extra = api.create_token("ops-laptop", "operate")["token"]
    for name in (ship, built):
        done(api, api.request("POST", f"/v1/services/{name}/backups"))
    return {
        "rows": sql(client, ship, ROWS),
        "files": sh(client, ship, FILES),
        "one": one,
        "two": two,
        "token": extra,
        "audit": [e["id"] for e in api.audit(limit=200)["events"]],
    }


def wipe(host: Host, client: docker.DockerClient, names: dict[str, str], images: list[str]) -> None:
    stop_supervisor(host)
    lose_host_objects(client, names.values(), images)
    for path in (host.home, host.data, host.agent_env.parent, host.run_dir, host.root / "log"):
        shutil.rmtree(path, ignore_errors=True)


def test_a_wiped_host_comes_back_with_one_bootstrap_and_a_second_run_changes_nothing(
    drill: dict[str, Any], docker_client: docker.DockerClient, app_image: str, tmp_path: Path
) -> None:
    host, names = drill["host"], drill["names"]
    first = host.bootstrap(timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    admin = host.values["MATRX_ADMIN_TOKEN"]
    with AgentClient(drill["url"], admin) as api:
        was = fill(api, docker_client, names, app_image, tmp_path / "repo")
    routes = {p.name: p.read_text() for p in (host.data / "traefik").glob("*.yml")}
    assert {f"{names['manager']}.yml", f"{names['ship']}.yml"} <= set(routes)

    wipe(host, docker_client, names, [was["one"]["image"], was["two"]["image"]])
    again = host.bootstrap(timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"  {names['ship']}: restored from backup " in again.stdout, again.stdout
    assert "NEEDS A PERSON" not in again.stdout

    ship, built = names["ship"], names["git"]
    with AgentClient(drill["url"], admin) as api:
        for name in names.values():
            wait_for(lambda n=name: api.service(n)["status"]["health"] == "healthy", 30, name)
        assert release_live(docker_client, built) == was["two"]["id"]
        assert sql(docker_client, ship, ROWS) == was["rows"]
        assert sh(docker_client, ship, FILES) == was["files"]
        assert "API_SECRET=canary-77" in sh(docker_client, ship, "env")
        assert {p.name: p.read_text() for p in (host.data / "traefik").glob("*.yml")} == routes
        with AgentClient(drill["url"], was["token"]) as ops:
            assert ops.whoami().name == "ops-laptop"
        history = {e["id"] for e in api.audit(limit=500)["events"]}
        assert set(was["audit"]) <= history
        done(api, api.rollback(built))
        assert release_live(docker_client, built) == was["one"]["id"]
        done(api, api.deploy(built, was["two"]["id"]))  # the live release as before the drill

    assert_nothing_changed(host.bootstrap(timeout=300).stdout)
