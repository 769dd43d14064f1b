"""The local-state classifier: observed facts in, what exists only on this host out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import docker
import httpx

from matrx_ship.client import AgentClient
from onbox_agent.localstate import (
    ContainerFacts,
    Facts,
    Item,
    ServiceFacts,
    Volume,
    classify,
)
from tests.harness import RunningAgent, app_spec

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
MADE = NOW - timedelta(days=3)
SHOP_ACTION = (
    'On the console\'s Backups page of shop, press "Back up now…" (POST /v1/services/shop/backups).'
)


def facts(**kw: object) -> Facts:
    return Facts(now=NOW, rpo_hours=24.0, data_dir="/var/lib/matrx", **kw)  # type: ignore[arg-type]


def shop(**kw: object) -> ServiceFacts:
    values: dict[str, object] = {
        "name": "shop",
        "created_at": MADE,
        "volumes": (Volume("shop-files", "/srv/files"),),
        "database": "app",
    }
    return ServiceFacts(**{**values, **kw})  # type: ignore[arg-type]


def test_a_durable_host_with_fresh_backups_has_nothing_local_only() -> None:
    fresh = shop(last_backup=NOW - timedelta(hours=23), release="rel_1", release_archived=True)
    stateless = ServiceFacts(name="web", created_at=MADE)
    assert classify(facts(services=(fresh, stateless), data_entries=("git", "traefik"))) == []


def test_an_empty_host_on_durable_stores_has_nothing_local_only() -> None:
    assert classify(facts()) == []


def test_a_service_never_backed_up_lists_its_database_and_each_volume_since_its_creation() -> None:
    assert classify(facts(services=(shop(),))) == [
        Item(
            "database",
            "shop/app",
            "The database of shop exists only in its container's volume: it has never been "
            "backed up; losing the host loses its rows.",
            SHOP_ACTION,
            "backups?service=shop",
            MADE,
        ),
        Item(
            "volume",
            "shop/shop-files",
            "The volume shop-files of shop (/srv/files) exists only on this host: it has never "
            "been backed up; losing the host loses its files.",
            SHOP_ACTION,
            "backups?service=shop",
            MADE,
        ),
    ]


def test_a_backup_older_than_the_rpo_is_stale_since_it_aged_out() -> None:
    old = NOW - timedelta(hours=30)
    items = classify(facts(services=(shop(database=None, last_backup=old),)))
    assert [(i.kind, i.since) for i in items] == [("volume", old + timedelta(hours=24))]
    assert "its newest good backup is 30.0 h old (RPO 24 h)" in items[0].risk


def test_traefiks_certificates_and_users_file_are_named_for_what_they_are() -> None:
    traefik = ServiceFacts(
        name="traefik-proxy",
        created_at=MADE,
        volumes=(
            Volume("traefik-acme", "/letsencrypt"),
            Volume("traefik-secrets", "/etc/traefik/secrets"),
            Volume("traefik-config", "/etc/traefik/repo"),
        ),
    )
    items = classify(facts(services=(traefik,)))
    assert [(i.kind, i.name) for i in items] == [
        ("acme_certificates", "traefik-proxy/traefik-acme"),
        ("traefik_users", "traefik-proxy/traefik-secrets"),
        ("volume", "traefik-proxy/traefik-config"),
    ]
    assert "Let's Encrypt's rate limits" in items[0].risk
    assert all("POST /v1/services/traefik-proxy/backups" in i.action for i in items)


def test_a_live_release_without_an_archive_is_listed_even_when_backed_up() -> None:
    built = NOW - timedelta(hours=2)
    service = shop(
        last_backup=NOW, release="rel_9", release_archived=False, release_created_at=built
    )
    items = classify(facts(services=(service,)))
    assert [(i.kind, i.name, i.page, i.since) for i in items] == [
        ("release_image", "shop/rel_9", "releases?service=shop", built)
    ]
    assert "POST /v1/services/shop/builds" in items[0].action


def test_unmanaged_and_orphaned_containers_are_listed() -> None:
    made = NOW - timedelta(minutes=5)
    items = classify(
        facts(
            unmanaged=(
                ContainerFacts("hand-made", "nginx:1", made),
                ContainerFacts("old--g1-ab12", "busybox", None, service="gone"),
            )
        )
    )
    assert [(i.kind, i.name, i.page, i.since) for i in items] == [
        ("container", "hand-made", "services", made),
        ("container", "old--g1-ab12", "services", None),
    ]
    assert "not started by the agent" in items[0].risk
    assert "service gone, which the state store does not hold" in items[1].risk
    assert "POST /v1/services" in items[0].action


def test_embedded_stores_and_a_waiting_outbox_say_how_to_become_durable() -> None:
    items = classify(facts(outbox=3, embedded_store=True, embedded_blobs=True))
    assert [(i.kind, i.name, i.page) for i in items] == [
        ("blob_store", "/var/lib/matrx/blobs", "agent"),
        ("outbox", "outbox", "agent"),
        ("state_store", "/var/lib/matrx/state.db", "agent"),
    ]
    assert "3 audit event(s)" in items[1].risk
    assert "SUPABASE_DB_URL" in items[2].action and "MATRX_S3_BUCKET" in items[0].action


def test_outbox_records_the_store_refused_are_listed_with_the_retry() -> None:
    aside = NOW - timedelta(minutes=7)
    items = classify(facts(set_aside=2, set_aside_since=aside))
    assert [(i.kind, i.name, i.page, i.since) for i in items] == [
        ("outbox_set_aside", "outbox", "agent", aside)
    ]
    assert "2 record(s) the state store refused" in items[0].risk
    assert "POST /v1/system/outbox/retry" in items[0].action


def test_files_in_the_data_folder_are_listed_unless_caches_derived_or_reported_elsewhere() -> None:
    entries = ("blobs", "git", "notes.txt", "outbox.db", "state.db", "state.db-wal", "traefik")
    items = classify(facts(data_entries=entries))
    assert [(i.kind, i.name) for i in items] == [("file", "/var/lib/matrx/notes.txt")]


def test_items_serialise_with_since_only_when_known() -> None:
    item = Item("outbox", "outbox", "r", "a", "agent")
    assert item.as_json() == {
        "kind": "outbox",
        "name": "outbox",
        "risk": "r",
        "action": "a",
        "page": "agent",
    }
    assert Item("container", "c", "r", "a", "services", NOW).as_json()["since"] == NOW.isoformat()


# --- over the real engine -----------------------------------------------------------------


def local_state(client: AgentClient) -> dict[str, dict[str, Any]]:
    body = client.request("GET", "/v1/system/local-state")
    assert set(body) == {"items", "checked_at"}
    return {f"{i['kind']}:{i['name']}": i for i in body["items"]}


def test_a_volume_without_a_backup_and_a_hand_made_container_are_listed_until_backed_up(
    agent: RunningAgent,
    admin: AgentClient,
    docker_client: docker.DockerClient,
    app_image: str,
    svc_name: str,
) -> None:
    volume = f"{svc_name}-files"
    admin.create_service(
        app_spec(svc_name, app_image, volumes=[{"source": volume, "target": "/srv"}])
    )
    stray = docker_client.containers.run(
        app_image, name=f"{svc_name}-stray", detach=True, init=True
    )
    try:
        before = local_state(admin)
        item = before[f"volume:{svc_name}/{volume}"]
        assert "it has never been backed up" in item["risk"]
        assert f"POST /v1/services/{svc_name}/backups" in item["action"]
        assert item["page"] == f"backups?service={svc_name}" and item["since"]
        assert "not started by the agent" in before[f"container:{svc_name}-stray"]["risk"]
        assert f"blob_store:{agent.settings.data_dir}/blobs" in before  # the test agent's blobs
        assert not any(k.startswith("state_store:") for k in before)  # its store is PostgreSQL

        job = admin.request("POST", f"/v1/services/{svc_name}/backups")
        assert admin.wait_job(job["id"], timeout=120)["status"] == "succeeded"

        after = local_state(admin)
        assert f"volume:{svc_name}/{volume}" not in after
        assert f"container:{svc_name}-stray" in after
    finally:
        stray.remove(force=True)


def test_local_state_needs_a_token(agent: RunningAgent) -> None:
    r = httpx.get(f"{agent.url}/v1/system/local-state")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_a_live_release_whose_archive_is_gone_is_listed(
    agent: RunningAgent, admin: AgentClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    job = admin.wait_job(admin.register_image(svc_name, app_image)["id"], timeout=120)
    assert job["status"] == "succeeded", job
    release = job["result"]["release"]
    done = admin.wait_job(admin.deploy(svc_name, release["id"])["id"], timeout=120)
    assert done["status"] == "succeeded", done
    assert f"release_image:{svc_name}/{release['id']}" not in local_state(admin)

    agent.runtime.blobs.delete(release["archive_key"])  # the bucket lost it
    item = local_state(admin)[f"release_image:{svc_name}/{release['id']}"]
    assert item["page"] == f"releases?service={svc_name}"
    assert f"POST /v1/services/{svc_name}/builds" in item["action"]
