"""The OpenAPI document describes every answer: each JSON route's 2xx response is a named
model, and the routes without one are listed here with the reason."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

from onbox_agent.main import include_routes, routers

# Routes whose 2xx answer is not a JSON object, and why.
PLAIN_TEXT = {
    ("GET", "/metrics"): "Prometheus' text exposition format",
    ("GET", "/v1/releases/{release_id}/log"): "a stored build log, as text",
    ("GET", "/v1/services/{name}/env/export"): "a .env file, as text",
}
# Websockets are not in OpenAPI; their messages are documented in their modules.
WEBSOCKETS = {
    "/v1/services/{name}/exec": "a terminal: binary frames and JSON control messages",
    "/v1/services/{name}/logs/follow": "one JSON message per log line, then 'end'",
    "/v1/jobs/{job_id}/events": "a job's events, stored then live, until 'end'",
}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = FastAPI()
    include_routes(app)
    return app


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _named(schema: dict[str, Any]) -> bool:
    """A reference to a component (a model), or a list of them."""
    if schema.get("type") == "array":
        return _named(schema.get("items") or {})
    return "$ref" in schema


def _successes(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {code: r for code, r in operation["responses"].items() if code.startswith("2")}


def test_every_json_route_answers_with_a_named_model(document: dict[str, Any]) -> None:
    untyped = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method.upper(), path) in PLAIN_TEXT:
                continue
            for code, response in _successes(operation).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if not schema or not _named(schema):
                    untyped.append(f"{method.upper()} {path} {code}: {schema}")
    assert untyped == []


def test_plain_text_routes_say_so(document: dict[str, Any]) -> None:
    for method, path in PLAIN_TEXT:
        (response,) = _successes(document["paths"][path][method.lower()]).values()
        assert set(response["content"]) == {"text/plain"}, (method, path)


def test_the_lists_of_exceptions_name_only_real_routes() -> None:
    routes = [r for router in routers() for r in router.routes]
    http = {(m, r.path) for r in routes if isinstance(r, APIRoute) for m in r.methods}
    sockets = {r.path for r in routes if isinstance(r, APIWebSocketRoute)}
    assert set(PLAIN_TEXT) <= http
    assert sockets == set(WEBSOCKETS)


def _api_model(model: Any) -> bool:
    """A model of matrx_ship.api, or a list of them."""
    inner = typing.get_args(model) or (model,)
    return any(getattr(m, "__module__", "").startswith("matrx_ship.api.") for m in inner)


def test_every_typed_route_leaves_unset_keys_out() -> None:
    """A key a handler sends only sometimes must not turn into a null it never sent."""
    routes = [r for router in routers() for r in router.routes if isinstance(r, APIRoute)]
    typed = [r for r in routes if _api_model(r.response_model)]
    assert len(typed) > 40
    assert [r.path for r in typed if not r.response_model_exclude_unset] == []


def test_errors_are_declared_with_the_error_body(document: dict[str, Any]) -> None:
    undeclared = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path == "/healthz":
                continue
            for code in ("401", "403", "404", "422"):
                schema = operation["responses"].get(code, {}).get("content", {})
                ref = schema.get("application/json", {}).get("schema", {}).get("$ref", "")
                if not ref.endswith("/ErrorBody"):
                    undeclared.append(f"{method.upper()} {path} {code}")
    assert undeclared == []


def test_a_logs_route_offers_json_and_text(document: dict[str, Any]) -> None:
    (response,) = _successes(document["paths"]["/v1/services/{name}/logs"]["get"]).values()
    assert set(response["content"]) == {"application/json", "text/plain"}
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Logs")
