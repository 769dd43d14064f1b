"""Health, readiness, metrics, tokens, and the sweep: every route but /healthz needs a token."""

from __future__ import annotations

import re

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from matrx_ship.client import AgentClient, AgentError
from matrx_ship.models import Scope
from tests.harness import RunningAgent

OPEN = {("GET", "/healthz")}
PARAMS = {"release_id": "rel_000000000000", "job_id": "job_0000000000000000", "key": "NOPE",
          "backup_id": "bak_000000000000"}


def routes(agent: RunningAgent) -> list[tuple[str, str, str]]:
    """(method, path, scope needed) for every route in the OpenAPI document."""
    spec = httpx.get(f"{agent.url}/openapi.json").json()
    out = []
    for path, methods in spec["paths"].items():
        for method in methods:
            concrete = re.sub(r"\{(\w+)\}", lambda m: PARAMS.get(m.group(1), "t-nobody"), path)
            out.append((method.upper(), concrete, path))
    return out


def test_healthz_is_open_and_says_nothing_sensitive(agent: RunningAgent) -> None:
    r = httpx.get(f"{agent.url}/healthz")
    assert r.status_code == 200 and set(r.json()) == {"status", "version"}


def test_readyz_checks_dependencies_and_warns_about_embedded_blobs(admin: AgentClient) -> None:
    ready = admin.readyz()
    assert ready["ready"] is True
    assert set(ready["checks"]) == {"docker", "store", "blobs", "master_key"}
    assert ready["durable"] is False
    assert any("blob store is a local folder" in w for w in ready["warnings"])
    assert not any("state store" in w for w in ready["warnings"])  # this agent runs on PostgreSQL


def test_metrics_need_a_token_and_count_requests(agent: RunningAgent, admin: AgentClient) -> None:
    assert httpx.get(f"{agent.url}/metrics").status_code == 401
    admin.healthz()
    text = admin.metrics()
    assert "matrx_agent_requests_total" in text and 'route="/healthz"' in text


def test_every_route_refuses_no_token_and_a_wrong_token(agent: RunningAgent) -> None:
    checked = 0
    for method, path, template in routes(agent):
        if (method, template) in OPEN:
            continue
        for headers in ({}, {"Authorization": "Bearer msk_wrong"}):
            r = httpx.request(method, f"{agent.url}{path}", headers=headers, json={})
            assert r.status_code == 401, (method, template, r.status_code, r.text)
            assert r.json()["error"] == "unauthorized" and r.json()["hint"]
        checked += 1
    assert checked >= 15


def test_mutating_routes_refuse_a_read_token(agent: RunningAgent, admin: AgentClient) -> None:
    reader = admin.create_token("sweep-reader", "read")["token"]
    refused = 0
    for method, path, template in routes(agent):
        if method == "GET":
            continue
        r = httpx.request(
            method, f"{agent.url}{path}", json={}, headers={"Authorization": f"Bearer {reader}"}
        )
        assert r.status_code == 403, (method, template, r.text)
        assert r.json()["error"] == "forbidden"
        refused += 1
    assert refused >= 7
    r = httpx.get(f"{agent.url}/v1/tokens", headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403


@pytest.mark.parametrize(
    "path", ["/v1/services/t-nobody/exec", "/v1/services/t-nobody/logs/follow"]
)
def test_websockets_are_refused_before_accept(agent: RunningAgent, path: str) -> None:
    url = agent.url.replace("http", "ws") + path
    with pytest.raises(InvalidStatus) as info:
        connect(url, open_timeout=5)
    assert info.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as info:
        connect(url, additional_headers={"Authorization": "Bearer msk_wrong"}, open_timeout=5)
    assert info.value.response.status_code == 401


def test_tokens_are_shown_once_and_revocation_takes_effect(
    agent: RunningAgent, admin: AgentClient
) -> None:
    created = admin.create_token("ops-laptop", "operate", expires_in_days=30)
    raw = created["token"]
    listed = {t.name: t for t in admin.tokens()}
    assert listed["ops-laptop"].scope == Scope.operate
    assert (
        raw
        not in httpx.get(
            f"{agent.url}/v1/tokens", headers={"Authorization": f"Bearer {agent.admin_token}"}
        ).text
    )
    assert listed["ops-laptop"].last_used_at is None
    ops = agent.client(raw)
    assert ops.services()["services"] is not None
    used = {t.name: t for t in admin.tokens()}["ops-laptop"].last_used_at
    assert used is not None  # who still uses a token is known before rotating it
    ops.services()
    assert {t.name: t for t in admin.tokens()}["ops-laptop"].last_used_at == used
    admin.revoke_token("ops-laptop")
    with pytest.raises(AgentError) as info:
        ops.services()
    assert info.value.status == 401


def test_the_bootstrap_token_cannot_be_revoked_over_the_api(admin: AgentClient) -> None:
    with pytest.raises(AgentError) as info:
        admin.revoke_token("bootstrap-admin")
    assert info.value.status == 409 and info.value.code == "bootstrap_token"
    assert admin.healthz()["status"] == "ok"
