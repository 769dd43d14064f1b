"""bootstrap's agent-side steps as pure functions: what is registered, said and summed up."""

from __future__ import annotations

from matrx_ship import bootsteps
from matrx_ship.models import ServiceSpec
from matrx_ship.platform import load_platform_specs

VARIABLES = {
    "MATRX_DOMAIN": "example.com",
    "MATRX_REPO": "/srv/repo",
    "MATRX_CONSOLE_AGENT_URL": "http://172.17.0.1:8700",
}


def specs() -> list[ServiceSpec]:
    return load_platform_specs(VARIABLES)


def test_the_platform_specs_name_their_networks_and_volumes_once() -> None:
    assert bootsteps.networks(specs()) == ["proxy"]
    assert bootsteps.volumes(specs()) == [
        "traefik-config",
        "traefik-dynamic",
        "traefik-secrets",
        "traefik-acme",
    ]


def test_only_the_specs_the_store_lacks_are_registered() -> None:
    assert [s.name for s in bootsteps.missing_specs(specs(), [])] == ["traefik-proxy", "manager"]
    assert [s.name for s in bootsteps.missing_specs(specs(), ["traefik-proxy"])] == ["manager"]
    assert bootsteps.missing_specs(specs(), ["manager", "traefik-proxy", "app"]) == []


def test_the_agent_url_follows_the_env_file() -> None:
    assert bootsteps.agent_url({}) == "http://127.0.0.1:8700"
    assert bootsteps.agent_url({"MATRX_AGENT_PORT": "9000"}) == "http://127.0.0.1:9000"
    assert bootsteps.agent_url({"MATRX_AGENT_URL": "https://a.example/"}) == "https://a.example"


def test_a_not_ready_answer_is_said_with_its_hints() -> None:
    ready = {
        "ready": False,
        "checks": {
            "docker": {"ok": True},
            "master_key": {
                "ok": False,
                "error": "does not decrypt",
                "hint": "Set MATRX_MASTER_KEY",
            },
        },
    }
    assert bootsteps.not_ready(ready) == ["master_key: does not decrypt (Set MATRX_MASTER_KEY)"]


def test_the_summary_of_a_run_with_nothing_to_do() -> None:
    stored = [s.model_dump(mode="json") for s in specs()]
    assert bootsteps.summary_lines(None, stored) == [
        "summary:",
        "  manager: https://manager.example.com",
        "  nothing to do: the host already matches the store",
    ]


def test_the_summary_names_restores_and_what_needs_a_person() -> None:
    job = {
        "id": "job_1",
        "status": "succeeded",
        "result": {
            "nothing_to_do": False,
            "services": {
                "shop": {
                    "ok": True,
                    "restored_from": "bak_7",
                    "backup_age_hours": 5.5,
                    "error": None,
                },
                "blog": {"ok": False, "restored_from": None, "error": "no image and no source"},
            },
        },
    }
    assert bootsteps.summary_lines(job, []) == [
        "summary:",
        "  no routed services",
        "  NEEDS A PERSON: could not come back: blog: no image and no source",
        "  shop: restored from backup bak_7 (5.5 h old)",
    ]
    assert bootsteps.failed(job)


def test_the_summary_of_a_full_recovery() -> None:
    job = {
        "id": "job_1",
        "status": "succeeded",
        "result": {
            "services": {
                "shop": {"ok": True, "restored_from": "bak_7", "backup_age_hours": 0.2},
                "web": {"ok": True, "restored_from": None},
            }
        },
    }
    assert bootsteps.summary_lines(job, [])[-2:] == [
        "  shop: restored from backup bak_7 (0.2 h old)",
        "  all 2 service(s) came back (1 with restored data)",
    ]
    assert not bootsteps.failed(job)
