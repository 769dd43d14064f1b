"""Spec validation: what a person may name and configure."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from matrx_ship.models import HealthCheck, ServiceSpec, valid_name

BAD_NAMES = [
    "",
    "A",
    "web/../etc",
    "web/x",
    "web;rm -rf",
    "web$(id)",
    "web name",
    "-web",
    "web-",
    "web--x",
    "a" * 41,
    "wеb",  # Cyrillic e
    "web\n",
    "ｗｅｂ",
    "web\x00",
    "1web",
    "web.x",
    "web_x",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="lowercase letters"):
        valid_name(name)


@pytest.mark.parametrize("name", ["w", "web", "ship-a1", "a" * 40])
def test_plain_names_are_accepted(name: str) -> None:
    assert valid_name(name) == name


def test_a_health_check_is_http_or_command_not_both() -> None:
    with pytest.raises(ValidationError):
        HealthCheck(http_path="/h", port=80, command=["true"])
    with pytest.raises(ValidationError):
        HealthCheck()
    with pytest.raises(ValidationError, match="port"):
        HealthCheck(http_path="/h")
    with pytest.raises(ValidationError, match="URL-safe"):
        HealthCheck(http_path="/h'; rm -rf /", port=80)
    assert HealthCheck(command=["pg_isready"]).docker_test() == ["CMD", "pg_isready"]


def test_env_names_and_reserved_labels_are_checked() -> None:
    with pytest.raises(ValidationError, match="environment variable"):
        ServiceSpec(name="web", image="a:1", env={"BAD-KEY": "x"})
    with pytest.raises(ValidationError, match="reserved"):
        ServiceSpec(name="web", image="a:1", labels={"matrx.managed": "false"})
    with pytest.raises(ValidationError):
        ServiceSpec(name="web", image="a:1", unknown_field=1)  # type: ignore[call-arg]


def test_masked_spec_hides_every_env_value() -> None:
    spec = ServiceSpec(name="web", image="a:1", env={"DB_PASSWORD": "hunter2", "EMPTY": ""})
    masked = spec.masked()
    assert "hunter2" not in str(masked)
    assert set(masked["env"]) == {"DB_PASSWORD", "EMPTY"}
