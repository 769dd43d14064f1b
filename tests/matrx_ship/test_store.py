"""The state store against SQLite and the real PostgreSQL server (the store_url fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from matrx_ship.crypto import hash_token
from matrx_ship.errors import Conflict, NotFound
from matrx_ship.models import AuditEvent, Scope
from matrx_ship.store import AuditQuery, Store
from matrx_ship.store.store import MIGRATIONS


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store(store_url)
    s.migrate()
    yield s
    s.dispose()


def event(i: int, **kw: object) -> AuditEvent:
    base = dict(
        at=datetime.now(UTC),
        actor="alice",
        action="POST /v1/services",
        target=f"svc{i}",
        outcome="allowed",
        status=201,
        detail={"i": i},
    )
    base.update(kw)
    return AuditEvent(**base)  # type: ignore[arg-type]


def test_migrations_are_idempotent_and_create_the_tables(store: Store) -> None:
    store.migrate()
    with store.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert version == ScriptDirectory.from_config(cfg).get_current_head()
    tables = set(sa_inspect(store.engine).get_table_names())
    assert {"services", "tokens", "audit_events", "releases", "jobs", "deployments"} <= tables
    assert store.list_services() == []


def test_service_specs_round_trip_and_update_bumps_generation(store: Store) -> None:
    store.create_service("web", "app", {"name": "web", "image": "a:1"})
    assert store.get_service("web") == {"name": "web", "image": "a:1"}
    assert store.update_service("web", "app", {"name": "web", "image": "a:2"}) == 2
    assert store.get_service("web")["image"] == "a:2"
    assert [s["name"] for s in store.list_services()] == ["web"]
    store.delete_service("web")
    with pytest.raises(NotFound):
        store.get_service("web")


def test_a_second_service_with_the_same_name_is_a_conflict(store: Store) -> None:
    store.create_service("web", "app", {"name": "web"})
    with pytest.raises(Conflict) as info:
        store.create_service("web", "app", {"name": "web", "other": True})
    assert info.value.code == "already_exists"
    assert store.get_service("web") == {"name": "web"}


def test_tokens_are_found_by_hash_until_revoked_or_expired(store: Store) -> None:
    store.add_token("ci", hash_token("secret-1"), Scope.operate, "alice")
    store.add_token(
        "old", hash_token("secret-2"), Scope.read, "alice", datetime.now(UTC) - timedelta(seconds=1)
    )
    found = store.find_token(hash_token("secret-1"))
    assert found is not None and found.scope is Scope.operate
    assert store.find_token(hash_token("secret-2")) is None
    assert store.find_token(hash_token("nope")) is None
    store.revoke_token("ci")
    assert store.find_token(hash_token("secret-1")) is None
    with store.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT token_hash FROM tokens"))]
    assert "secret-1" not in stored and hash_token("secret-1") in stored


def test_bootstrap_token_follows_the_environment(store: Store) -> None:
    store.ensure_bootstrap_token(hash_token("first-admin-token"))
    store.ensure_bootstrap_token(hash_token("second-admin-token"))
    assert store.find_token(hash_token("first-admin-token")) is None
    info = store.find_token(hash_token("second-admin-token"))
    assert info is not None and info.scope is Scope.admin and info.name == "bootstrap-admin"


def test_audit_filters_and_pages_newest_first(store: Store) -> None:
    ids = [store.append_audit(event(i, actor="bob" if i % 2 else "alice")) for i in range(7)]
    page1 = store.list_audit(AuditQuery(limit=3))
    assert [e.id for e in page1] == ids[::-1][:3]
    page2 = store.list_audit(AuditQuery(limit=3, before_id=page1[-1].id))
    assert [e.id for e in page2] == ids[::-1][3:6]
    bobs = store.list_audit(AuditQuery(actor="bob"))
    assert {e.actor for e in bobs} == {"bob"} and len(bobs) == 3
    assert [e.target for e in store.list_audit(AuditQuery(target="svc4"))] == ["svc4"]
    assert page1[0].at.tzinfo is not None


def test_an_audit_page_carries_the_next_cursor_until_the_last_page(store: Store) -> None:
    ids = [store.append_audit(event(i)) for i in range(5)]
    first = store.audit_page(AuditQuery(limit=2))
    assert [e.id for e in first["events"]] == ids[::-1][:2]
    assert first["next_before_id"] == ids[3]
    second = store.audit_page(AuditQuery(limit=2, before_id=first["next_before_id"]))
    assert [e.id for e in second["events"]] == ids[::-1][2:4]
    last = store.audit_page(AuditQuery(limit=2, before_id=second["next_before_id"]))
    assert [e.id for e in last["events"]] == [ids[0]] and last["next_before_id"] is None
    assert len(store.list_audit(AuditQuery(limit=0))) == 1  # clamped to at least one


def test_an_audit_event_key_is_written_only_once(store: Store) -> None:
    first = store.append_audit(event(1), event_key="k-1")
    again = store.append_audit(event(1), event_key="k-1")
    assert first == again
    assert len(store.list_audit(AuditQuery())) == 1
