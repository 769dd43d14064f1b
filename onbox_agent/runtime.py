"""Everything a request handler may need, built once per agent process."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import docker
from docker.models.containers import Container
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from matrx_ship.blobs import BlobStore, blob_store_for
from matrx_ship.crypto import SecretBox, hash_token
from matrx_ship.errors import NotFound, Unavailable
from matrx_ship.models import AuditEvent, Scope, ServiceSpec, TokenInfo
from matrx_ship.outbox import Outbox
from matrx_ship.store import Store
from matrx_ship.store.backuptables import BackupCatalog
from matrx_ship.store.canary import ensure_canary
from matrx_ship.store.records import Records
from matrx_ship.store.store import unreachable
from onbox_agent import routing
from onbox_agent.archive import archive_logs
from onbox_agent.databases import Databases
from onbox_agent.engine import RELEASE, remove_quietly, running_names_and_labels
from onbox_agent.executor import Target
from onbox_agent.hostsettings import apply_stored
from onbox_agent.jobs import JobRunner
from onbox_agent.locks import ServiceLocks
from onbox_agent.monitor import Monitor
from onbox_agent.reconcile.observe import live_release_id
from onbox_agent.services import ServiceManager
from onbox_agent.settings import AgentSettings
from onbox_agent.specrepo import SpecRepo
from onbox_agent.tickets import Tickets

log = logging.getLogger(__name__)
TOUCH_EVERY_S = 60.0  # a token's last use is recorded at most this often


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class Runtime:
    settings: AgentSettings
    store: Store
    docker: docker.DockerClient
    blobs: BlobStore
    box: SecretBox
    monitor: Monitor
    specs: SpecRepo
    services: ServiceManager
    records: Records
    jobs: JobRunner
    outbox: Outbox
    databases: Databases
    backup_catalog: BackupCatalog
    token_cache: dict[str, TokenInfo] = field(default_factory=dict)
    touched: dict[str, float] = field(default_factory=dict)  # token name -> last recorded use
    locks: ServiceLocks = field(default_factory=ServiceLocks)
    tickets: Tickets = field(default_factory=Tickets)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)  # main.py fills it
    backup_scheduler: Stoppable | None = None  # set by the backup schedule when it starts
    log_shipper: Stoppable | None = None  # set by logship.start_shipper
    stopping: threading.Event = field(default_factory=threading.Event)  # set at shutdown

    def find_token(self, token_hash: str) -> TokenInfo | None:
        """The live token with this hash; while the store is away, a token seen before."""
        try:
            found = self.store.find_token(token_hash)
        except SQLAlchemyError as exc:
            if token_hash in self.token_cache:
                return self.token_cache[token_hash]
            raise Unavailable(
                "The state store is unreachable and this token has not been used since the "
                "agent started, so it cannot be checked.",
                hint="Use the bootstrap admin token, or wait for the store (GET /readyz).",
                code="store_unavailable",
            ) from exc
        if found is None:
            self.token_cache.pop(token_hash, None)
        else:
            self.token_cache[token_hash] = found
            self._touch(found.name)
        return found

    def _touch(self, name: str) -> None:
        """Record a token's use in the store, at most once a minute per token."""
        now = time.monotonic()
        if now - self.touched.get(name, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
            return
        self.touched[name] = now
        try:
            self.store.touch_token(name)
        except SQLAlchemyError:  # the store went away since the lookup: next minute
            self.touched.pop(name, None)

    def retire(self, container: Container) -> None:
        """Archive a container's logs to the blob store, then remove it."""
        retire(self.blobs, self.records, container)

    def audit(self, event: AuditEvent) -> None:
        """Write one audit event to the store, or to the outbox while the store is away.

        While the outbox holds anything, new events queue behind it, so the store
        receives them in order.
        """
        key = uuid.uuid4().hex
        payload = event.model_dump(mode="json")
        if not len(self.outbox):
            try:
                self.store.append_audit(event, event_key=key)
                return
            except Exception as exc:
                if not unreachable(exc):  # refused, not away: kept aside, loudly
                    log.error("the state store refused an audit event: %s", exc)
                    self.outbox.put_aside("audit", key, payload, f"{type(exc).__name__}: {exc}")
                    return
                log.warning(
                    "state store unreachable (%s); audit event kept in the outbox",
                    type(exc).__name__,
                )
        self.outbox.append("audit", key, payload)

    def flush_outbox(self) -> int:
        """Hand what the outbox holds to the store, in order; returns how many went."""

        def deliver(kind: str, key: str, payload: dict[str, Any]) -> None:
            if kind == "audit":
                self.store.append_audit(AuditEvent.model_validate(payload), event_key=key)

        return self.outbox.flush(deliver, transient=unreachable)


def retire(blobs: BlobStore, records: Records, container: Container) -> None:
    """Archive a container's logs to the blob store, then remove it."""
    try:
        archive_logs(container, blobs, records)
    except Exception:  # a log archive must never block a removal
        log.exception("could not archive the logs of %s", container.name)
    remove_quietly(container, 10)


def live_target(client: docker.DockerClient, records: Records, service: str) -> Target:
    """What a new container of the service runs: the release its running container came from;
    with none running (a wiped host, a stopped service), the release the store says is live.

    A running container without a release label runs the spec's image (an update changed
    it), and so does the new one.
    """
    running = running_names_and_labels(client, service)
    stored = None if running else stored_live_release(records, service)
    release_id = running[0][1].get(RELEASE) if running else stored
    if not release_id:
        return Target()
    try:
        return Target(image=records.release(release_id)["image"], release=release_id)
    except NotFound:
        return Target()


def stored_live_release(records: Records, service: str) -> str | None:
    """The newest succeeded deployment's release (None: none, or the store is away)."""
    try:
        done = records.deployments(service=service, outcome="succeeded", limit=20)
    except SQLAlchemyError:
        return None
    return live_release_id(done)


def _service_manager(
    settings: AgentSettings,
    client: docker.DockerClient,
    specs: SpecRepo,
    locks: ServiceLocks,
    blobs: BlobStore,
    records: Records,
    prepare: Callable[[ServiceSpec], dict[str, str]],
) -> ServiceManager:
    return ServiceManager(
        client,
        specs,
        locks,
        settings.health_timeout,
        settings.pull_images,
        retire=partial(retire, blobs, records),
        live_target=partial(live_target, client, records),
        on_routes=partial(routing.write_routes, settings),
        on_routes_removed=partial(routing.remove_routes, settings),
        prepare=prepare,
    )


def build_runtime(settings: AgentSettings) -> Runtime:
    """Connect to Docker, the store and the blob store, and apply migrations."""
    store = Store(settings.store_url)
    store.migrate()
    settings = apply_stored(settings, store)  # a rebuilt host runs with the old host's settings
    store.ensure_bootstrap_token(hash_token(settings.admin_token.get_secret_value()))
    client = docker.DockerClient(base_url=settings.docker_host, timeout=120)
    box = SecretBox(settings.master_key.get_secret_value())
    ensure_canary(store, box)  # never overwrites: /readyz checks the key against it
    blobs = blob_store_for(
        settings.s3_bucket, settings.s3_endpoint_url, settings.s3_prefix, settings.data_dir
    )
    locks = ServiceLocks()
    specs = SpecRepo(store, box)
    records = Records(store)

    # The manager creates app containers after the database exists (prepare), and the
    # databases recreate the app through the manager on repair: bound late, once both exist.
    def prepare(spec: ServiceSpec) -> dict[str, str]:
        return dbs.prepare(spec)

    services = _service_manager(settings, client, specs, locks, blobs, records, prepare)
    dbs = Databases(client, store, box, settings, specs, locks, services)
    rt = Runtime(
        settings=settings,
        store=store,
        docker=client,
        blobs=blobs,
        box=box,
        monitor=Monitor(client, settings.stats_interval),
        specs=specs,
        services=services,
        records=records,
        jobs=JobRunner(records),
        outbox=Outbox(settings.data_dir / "outbox.db"),
        databases=dbs,
        backup_catalog=BackupCatalog(store),
        locks=locks,
    )
    bootstrap = hash_token(settings.admin_token.get_secret_value())
    rt.token_cache[bootstrap] = TokenInfo(
        name="bootstrap-admin",
        scope=Scope.admin,
        created_at=datetime.now(UTC),
        created_by="environment",
    )
    return rt
