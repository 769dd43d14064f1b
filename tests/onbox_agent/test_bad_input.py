"""Bad input gets a clear JSON error (code, message, hint) and changes nothing."""

from __future__ import annotations

from typing import Any

import docker
import httpx
import pytest

from tests.harness import RunningAgent, app_spec


def state(agent: RunningAgent, client: docker.DockerClient) -> tuple[Any, ...]:
    services = agent.client().services()["services"]
    containers = sorted(
        c.name for c in client.containers.list(all=True, filters={"label": "matrx.managed=true"})
    )
    return ([s["name"] for s in services], containers)


def call(agent: RunningAgent, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {agent.admin_token}", **kw.pop("headers", {})}
    return httpx.request(method, f"{agent.url}{path}", headers=headers, timeout=30, **kw)


def assert_clear(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"error", "message", "hint"}
    assert body["message"].endswith(".") and body["hint"]
    if code:
        assert body["error"] == code


BAD_NAMES = [
    "..%2F..%2Fetc",
    "a;rm -rf x",
    "x" * 300,
    "w%D0%B5b",
    "WEB",
    "web--x",
    "%00web",
    "web%0A",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_service_names_in_urls(
    agent: RunningAgent, docker_client: docker.DockerClient, name: str
) -> None:
    before = state(agent, docker_client)
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/restart"), ("GET", "/logs")):
        r = call(agent, method, f"/v1/services/{name}{suffix}")
        assert r.status_code in (404, 422), (method, suffix, r.text)
        assert_clear(r, r.status_code)
    assert state(agent, docker_client) == before


@pytest.mark.parametrize("name", ["../x", "a b", "名前", "web\u200b", "x" * 41, "rm;id"])
def test_invalid_names_in_a_spec(
    agent: RunningAgent, docker_client: docker.DockerClient, app_image: str, name: str
) -> None:
    before = state(agent, docker_client)
    r = call(agent, "POST", "/v1/services", json=app_spec(name, app_image))
    assert_clear(r, 422, "invalid_input")
    assert "name" in r.json()["message"]
    assert state(agent, docker_client) == before


def test_malformed_and_oversized_json(
    agent: RunningAgent, docker_client: docker.DockerClient
) -> None:
    before = state(agent, docker_client)
    r = call(
        agent,
        "POST",
        "/v1/services",
        content=b'{"name": "t-x", "image": ',
        headers={"content-type": "application/json"},
    )
    assert_clear(r, 422, "malformed_json")
    big = b'{"name": "t-big", "image": "x", "labels": {"a": "' + b"x" * 2_000_000 + b'"}}'
    r = call(
        agent, "POST", "/v1/services", content=big, headers={"content-type": "application/json"}
    )
    assert_clear(r, 413, "payload_too_large")
    r = call(agent, "POST", "/v1/services", json=["not", "an", "object"])
    assert_clear(r, 422, "invalid_input")
    assert state(agent, docker_client) == before


def test_nul_bytes_are_refused_anywhere(
    agent: RunningAgent, app_image: str, docker_client: docker.DockerClient
) -> None:
    before = state(agent, docker_client)
    assert_clear(call(agent, "GET", "/v1/audit", params={"actor": "a\x00b"}), 422, "nul_byte")
    spec = app_spec("t-nul", app_image, labels={"note": "a\x00b"})
    assert_clear(call(agent, "POST", "/v1/services", json=spec), 422, "nul_byte")
    assert state(agent, docker_client) == before


def test_unknown_service_and_route(agent: RunningAgent) -> None:
    assert_clear(call(agent, "GET", "/v1/services/t-unknown"), 404, "not_found")
    assert_clear(call(agent, "GET", "/v1/nothing-here"), 404, "no_such_route")
    assert_clear(call(agent, "PATCH", "/v1/services"), 405, "method_not_allowed")


def test_name_in_body_must_match_the_url(
    agent: RunningAgent, app_image: str, svc_name: str
) -> None:
    agent.client().create_service(app_spec(svc_name, app_image))
    r = call(agent, "PUT", f"/v1/services/{svc_name}", json=app_spec("t-other", app_image))
    assert_clear(r, 422, "name_mismatch")


def test_a_duplicate_service_is_a_conflict(
    agent: RunningAgent, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    agent.client().create_service(app_spec(svc_name, app_image))
    before = state(agent, docker_client)
    r = call(agent, "POST", "/v1/services", json=app_spec(svc_name, app_image))
    assert_clear(r, 409, "already_exists")
    assert state(agent, docker_client) == before


def test_validation_errors_never_echo_secret_values(agent: RunningAgent, app_image: str) -> None:
    spec = app_spec("t-leak", app_image, env={"TOKEN": "canary-91f"}, cpus=-1)
    r = call(agent, "POST", "/v1/services", json=spec)
    assert_clear(r, 422)
    assert "canary-91f" not in r.text
