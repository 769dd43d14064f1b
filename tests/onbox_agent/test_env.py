"""Environment variables: masked, encrypted at rest, applied through the health gate,
revealed only to admins with an audit line; a canary secret never leaks."""

from __future__ import annotations

import json
import logging

import docker
import httpx
import pytest
from sqlalchemy import text

from matrx_ship.client import AgentClient, AgentError
from tests.harness import RunningAgent, app_spec

CANARY = "canary-7f3e9b1c-secret"


def env_of(client: docker.DockerClient, name: str) -> list[str]:
    [c] = client.containers.list(filters={"label": f"matrx.service={name}"})
    return list(c.attrs["Config"]["Env"])


def test_set_unset_import_and_export(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image, env={"A": "1", "B": "2"}))
    out = admin.request(
        "PUT", f"/v1/services/{svc_name}/env", json={"set": {"C": "3"}, "unset": ["A"]}
    )
    assert out["env"] == {"B": "••••••", "C": "••••••"} and out["health"]["healthy"] is True
    assert {"B=2", "C=3"} <= set(env_of(docker_client, svc_name))
    assert not any(e.startswith("A=") for e in env_of(docker_client, svc_name))
    dotenv = "# comment\nexport D=\"with space\"\nE='single'\nF=plain # trailing\n"
    admin.request("POST", f"/v1/services/{svc_name}/env/import", json={"dotenv": dotenv})
    exported = admin.request("GET", f"/v1/services/{svc_name}/env/export")
    assert exported.splitlines() == ['B="2"', 'C="3"', 'D="with space"', 'E="single"', 'F="plain"']
    admin.request(
        "POST", f"/v1/services/{svc_name}/env/import", json={"dotenv": "ONLY=1\n", "replace": True}
    )
    assert admin.request("GET", f"/v1/services/{svc_name}/env")["env"] == {"ONLY": "••••••"}
    with pytest.raises(AgentError) as info:
        admin.request("POST", f"/v1/services/{svc_name}/env/import", json={"dotenv": "no equals"})
    assert info.value.code == "bad_dotenv" and "Line 1" in info.value.message


def test_a_failed_apply_keeps_the_old_container_and_values(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image, env={"KEEP": "old"}))
    before = env_of(docker_client, svc_name)
    with pytest.raises(AgentError) as info:
        admin.request(
            "PUT",
            f"/v1/services/{svc_name}/env",
            params={"timeout": 3},
            json={"set": {"KEEP": "new", "UNHEALTHY": "1"}},
        )
    assert info.value.status == 504
    assert env_of(docker_client, svc_name) == before
    assert admin.request("GET", f"/v1/services/{svc_name}/env/KEEP/reveal")["value"] == "old"


def test_reveal_needs_admin_and_every_attempt_is_audited(
    agent: RunningAgent, admin: AgentClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image, env={"TOKEN": "s3cr3t-value"}))
    operator = agent.client(admin.create_token(f"op-{svc_name}", "operate")["token"])
    with pytest.raises(AgentError) as info:
        operator.request("GET", f"/v1/services/{svc_name}/env/TOKEN/reveal")
    assert info.value.status == 403
    assert admin.request("GET", f"/v1/services/{svc_name}/env/TOKEN/reveal") == {
        "key": "TOKEN",
        "value": "s3cr3t-value",
    }
    events = [e for e in admin.audit(target=f"{svc_name}/TOKEN")["events"]]
    assert [(e["outcome"], e["actor"]) for e in events] == [
        ("allowed", "bootstrap-admin"),
        ("denied", f"op-{svc_name}"),
    ]
    assert "s3cr3t-value" not in json.dumps(events)


def test_a_canary_secret_never_leaks(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def call(method: str, path: str, **kw: object) -> None:
        r = httpx.request(
            method,
            f"{agent.url}{path}",
            timeout=60,
            headers={"Authorization": f"Bearer {agent.admin_token}"},
            **kw,
        )  # type: ignore[arg-type]
        seen.append(r.text)

    spec = app_spec(svc_name, app_image, env={"API_KEY": CANARY})
    call("POST", "/v1/services", json=spec)
    call("PUT", f"/v1/services/{svc_name}/env", json={"set": {"OTHER": CANARY}})
    call("PUT", f"/v1/services/{svc_name}/env", json={"set": {"BAD-KEY": CANARY}})  # 422
    call("POST", "/v1/services", json={**spec, "cpus": -1})  # 422 with the canary in the body
    call("POST", "/v1/services", json=spec)  # 409 duplicate
    call(
        "PUT",
        f"/v1/services/{svc_name}/env",
        params={"timeout": 2},
        json={"set": {"UNHEALTHY": "1", "X": CANARY}},
    )  # 504
    for path in (
        "/v1/services",
        f"/v1/services/{svc_name}",
        f"/v1/services/{svc_name}/env",
        f"/v1/services/{svc_name}/logs",
        "/v1/audit?limit=1000",
        "/readyz",
        "/v1/deployments",
        "/v1/jobs",
        "/metrics",
    ):
        call("GET", path)
    assert CANARY in " ".join(env_of(docker_client, svc_name))  # it did reach the container
    assert not [t for t in seen if CANARY in t]
    assert CANARY not in caplog.text
    with agent.runtime.store.engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(text("SELECT spec FROM services")))
        audit = " ".join(str(r) for r in conn.execute(text("SELECT detail FROM audit_events")))
    assert CANARY not in stored and "enc:v1:" in stored
    assert CANARY not in audit
    revealed = admin.request("GET", f"/v1/services/{svc_name}/env/API_KEY/reveal")
    assert revealed["value"] == CANARY  # only an explicit reveal shows it
