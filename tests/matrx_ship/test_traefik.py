"""Traefik config: committed files and generated per-service files, checked against the schemas."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from matrx_ship import traefik
from matrx_ship.traefik import (
    RouteSpec,
    TraefikConfigError,
    dump_yaml,
    render_dynamic_config,
    route_request_target,
    validate_dynamic,
    validate_static,
    write_service_config,
)
from tests.harness.checkout import shared_path

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra" / "traefik"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture
def static() -> dict[str, Any]:
    return load(INFRA / "traefik.yml")


@pytest.fixture
def shared() -> dict[str, Any]:
    return load(INFRA / "dynamic" / "middlewares.yml")


@pytest.fixture
def compose() -> dict[str, Any]:
    return load(INFRA / "docker-compose.yml")


# --- committed files ------------------------------------------------------------


def test_static_file_validates(static: dict[str, Any]) -> None:
    validate_static(static)


def test_static_file_has_no_docker_provider_and_a_private_api(static: dict[str, Any]) -> None:
    assert set(static["providers"]) == {"file"}
    assert static["providers"]["file"] == {"directory": "/etc/traefik/dynamic", "watch": True}
    assert static["api"] == {"dashboard": True, "insecure": False}
    assert static["ping"] == {"entryPoint": "traefik"}
    assert static["entryPoints"]["traefik"] == {"address": ":8081"}


def test_static_file_redirects_web_and_serves_tls_with_letsencrypt(static: dict[str, Any]) -> None:
    eps = static["entryPoints"]
    assert eps["web"]["http"]["redirections"]["entryPoint"]["to"] == "websecure"
    assert eps["websecure"]["http"]["tls"]["certResolver"] == "letsencrypt"
    acme = static["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme == {"storage": "/letsencrypt/acme.json", "httpChallenge": {"entryPoint": "web"}}


def test_middlewares_file_validates(shared: dict[str, Any]) -> None:
    validate_dynamic(shared)


def test_middlewares_file_defines_what_routes_reference(shared: dict[str, Any]) -> None:
    defined = set(shared["http"]["middlewares"])
    assert {"security-headers", "rate-limit", "retry-idempotent", "admin-auth"} <= defined
    default = RouteSpec(host="a.example.com", port=80, idempotent_retry=True)
    assert {ref.removesuffix("@file") for ref in default.middleware_refs()} <= defined


def test_admin_auth_reads_users_from_a_file_not_the_repo(shared: dict[str, Any]) -> None:
    auth = shared["http"]["middlewares"]["admin-auth"]["basicAuth"]
    assert auth["usersFile"] == "/etc/traefik/secrets/admin-users"
    assert "users" not in auth


def test_dashboard_is_only_on_the_internal_entrypoint_behind_auth(shared: dict[str, Any]) -> None:
    (router,) = [r for r in shared["http"]["routers"].values() if r["service"] == "api@internal"]
    assert router["entryPoints"] == ["traefik"]
    assert router["middlewares"] == ["admin-auth@file"]


def test_compose_runs_traefik_without_docker_socket(compose: dict[str, Any]) -> None:
    assert compose["version"] == "3.8"
    svc = compose["services"]["traefik"]
    assert svc["image"] == "traefik:v3"
    assert not any("docker.sock" in volume for volume in svc["volumes"])
    assert svc["ports"] == ["80:80", "443:443", "127.0.0.1:8081:8081"]
    assert svc["networks"] == ["proxy"]
    assert compose["networks"] == {"proxy": {"external": True}}


def test_compose_mounts_config_secrets_and_certificates(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["traefik"]["volumes"]
    targets = {[part for part in v.split(":") if part.startswith("/")][-1] for v in volumes}
    assert targets == {
        "/etc/traefik/traefik.yml",
        "/etc/traefik/dynamic",
        "/etc/traefik/secrets",
        "/letsencrypt",
    }


# --- the ACME e-mail, put in by the compose entrypoint -------------------------


def run_entrypoint(tmp_path: Path, compose: dict[str, Any], email: str | None) -> Path:
    """Run the compose entrypoint script with sh, a fake traefik and local paths."""
    script = compose["services"]["traefik"]["entrypoint"][2].replace("$$", "$")
    out = tmp_path / "rendered.yml"
    script = script.replace("/etc/traefik/traefik.yml", str(INFRA / "traefik.yml"))
    script = script.replace("/tmp/traefik.yml", str(out))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "traefik").write_text('#!/bin/sh\necho "$@" > "$0.args"\n')
    (bin_dir / "traefik").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"} | ({"ACME_EMAIL": email} if email else {})
    subprocess.run(["/bin/sh", "-euc", script], env=env, check=True, capture_output=True)
    assert (bin_dir / "traefik.args").read_text().strip() == f"--configFile={out}"
    return out


def test_entrypoint_puts_acme_email_into_a_valid_static_file(
    tmp_path: Path, compose: dict[str, Any]
) -> None:
    rendered = load(run_entrypoint(tmp_path, compose, "ops+tls@example.com"))
    validate_static(rendered)
    assert rendered["certificatesResolvers"]["letsencrypt"]["acme"]["email"] == (
        "ops+tls@example.com"
    )


def test_entrypoint_without_email_uses_the_file_as_is(
    tmp_path: Path, compose: dict[str, Any]
) -> None:
    rendered = run_entrypoint(tmp_path, compose, None)
    assert rendered.read_text() == (INFRA / "traefik.yml").read_text()


@pytest.mark.parametrize("email", ["not-an-address", 'a"@x.com', "a@b@c", "x@y.com|rm", "@x.com"])
def test_entrypoint_refuses_a_strange_email(
    tmp_path: Path, compose: dict[str, Any], email: str
) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_entrypoint(tmp_path, compose, email)
    assert failed.value.returncode == 64


# --- validation is live -----------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"http": {"routers": {"r": {"rule": "Host(`a.b`)"}}}}, "http.routers.r"),
        ({"http": {"routerz": {}}}, "http"),
        ({"http": {"middlewares": {"m": {"headers": {"frameDny": True}}}}}, "headers"),
        ({"http": {"services": {"s": {"loadBalancer": {"servers": []}}}}}, "servers"),
        ({"htp": {}}, "top level"),
    ],
)
def test_validate_dynamic_rejects_invalid_config(config: dict[str, Any], where: str) -> None:
    with pytest.raises(TraefikConfigError, match=where):
        validate_dynamic(config)


def test_validate_static_rejects_invalid_config(static: dict[str, Any]) -> None:
    static["entryPoints"]["web"]["adress"] = ":80"
    with pytest.raises(TraefikConfigError, match="adress") as raised:
        validate_static(static)
    assert isinstance(raised.value, ValueError)
    assert raised.value.problems


def test_validate_static_rejects_unknown_top_level_key(static: dict[str, Any]) -> None:
    static["entrypoints"] = static.pop("entryPoints")
    with pytest.raises(TraefikConfigError, match="entrypoints"):
        validate_static(static)


# --- route model ------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"host": "a b", "port": 80},
        {"host": "`x`", "port": 80},
        {"host": "*.example.com", "port": 80},
        {"host": "App.example.com", "port": 80},
        {"host": "localhost", "port": 80},
        {"host": "10.0.0.1", "port": 80},
        {"host": "-a.example.com", "port": 80},
        {"host": "a..example.com", "port": 80},
        {"host": ("a" * 63 + ".") * 4 + "com", "port": 80},
        {"host": "a.example.com", "path_prefix": "api", "port": 80},
        {"host": "a.example.com", "path_prefix": "/a b", "port": 80},
        {"host": "a.example.com", "path_prefix": "/`)", "port": 80},
        {"host": "a.example.com", "path_prefix": '/"x', "port": 80},
        {"host": "a.example.com", "path_prefix": "/{{x}}", "port": 80},
        {"host": "a.example.com", "port": 0},
        {"host": "a.example.com", "port": 65536},
        {"host": "a.example.com", "port": 80, "middlewares": ["Bad_Name"]},
        {"host": "a.example.com", "port": 80, "entrypoint": "web secure"},
        {"host": "a.example.com", "port": 80, "colour": "blue"},
    ],
)
def test_route_spec_refuses_bad_input(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RouteSpec(**fields)


def test_route_spec_accepts_a_normal_route() -> None:
    route = RouteSpec(host="shop-1.apps.example.co.uk", path_prefix="/api/v1", port=8080)
    assert route.rule() == "Host(`shop-1.apps.example.co.uk`) && PathPrefix(`/api/v1`)"
    assert route_request_target(route) == ("shop-1.apps.example.co.uk", "/api/v1")


# --- rendering --------------------------------------------------------------------


def test_render_one_route() -> None:
    config = render_dynamic_config("shop", [RouteSpec(host="shop.example.com", port=3000)])
    validate_dynamic(config)
    assert config == {
        "http": {
            "routers": {
                "shop-0": {
                    "rule": "Host(`shop.example.com`)",
                    "entryPoints": ["websecure"],
                    "service": "shop",
                    "middlewares": ["security-headers@file"],
                    "tls": {"certResolver": "letsencrypt"},
                }
            },
            "services": {"shop": {"loadBalancer": {"servers": [{"url": "http://shop:3000"}]}}},
        }
    }


def test_render_several_routes_and_ports() -> None:
    routes = [
        RouteSpec(host="shop.example.com", port=3000),
        RouteSpec(host="shop.example.com", path_prefix="/api", port=8000, idempotent_retry=True),
        RouteSpec(host="www.shop.example.com", port=3000, tls=False, entrypoint="web"),
    ]
    config = render_dynamic_config("shop", routes)
    validate_dynamic(config)
    routers = config["http"]["routers"]
    assert [routers[f"shop-{i}"]["service"] for i in range(3)] == [
        "shop-3000",
        "shop-8000",
        "shop-3000",
    ]
    assert routers["shop-1"]["rule"] == "Host(`shop.example.com`) && PathPrefix(`/api`)"
    assert routers["shop-1"]["middlewares"] == ["security-headers@file", "retry-idempotent@file"]
    assert "tls" not in routers["shop-2"]
    assert config["http"]["services"]["shop-8000"] == {
        "loadBalancer": {"servers": [{"url": "http://shop:8000"}]}
    }


def test_render_without_middlewares_omits_the_key() -> None:
    config = render_dynamic_config("a", [RouteSpec(host="a.example.com", port=1, middlewares=[])])
    validate_dynamic(config)
    assert "middlewares" not in config["http"]["routers"]["a-0"]


def test_render_no_routes_is_empty() -> None:
    assert render_dynamic_config("shop", []) == {}


def test_render_refuses_duplicate_routes() -> None:
    route = RouteSpec(host="shop.example.com", port=3000)
    with pytest.raises(TraefikConfigError, match="same entrypoint"):
        render_dynamic_config("shop", [route, route.model_copy(update={"port": 4000})])


@pytest.mark.parametrize("service", ["Shop", "shop_1", "-shop", "a" * 64, "middlewares", "traefik"])
def test_render_refuses_unusable_service_names(service: str) -> None:
    with pytest.raises(TraefikConfigError, match="service name"):
        render_dynamic_config(service, [RouteSpec(host="shop.example.com", port=3000)])


def test_dump_yaml_is_deterministic_and_round_trips() -> None:
    config = render_dynamic_config("shop", [RouteSpec(host="shop.example.com", port=3000)])
    text = dump_yaml(config)
    assert text.startswith("# generated by matrx-ship; do not edit\n")
    assert yaml.safe_load(text) == config
    reordered = {"http": dict(reversed(list(config["http"].items())))}
    assert dump_yaml(reordered) == text
    assert text.index("routers:") < text.index("services:")


# --- writing files ----------------------------------------------------------------

ROUTES = [RouteSpec(host="shop.example.com", port=3000)]


def test_write_creates_a_valid_readable_file(tmp_path: Path) -> None:
    assert write_service_config(tmp_path, "shop", ROUTES) is True
    path = tmp_path / "shop.yml"
    validate_dynamic(load(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["shop.yml"]


def test_write_unchanged_returns_false_and_leaves_the_file_alone(tmp_path: Path) -> None:
    write_service_config(tmp_path, "shop", ROUTES)
    path = tmp_path / "shop.yml"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.stat()
    assert write_service_config(tmp_path, "shop", list(ROUTES)) is False
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


def test_write_changed_routes_replaces_the_file(tmp_path: Path) -> None:
    write_service_config(tmp_path, "shop", ROUTES)
    assert write_service_config(tmp_path, "shop", [RouteSpec(host="shop.example.com", port=4000)])
    assert "http://shop:4000" in (tmp_path / "shop.yml").read_text()
    assert os.listdir(tmp_path) == ["shop.yml"]


def test_write_failure_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_service_config(tmp_path, "shop", ROUTES)
    old = (tmp_path / "shop.yml").read_text()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(traefik.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_service_config(tmp_path, "shop", [RouteSpec(host="shop.example.com", port=4000)])
    assert (tmp_path / "shop.yml").read_text() == old
    assert os.listdir(tmp_path) == ["shop.yml"]


def test_write_temp_file_is_not_loadable_by_traefik(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def spy_replace(src: str, dst: str) -> None:
        seen.append(os.path.basename(src))
        os.rename(src, dst)

    monkeypatch.setattr(traefik.os, "replace", spy_replace)
    write_service_config(tmp_path, "shop", ROUTES)
    (name,) = seen
    assert name.startswith(".") and not name.endswith((".yml", ".yaml", ".toml"))


def test_write_empty_routes_removes_the_file(tmp_path: Path) -> None:
    write_service_config(tmp_path, "shop", ROUTES)
    assert write_service_config(tmp_path, "shop", []) is True
    assert os.listdir(tmp_path) == []
    assert write_service_config(tmp_path, "shop", []) is False


def test_write_never_touches_the_shared_middlewares_file(tmp_path: Path) -> None:
    (tmp_path / "middlewares.yml").write_text("http: {}\n")
    with pytest.raises(TraefikConfigError):
        write_service_config(tmp_path, "middlewares", [])
    assert (tmp_path / "middlewares.yml").read_text() == "http: {}\n"


# --- schema copies ----------------------------------------------------------------


@pytest.mark.parametrize("name", [traefik.STATIC_SCHEMA, traefik.DYNAMIC_SCHEMA])
def test_schema_copies_match_shared(name: str) -> None:
    shared = shared_path("schemas", name)
    assert (INFRA / "schemas" / name).read_bytes() == shared.read_bytes()


@pytest.mark.parametrize("name", [traefik.STATIC_SCHEMA, traefik.DYNAMIC_SCHEMA])
def test_schemas_load_from_the_repo_copy_first(name: str) -> None:
    assert traefik.schema_path(name) == INFRA / "schemas" / name
