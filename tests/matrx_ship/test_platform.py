"""The platform services' specs: variables filled, unknown ones refused, reconcile order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matrx_ship.platform import (
    PlatformSpecError,
    load_platform_specs,
    substitute,
    variables_used,
)

REQUIRED = {
    "MATRX_DOMAIN": "example.test",
    "MATRX_REPO": "/srv/matrx-ship.git",
    "MATRX_CONSOLE_AGENT_URL": "http://172.17.0.1:8090",
}


def test_the_shipped_specs_load_infra_first_and_the_manager_last() -> None:
    specs = load_platform_specs(REQUIRED)
    assert [(s.name, s.kind) for s in specs] == [
        ("traefik-proxy", "infra"),
        ("manager", "manager"),
    ]
    manager = specs[1]
    assert manager.routes[0].host == "manager.example.test"
    assert manager.source is not None and manager.source.repo == "/srv/matrx-ship.git"
    assert manager.source.dockerfile == "dashboard/Dockerfile"
    assert manager.env["MATRX_AGENT_URL"] == "http://172.17.0.1:8090"
    assert specs[0].image == "traefik:v3"  # the default, no variable given


def test_a_variable_overrides_its_default() -> None:
    specs = load_platform_specs({**REQUIRED, "MATRX_TRAEFIK_IMAGE": "local/traefik:test"})
    assert specs[0].image == "local/traefik:test"


def test_every_missing_variable_is_named_with_its_file() -> None:
    with pytest.raises(PlatformSpecError) as err:
        load_platform_specs({"MATRX_DOMAIN": "example.test"})
    message = str(err.value)
    assert "MATRX_REPO (in manager-console.json)" in message
    assert "MATRX_CONSOLE_AGENT_URL (in manager-console.json)" in message
    assert "MATRX_DOMAIN" not in message


def test_the_documented_variables_are_the_ones_the_specs_use() -> None:
    used = variables_used()
    assert {k for k, v in used.items() if v is None} == set(REQUIRED)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "supervision.md").read_text()
    assert [name for name in used if f"`{name}`" not in doc] == []


def test_substitute_keeps_escaped_dollars_and_collects_unknowns() -> None:
    missing: set[str] = set()
    out = substitute("a=${A} b=${B:-bee} c=$${C} d=${D}", {"A": "1"}, missing)
    assert out == "a=1 b=bee c=${C} d="
    assert missing == {"D"}


def test_a_spec_that_is_not_a_service_spec_is_refused_by_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"name": "Bad Name!", "kind": "app"}))
    with pytest.raises(PlatformSpecError, match=r"bad\.json is not a valid service spec"):
        load_platform_specs({}, tmp_path)


def test_broken_json_and_an_empty_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PlatformSpecError, match="no platform specs"):
        load_platform_specs({}, tmp_path)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(PlatformSpecError, match=r"x\.json: cannot read it as JSON"):
        load_platform_specs({}, tmp_path)
