"""What exists only on this host right now, each with its risk and the action that protects it.

The rule of the design is "nothing local-only": everything that matters lives in the state
store, the blob store or the repository. ``classify`` is a pure function from observed facts
(``Facts``) to the items that break the rule; an empty list is the goal. ``observe`` reads
those facts from the store, the engine, the outbox and the data folder.

Kinds of item:

- ``volume`` / ``database``: a service's named volume or dedicated database without a good
  backup younger than the RPO (the backup interval setting);
- ``acme_certificates`` / ``traefik_users``: Traefik's certificate store (the volume mounted
  at ``/letsencrypt``) and its admin users file (at ``/etc/traefik/secrets``), the same rule;
- ``release_image``: a live release whose image was never archived to the blob store (or
  whose archive is gone from it);
- ``container``: a container the agent does not manage (no label, or a service it lacks);
- ``outbox`` / ``outbox_set_aside``: records still in the local outbox, not yet in the state
  store, and those the store refused (set aside with their reason);
- ``state_store`` / ``blob_store``: the embedded SQLite file or blob folder;
- ``file``: anything else under the data folder that is not a cache or derived state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from matrx_ship.errors import NotFound
from matrx_ship.store.tables import ServiceRow
from onbox_agent import engine
from onbox_agent.reconcile.observe import live_release_id, suspects
from onbox_agent.runtime import Runtime

ACME_TARGET = "/letsencrypt"
USERS_TARGET = "/etc/traefik/secrets"
# What the data folder may hold without being local-only: caches (git mirrors), derived state
# (route files, rewritten at every start), and what other items already report.
DATA_KNOWN = {
    "git": "cache",
    "traefik": "derived",
    "state.db": "state_store",
    "state.db-wal": "state_store",
    "state.db-shm": "state_store",
    "state.db-journal": "state_store",
    "blobs": "blob_store",
    "outbox.db": "outbox",
    "outbox.db-wal": "outbox",
    "outbox.db-shm": "outbox",
}


@dataclass(frozen=True)
class Volume:
    source: str
    target: str


@dataclass(frozen=True)
class ServiceFacts:
    """One stored service: what it keeps on disk and when it was last backed up."""

    name: str
    created_at: datetime
    volumes: tuple[Volume, ...] = ()
    database: str | None = None
    last_backup: datetime | None = None  # the newest good, trusted service backup
    release: str | None = None  # the live release
    release_archived: bool = True
    release_created_at: datetime | None = None


@dataclass(frozen=True)
class ContainerFacts:
    name: str
    image: str
    created_at: datetime | None = None
    service: str | None = None  # the matrx.service label of an orphan


@dataclass(frozen=True)
class Facts:
    now: datetime
    rpo_hours: float
    services: tuple[ServiceFacts, ...] = ()
    unmanaged: tuple[ContainerFacts, ...] = ()
    outbox: int = 0
    set_aside: int = 0  # outbox records the store refused, kept aside with their reason
    set_aside_since: datetime | None = None
    embedded_store: bool = False
    embedded_blobs: bool = False
    data_dir: str = ""
    data_entries: tuple[str, ...] = ()  # top-level names under the data folder


@dataclass(frozen=True)
class Item:
    kind: str
    name: str
    risk: str
    action: str
    page: str
    since: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "risk": self.risk,
            "action": self.action,
            "page": self.page,
        }
        if self.since is not None:
            out["since"] = self.since.isoformat()
        return out


# --- the classifier (pure) ----------------------------------------------------------------


def classify(facts: Facts) -> list[Item]:
    """Everything that exists only on this host, in a stable order (kind, then name)."""
    items = [
        *(i for s in facts.services for i in _service_items(s, facts)),
        *(_container_item(c) for c in facts.unmanaged),
        *_store_items(facts),
        *_data_items(facts),
    ]
    return sorted(items, key=lambda i: (i.kind, i.name))


def _stale_since(s: ServiceFacts, facts: Facts) -> datetime | None:
    """None when the newest good backup is younger than the RPO; else since when it is not."""
    rpo = timedelta(hours=facts.rpo_hours)
    if s.last_backup is not None and facts.now - s.last_backup < rpo:
        return None
    return s.last_backup + rpo if s.last_backup is not None else s.created_at


def _backup_action(service: str) -> str:
    return (
        f'On the console\'s Backups page of {service}, press "Back up now…" '
        f"(POST /v1/services/{service}/backups)."
    )


def _age(s: ServiceFacts, facts: Facts) -> str:
    if s.last_backup is None:
        return "it has never been backed up"
    hours = (facts.now - s.last_backup).total_seconds() / 3600
    return f"its newest good backup is {hours:.1f} h old (RPO {facts.rpo_hours:g} h)"


def _service_items(s: ServiceFacts, facts: Facts) -> Iterator[Item]:
    since = _stale_since(s, facts)
    page = f"backups?service={s.name}"
    if since is not None:
        if s.database is not None:
            yield Item(
                "database",
                f"{s.name}/{s.database}",
                f"The database of {s.name} exists only in its container's volume: "
                f"{_age(s, facts)}; losing the host loses its rows.",
                _backup_action(s.name),
                page,
                since,
            )
        for v in s.volumes:
            yield _volume_item(s, v, facts, since)
    if s.release and not s.release_archived:
        yield Item(
            "release_image",
            f"{s.name}/{s.release}",
            f"The live release {s.release} of {s.name} has its image only on this host: "
            "a rebuilt host must build it again, and a rollback to it needs this disk.",
            f'On the console\'s Releases page of {s.name}, press "Build…" for a new archived '
            f"release and deploy it (POST /v1/services/{s.name}/builds), or register the "
            f"image again (POST /v1/services/{s.name}/releases), which archives it.",
            f"releases?service={s.name}",
            s.release_created_at,
        )


def _volume_item(s: ServiceFacts, v: Volume, facts: Facts, since: datetime) -> Item:
    name = f"{s.name}/{v.source}"
    if v.target.rstrip("/") == ACME_TARGET:
        kind, what = "acme_certificates", "Traefik's ACME certificates (acme.json)"
        loss = "a rebuilt host must issue them again, within Let's Encrypt's rate limits."
    elif v.target.rstrip("/") == USERS_TARGET:
        kind, what = "traefik_users", "Traefik's admin users file"
        loss = "a rebuilt host has no dashboard or API users until someone writes it again."
    else:
        kind, what = "volume", f"The volume {v.source} of {s.name} ({v.target})"
        loss = "losing the host loses its files."
    risk = f"{what} exists only on this host: {_age(s, facts)}; {loss}"
    return Item(kind, name, risk, _backup_action(s.name), f"backups?service={s.name}", since)


def _container_item(c: ContainerFacts) -> Item:
    if c.service:
        risk = (
            f"The container {c.name} ({c.image}) is labelled for the service {c.service}, "
            "which the state store does not hold: no rebuild brings it back."
        )
    else:
        risk = (
            f"The container {c.name} ({c.image}) was not started by the agent: nothing in the "
            "store describes it, so a rebuilt host will not have it."
        )
    return Item(
        "container",
        c.name,
        risk,
        'Describe it as a service on the console\'s "All services" page (POST /v1/services) '
        "so the agent runs and backs it up, then remove the hand-made container.",
        "services",
        c.created_at,
    )


def _store_items(facts: Facts) -> Iterator[Item]:
    if facts.outbox:
        yield Item(
            "outbox",
            "outbox",
            f"{facts.outbox} audit event(s) wait in the local outbox: the state store did not "
            "take them yet, and they are lost with the host.",
            "Bring the state store back (the console's Agent page shows its status; GET "
            "/readyz): the agent writes the outbox to it within a second, in order.",
            "agent",
        )
    if facts.set_aside:
        yield Item(
            "outbox_set_aside",
            "outbox",
            f"{facts.set_aside} record(s) the state store refused are set aside in the local "
            "outbox: they are in no store, and are lost with the host.",
            "Read why on the console's Agent page, fix the cause, then press \"Retry the "
            'set-aside records" (POST /v1/system/outbox/retry).',
            "agent",
            facts.set_aside_since,
        )
    if facts.embedded_store:
        yield Item(
            "state_store",
            f"{facts.data_dir}/state.db",
            "The state store is a SQLite file on this disk: specs, releases, settings, the "
            "backup catalog and the audit log are lost with the host.",
            "Set SUPABASE_DB_URL in the agent's env file and restart it (the console's Agent "
            "page says NOT DURABLE until then); a system backup (POST /v1/system/backups) "
            "copies the tables meanwhile.",
            "agent",
        )
    if facts.embedded_blobs:
        yield Item(
            "blob_store",
            f"{facts.data_dir}/blobs",
            "The blob store is a folder on this disk: every backup, image archive and log "
            "archive is lost with the host.",
            "Set MATRX_S3_BUCKET (and its credentials) in the agent's env file and restart it "
            "(the console's Agent page says NOT DURABLE until then).",
            "agent",
        )


def _data_items(facts: Facts) -> Iterator[Item]:
    for entry in facts.data_entries:
        if entry in DATA_KNOWN:
            continue
        yield Item(
            "file",
            f"{facts.data_dir}/{entry}",
            f"{entry} under the agent's data folder is neither a cache nor in a store: it is "
            "lost with the host.",
            "Move what it holds into a service's volume (backed up from the console's Backups "
            "page, POST /v1/services/{name}/backups) or delete it.",
            "local-state",
        )


# --- the observer -------------------------------------------------------------------------


def observe(rt: Runtime, now: datetime | None = None) -> Facts:
    """The facts ``classify`` needs, read from the store, the engine and the data folder."""
    specs = rt.specs.list()
    containers = rt.docker.containers.list(all=True, sparse=True)
    names = {s.name for s in specs}
    interval = float(rt.settings.backup_interval_hours)
    aside = rt.outbox.set_aside()
    return Facts(
        now=now or datetime.now(UTC),
        rpo_hours=interval if interval > 0 else 24.0,
        services=tuple(_service_facts(rt, spec, created) for spec, created in _created(rt, specs)),
        unmanaged=tuple(_unmanaged(containers, names)),
        outbox=len(rt.outbox),
        set_aside=len(aside),
        set_aside_since=datetime.fromtimestamp(aside[0]["at"], UTC) if aside else None,
        embedded_store=rt.settings.database_url is None,
        embedded_blobs=rt.settings.s3_bucket is None,
        data_dir=str(rt.settings.data_dir),
        data_entries=_entries(rt.settings.data_dir),
    )


def _created(rt: Runtime, specs: list[Any]) -> Iterator[tuple[Any, datetime]]:
    with rt.store.session() as s:
        when = {n: c for n, c in s.execute(select(ServiceRow.name, ServiceRow.created_at))}
    for spec in specs:
        created = when.get(spec.name) or datetime.now(UTC)
        yield spec, created if created.tzinfo else created.replace(tzinfo=UTC)


def _service_facts(rt: Runtime, spec: Any, created: datetime) -> ServiceFacts:
    backups = rt.backup_catalog.find(service=spec.name, kind="service", limit=50)
    flagged = suspects(backups)
    good = next((b for b in backups if _good(b) and b["id"] not in flagged), None)
    release = _live_release(rt, spec.name)
    return ServiceFacts(
        name=spec.name,
        created_at=created,
        volumes=tuple(Volume(v.source, v.target) for v in spec.volumes),
        database=spec.database.db if spec.database else None,
        last_backup=good["created_at"] if good else None,
        release=release["id"] if release else None,
        release_archived=_archived(rt, release),
        release_created_at=release["created_at"] if release else None,
    )


def _archived(rt: Runtime, release: dict[str, Any] | None) -> bool:
    """Whether the live release's image archive is recorded and still in the blob store."""
    key = release.get("archive_key") if release else None
    return release is None or (bool(key) and rt.blobs.exists(str(key)))


def _good(row: dict[str, Any]) -> bool:
    verification = row.get("verification") or {}
    return row["status"] == "succeeded" and verification.get("ok", True) is not False


def _live_release(rt: Runtime, service: str) -> dict[str, Any] | None:
    """The release the running container came from, else the one the store says is live."""
    running = engine.running_names_and_labels(rt.docker, service)
    release_id = running[0][1].get(engine.RELEASE) if running else None
    if not release_id:
        release_id = live_release_id(rt.records.deployments(service=service, limit=20))
    if not release_id:
        return None
    try:
        return rt.records.release(release_id)
    except NotFound:
        return None


def _unmanaged(containers: Iterable[Any], services: set[str]) -> Iterator[ContainerFacts]:
    for c in containers:
        labels = c.attrs.get("Labels") or {}
        if labels.get("matrx.helper"):
            continue  # a backup or restore helper, removed when its job ends
        owner = labels.get(engine.DATABASE_OF) or labels.get(engine.SERVICE)
        if labels.get(engine.MANAGED) == "true" and owner in services:
            continue
        created = c.attrs.get("Created")
        yield ContainerFacts(
            name=str((c.attrs.get("Names") or ["?"])[0]).lstrip("/"),
            image=str(c.attrs.get("Image") or "?"),
            created_at=datetime.fromtimestamp(created, UTC) if created else None,
            service=owner if labels.get(engine.MANAGED) == "true" else None,
        )


def _entries(data_dir: Path) -> tuple[str, ...]:
    if not data_dir.is_dir():
        return ()
    return tuple(sorted(p.name for p in data_dir.iterdir()))


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)
    checked_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "items": [i.as_json() for i in self.items],
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }


def report(rt: Runtime) -> Report:
    """Observe, then classify: the body of ``GET /v1/system/local-state``."""
    facts = observe(rt)
    return Report(classify(facts), facts.now)
