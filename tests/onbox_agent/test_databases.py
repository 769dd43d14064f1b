"""A dedicated Postgres per service, on the real engine with the debootstrap Postgres image."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import docker
import psycopg
import pytest
from sqlalchemy import delete

from matrx_ship.client import AgentClient, AgentError
from matrx_ship.errors import InvalidInput, MatrxError
from matrx_ship.store.dbtables import DatabaseRow
from onbox_agent import databases
from tests.harness import RunningAgent, agent_settings, app_spec, engines

# --- pure units ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "keyword"),
    [
        ("select 1", "select"),
        ("  SELECT * FROM t;  ", "select"),
        ("with x as (select 1) select * from x", "with"),
        ("explain select 1", "explain"),
        ("show server_version", "show"),
        ("TABLE orders", "table"),
        ("values (1), (2)", "values"),
    ],
)
def test_read_only_statements_are_accepted(sql: str, keyword: str) -> None:
    statement, got = databases.readonly_statement(sql)
    assert got == keyword and not statement.endswith(";")


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("insert into t values (1)", "not_read_only"),
        ("delete from t", "not_read_only"),
        ("/* hi */ select 1", "not_read_only"),
        ("\\! sh", "not_read_only"),
        ("select 1; drop table t", "multiple_statements"),
        ("select ';'", "multiple_statements"),
        (" ; ", "empty_statement"),
    ],
)
def test_anything_else_is_refused(sql: str, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        databases.readonly_statement(sql)
    assert err.value.code == code


def test_the_row_limit_is_applied_by_the_server_except_for_explain_and_show() -> None:
    assert databases.limited("select 1", "select", 10).endswith("LIMIT 11")
    assert databases.limited("show all", "show", 10) == "show all"


def test_psql_csv_keeps_nulls_apart_and_drops_a_cut_line() -> None:
    text = 'a,b\n1,\\N\n"x,y",\n3,partial'
    assert databases.parse_csv(text, truncated=True) == [["a", "b"], ["1", None], ["x,y", ""]]


def test_the_scram_verifier_has_postgres_format_and_no_password() -> None:
    verifier = databases.scram_verifier("hunter2-secret")
    assert verifier.startswith("SCRAM-SHA-256$4096:") and "hunter2" not in verifier


# --- over the real engine -----------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_image(docker_client: docker.DockerClient) -> str:
    return engines.build_postgres_image(docker_client)


MADE: list[str] = []  # the services this module made, whose databases it removes at the end


def remove_database_resources(client: docker.DockerClient, service: str) -> None:
    for c in client.containers.list(
        all=True, filters={"label": f"{databases.DATABASE_OF}={service}"}
    ):
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)
    _, volume, network = databases.resource_names(service)
    for remove in (
        lambda: client.networks.get(network).remove(),
        lambda: client.volumes.get(volume).remove(force=True),
    ):
        for _ in range(50):  # an endpoint may linger a moment after its container is gone
            try:
                remove()
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:
                time.sleep(0.2)


@pytest.fixture(scope="module")
def db_agent(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    pg_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """A real agent whose services get their databases from the debootstrap image."""
    name = "m_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    settings = agent_settings(
        tmp_path_factory.mktemp("agent"), database_url=postgres.url(name), postgres_image=pg_image
    )
    running = RunningAgent(settings).start()
    yield running
    running.remove_containers()
    for service in MADE:
        remove_database_resources(docker_client, service)
    running.stop()


@pytest.fixture
def client(db_agent: RunningAgent) -> Iterator[AgentClient]:
    c = db_agent.client()
    yield c
    c.close()


def new_service(db_agent: RunningAgent, app_image: str, **overrides: Any) -> str:
    """Create a service with a database (the spec joins its db network explicitly for now)."""
    name = "t-" + uuid.uuid4().hex[:8]
    MADE.append(name)
    spec = app_spec(
        name, app_image, networks=["matrx-test", f"{name}-db-net"], database={}, **overrides
    )
    with db_agent.client() as c:
        c.create_service(spec)
    return name


@pytest.fixture(scope="module")
def shop(db_agent: RunningAgent, app_image: str) -> str:
    """One service with a database for the read-only tests."""
    return new_service(db_agent, app_image)


def app_env(client: docker.DockerClient, service: str) -> dict[str, str]:
    (c,) = client.containers.list(filters={"label": f"matrx.service={service}"})
    return dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])


def psql_in_db(client: docker.DockerClient, service: str, sql: str) -> str:
    """What a person would do: psql inside the database container."""
    c = client.containers.get(f"{service}-db")
    code, out = c.exec_run(["psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-U", "app", "-d",
                            "app", "-c", sql])
    assert code == 0, out
    return out.decode().strip()


def connect_from(client: docker.DockerClient, image: str, network: str, url: str) -> str:
    """psql with the URL from a throwaway container on ``network`` (as the app would)."""
    out = client.containers.run(
        image, ["sh", "-c", 'psql "$DATABASE_URL" -X -tA -c "select current_user"'],
        environment={"DATABASE_URL": url, "PGCONNECT_TIMEOUT": "5"}, network=network,
        remove=True,
    )
    return out.decode().strip()


def test_a_service_with_a_database_gets_a_healthy_db_and_a_url_that_connects(
    db_agent: RunningAgent, client: AgentClient, docker_client: docker.DockerClient,
    shop: str, pg_image: str,
) -> None:
    db = docker_client.containers.get(f"{shop}-db")
    assert db.labels["matrx.kind"] == "database" and db.labels["matrx.database_of"] == shop
    assert "matrx.service" not in db.labels
    engines.wait_for(lambda: docker_client.containers.get(f"{shop}-db").health == "healthy",
                     20, "docker health of the database")
    net = docker_client.networks.get(f"{shop}-db-net")
    assert net.attrs["Internal"] is True
    url = app_env(docker_client, shop)["DATABASE_URL"]
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path, parts.username) == (
        f"{shop}-db", 5432, "/app", "app")
    assert connect_from(docker_client, pg_image, f"{shop}-db-net", url) == "app"
    status = client.request("GET", f"/v1/databases/{shop}")
    assert status["state"] == "running" and status["connection_ok"] is True
    assert status["server_version"].startswith("15") and status["size_bytes"] > 1_000_000
    assert status["connections"] >= 1 and status["max_connections"] >= status["connections"]
    assert "DATABASE_URL" not in client.service(shop)["spec"]["env"]


def test_the_password_is_encrypted_at_rest_and_never_shown(
    db_agent: RunningAgent, client: AgentClient, docker_client: docker.DockerClient, shop: str
) -> None:
    password = urlsplit(app_env(docker_client, shop)["DATABASE_URL"]).password
    assert password and len(password) >= 24
    store_url = db_agent.settings.store_url.replace("+psycopg", "")
    with psycopg.connect(store_url) as conn:
        row = conn.execute("SELECT * FROM databases WHERE service = %s", (shop,)).fetchone()
        services = conn.execute("SELECT spec::text FROM services").fetchall()
    assert row is not None and any(str(v).startswith("enc:v1:") for v in row)
    assert password not in str(row) and password not in str(services)
    shown = [
        client.request("GET", "/v1/databases"),
        client.request("GET", f"/v1/databases/{shop}"),
        client.request("GET", "/v1/databases/audit"),
        client.service(shop),
    ]
    assert password not in json.dumps(shown)


@pytest.fixture(scope="module")
def orders(docker_client: docker.DockerClient, shop: str) -> str:
    psql_in_db(docker_client, shop, """
        CREATE SCHEMA shop;
        CREATE TABLE shop.orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric);
        CREATE INDEX orders_customer_idx ON shop.orders (customer);
        INSERT INTO shop.orders (customer, total)
            SELECT 'c' || g, g * 1.5 FROM generate_series(1, 42) g;
        ANALYZE shop.orders;
    """)
    return shop


def test_the_schema_browser_shows_tables_columns_and_indexes(
    client: AgentClient, orders: str
) -> None:
    listing = client.request("GET", f"/v1/databases/{orders}/schemas")
    schemas = {s["name"]: s["tables"] for s in listing["schemas"]}
    assert "public" in schemas
    (table,) = schemas["shop"]
    assert (table["name"], table["kind"], table["row_estimate"]) == ("orders", "table", 42)
    detail = client.request("GET", f"/v1/databases/{orders}/tables/shop/orders")
    assert [(c["name"], c["type"], c["nullable"]) for c in detail["columns"]] == [
        ("id", "integer", False), ("customer", "text", False), ("total", "numeric", True)]
    indexes = {i["name"]: i for i in detail["indexes"]}
    assert indexes["orders_pkey"]["primary"] is True
    assert "(customer)" in indexes["orders_customer_idx"]["definition"]
    with pytest.raises(AgentError) as err:
        client.request("GET", f"/v1/databases/{orders}/tables/shop/nothing")
    assert err.value.status == 404


def query(client: AgentClient, service: str, sql: str, **kw: Any) -> dict[str, Any]:
    return client.request("POST", f"/v1/databases/{service}/query", json={"sql": sql, **kw})


def refused(client: AgentClient, service: str, sql: str, **kw: Any) -> AgentError:
    with pytest.raises(AgentError) as err:
        query(client, service, sql, **kw)
    return err.value


def test_the_console_returns_columns_and_rows_and_is_audited_with_the_query(
    client: AgentClient, orders: str
) -> None:
    sql = "select customer, total, null as note from shop.orders order by id limit 3;"
    result = query(client, orders, sql)
    assert result["columns"] == ["customer", "total", "note"]
    assert result["rows"] == [["c1", "1.5", None], ["c2", "3.0", None], ["c3", "4.5", None]]
    assert result["truncated"] is False
    refused(client, orders, "delete from shop.orders")
    events = client.audit(target=orders, action="POST /v1/databases/{service}/query")["events"]
    assert [(e["detail"]["sql"], e["outcome"]) for e in events[:2]] == [
        ("delete from shop.orders", "failed"), (sql, "allowed")]


def test_the_console_refuses_every_write(client: AgentClient, orders: str) -> None:
    assert refused(client, orders, "insert into shop.orders (customer) values ('x')").code == (
        "not_read_only")
    assert refused(client, orders, "select 1; drop table shop.orders").code == (
        "multiple_statements")
    cte = "with d as (delete from shop.orders returning *) select count(*) from d"
    assert refused(client, orders, cte).code == "query_failed"
    err = refused(client, orders, "explain analyze delete from shop.orders")
    assert err.code == "query_failed" and "read-only transaction" in err.message
    err = refused(client, orders, "select pg_read_file('/etc/hostname')")
    assert err.code == "query_failed" and "permission denied" in err.message
    assert query(client, orders, "select count(*) from shop.orders")["rows"] == [["42"]]


def test_the_console_enforces_its_row_limit_and_timeout(client: AgentClient, orders: str) -> None:
    result = query(client, orders, "select * from shop.orders", limit=10)
    assert result["row_count"] == 10 and len(result["rows"]) == 10 and result["truncated"]
    result = query(client, orders, "select generate_series(1, 5000)", limit=1000)
    assert len(result["rows"]) == 1000 and result["truncated"]
    assert refused(client, orders, "select 1", limit=1001).status == 422
    assert refused(client, orders, "select 1", timeout_s=31).status == 422
    started = time.monotonic()
    err = refused(client, orders, "select pg_sleep(5)", timeout_s=1)
    assert "statement timeout" in err.message and time.monotonic() - started < 4


def test_reading_needs_read_and_querying_or_repairing_needs_operate(
    db_agent: RunningAgent, client: AgentClient, shop: str
) -> None:
    reader = db_agent.client(client.create_token(f"r-{shop}", "read")["token"])
    assert reader.request("GET", f"/v1/databases/{shop}")["service"] == shop
    for path in (f"/v1/databases/{shop}/query", f"/v1/databases/{shop}/repair"):
        with pytest.raises(AgentError) as err:
            reader.request("POST", path, json={"sql": "select 1"})
        assert err.value.status == 403


def findings(client: AgentClient, service: str) -> set[str]:
    report = client.request("GET", "/v1/databases/audit", params={"service": service})
    return {f["code"] for f in report["findings"] if f["service"] == service}


def test_audit_finds_a_stopped_db_and_a_detached_app_and_repair_fixes_both(
    client: AgentClient, docker_client: docker.DockerClient, db_agent: RunningAgent,
    app_image: str,
) -> None:
    svc = new_service(db_agent, app_image)
    assert findings(client, svc) == set()
    psql_in_db(docker_client, svc, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    docker_client.containers.get(f"{svc}-db").stop()
    (app,) = docker_client.containers.list(filters={"label": f"matrx.service={svc}"})
    docker_client.networks.get(f"{svc}-db-net").disconnect(app)
    assert findings(client, svc) == {"db_not_running", "app_not_on_network"}
    repaired = client.request("POST", f"/v1/databases/{svc}/repair")
    assert f"started container {svc}-db" in repaired["actions"]
    assert f"connected {app.name} to {svc}-db-net" in repaired["actions"]
    assert repaired["check"]["connects"] is True and repaired["check"]["findings"] == []
    assert findings(client, svc) == set()
    assert psql_in_db(docker_client, svc, "select n from kept") == "7"


def test_audit_finds_a_removed_db_and_repair_recreates_it_with_its_data(
    client: AgentClient, docker_client: docker.DockerClient, db_agent: RunningAgent,
    app_image: str, pg_image: str,
) -> None:
    svc = new_service(db_agent, app_image)
    psql_in_db(docker_client, svc, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    docker_client.containers.get(f"{svc}-db").remove(force=True)
    assert findings(client, svc) == {"db_missing"}
    status = client.request("GET", f"/v1/databases/{svc}")
    assert (status["state"], status["connection_ok"]) == ("missing", False)
    repaired = client.request("POST", f"/v1/databases/{svc}/repair")
    assert repaired["actions"] == [f"created container {svc}-db"]
    assert findings(client, svc) == set()
    assert psql_in_db(docker_client, svc, "select n from kept") == "7"
    url = app_env(docker_client, svc)["DATABASE_URL"]
    assert connect_from(docker_client, pg_image, f"{svc}-db-net", url) == "app"
    client.delete_service(svc)  # the database outlives its service, and the audit says so
    orphans = [f for f in client.request("GET", "/v1/databases/audit")["findings"]
               if f["service"] == svc]
    assert [f["code"] for f in orphans] == ["orphan_database"]
    assert docker_client.containers.get(f"{svc}-db").status == "running"


def test_a_lost_record_gets_a_new_password_and_repair_recreates_the_app_with_it(
    client: AgentClient, docker_client: docker.DockerClient, db_agent: RunningAgent,
    app_image: str,
) -> None:
    svc = new_service(db_agent, app_image)
    old_url = app_env(docker_client, svc)["DATABASE_URL"]
    with db_agent.runtime.store.session() as s:
        s.execute(delete(DatabaseRow).where(DatabaseRow.service == svc))
    assert findings(client, svc) == {"no_record"}
    repaired = client.request("POST", f"/v1/databases/{svc}/repair")
    assert any(a.startswith("recreated the app as") for a in repaired["actions"])
    assert repaired["check"]["connects"] is True and repaired["check"]["url_current"] is True
    new_url = app_env(docker_client, svc)["DATABASE_URL"]
    assert new_url != old_url and urlsplit(new_url).hostname == f"{svc}-db"
    assert findings(client, svc) == set()


def test_audit_flags_an_app_that_expects_a_database_it_does_not_have(
    client: AgentClient, db_agent: RunningAgent, app_image: str
) -> None:
    name = "t-" + uuid.uuid4().hex[:8]
    env = {"DATABASE_URL": "postgresql://u:pw-canary@nowhere-db:5432/x", "POSTGRES_USER": "u"}
    client.create_service(app_spec(name, app_image, env=env))
    report = client.request("GET", "/v1/databases/audit", params={"service": name})
    mine = {f["code"]: f for f in report["findings"] if f["service"] == name}
    assert set(mine) == {"expects_database", "host_unresolved"}
    assert "nowhere-db" in mine["host_unresolved"]["message"] and report["ok"] is False
    assert "pw-canary" not in json.dumps(report)


def test_backups_can_dump_restore_count_and_swap_through_the_container(
    db_agent: RunningAgent, docker_client: docker.DockerClient, app_image: str, pg_image: str
) -> None:
    rt, svc = db_agent.runtime, new_service(db_agent, app_image)
    psql_in_db(docker_client, svc, "CREATE TABLE t AS SELECT generate_series(1, 500) AS n")
    dump = b"".join(rt.databases.dump_stream(svc))
    assert dump.startswith(b"PGDMP")
    rt.databases.restore_into(svc, "app_restored", iter([dump[:1000], dump[1000:]]))
    assert rt.databases.table_counts(svc, "app_restored") == {"public.t": 500}
    psql_in_db(docker_client, svc, "INSERT INTO t VALUES (501)")
    assert rt.databases.table_counts(svc) == {"public.t": 501}
    with pytest.raises(MatrxError) as err:
        rt.databases.restore_into(svc, "app_bad", iter([b"not a dump"]))
    assert err.value.code == "restore_failed"
    with pytest.raises(InvalidInput):
        rt.databases.restore_into(svc, "app", iter([dump]))
    old = rt.databases.swap_database(svc, "app_restored")
    assert old.startswith("app_old_")
    assert rt.databases.table_counts(svc) == {"public.t": 500}
    assert rt.databases.table_counts(svc, old) == {"public.t": 501}
    url = app_env(docker_client, svc)["DATABASE_URL"]
    assert connect_from(docker_client, pg_image, f"{svc}-db-net", url) == "app"
    names = psql_in_db(docker_client, svc, "select string_agg(datname, ',') from pg_database")
    assert "app_bad" not in names and "app_restored" not in names
