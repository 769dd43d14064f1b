"""The client's typed methods: the agent's JSON as the models of matrx_ship.api, and an
answer of another shape (an agent of another version) as an AgentError, never a crash."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from matrx_ship.api.backups import Backup
from matrx_ship.client import AgentClient, AgentError

BACKUP = {
    "id": "bak_000000000001",
    "kind": "service",
    "service": "shop",
    "trigger": "manual",
    "actor": "alice",
    "status": "succeeded",
    "created_at": "2026-05-01T10:00:00Z",
    "prefix": "backups/shop/",
    "parts": [{"kind": "spec", "name": "spec", "key": "k", "size": 3, "sha256": "f" * 64}],
}


def answering(routes: dict[str, Any]) -> AgentClient:
    """A client whose agent answers ``routes[path]`` as JSON (a pure unit: no network)."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = routes.get(request.url.path)
        if callable(body):
            return body(request)  # type: ignore[no-any-return]
        return httpx.Response(200, json=body)

    client = AgentClient("http://agent.test", "tok")
    client.http = httpx.Client(base_url=client.base_url, transport=httpx.MockTransport(handle))
    return client


def test_a_typed_method_returns_the_model() -> None:
    client = answering({"/v1/databases": {"databases": [{"service": "shop", "state": "running"}]}})
    assert client.databases().databases[0].state == "running"


def test_a_list_is_a_list_of_models_with_their_parts() -> None:
    client = answering({"/v1/services/shop/backups": [BACKUP]})
    [backup] = client.service_backups("shop")
    assert isinstance(backup, Backup) and backup.parts[0].kind == "spec"
    assert backup.created_at.year == 2026


def test_an_answer_of_another_shape_is_an_agent_error() -> None:
    client = answering({"/v1/services/shop/backups": [{**BACKUP, "parts": "none"}]})
    with pytest.raises(AgentError) as info:
        client.service_backups("shop")
    assert info.value.code == "unexpected_answer"
    assert "GET /v1/services/shop/backups" in info.value.message and "parts" in info.value.message


def test_an_error_answer_keeps_its_code_and_hint() -> None:
    def refuse(_: httpx.Request) -> httpx.Response:
        body = {"error": "not_found", "message": "No backup.", "hint": "List them."}
        return httpx.Response(404, json=body)

    client = answering({"/v1/backups/bak_000000000009": refuse})
    with pytest.raises(AgentError) as info:
        client.get_backup("bak_000000000009")
    assert (info.value.status, info.value.code, info.value.hint) == (404, "not_found", "List them.")
