"""Everything a request handler may need, built once per agent process."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.models.containers import Container

from matrx_ship.blobs import BlobStore, blob_store_for
from matrx_ship.crypto import SecretBox, hash_token
from matrx_ship.errors import NotFound
from matrx_ship.models import AuditEvent
from matrx_ship.settings import AgentSettings
from matrx_ship.store import Store
from matrx_ship.store.records import Records
from onbox_agent import routing
from onbox_agent.archive import archive_logs
from onbox_agent.engine import RELEASE, remove_quietly, running_names_and_labels
from onbox_agent.jobs import JobRunner
from onbox_agent.monitor import Monitor
from onbox_agent.services import ServiceLocks, ServiceManager, SpecRepo, Target
from onbox_agent.tickets import Tickets

log = logging.getLogger(__name__)


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
    locks: ServiceLocks = field(default_factory=ServiceLocks)
    tickets: Tickets = field(default_factory=Tickets)
    extras: dict[str, Any] = field(default_factory=dict)

    def retire(self, container: Container) -> None:
        """Archive a container's logs to the blob store, then remove it."""
        try:
            archive_logs(container, self.blobs, self.records)
        except Exception:  # a log archive must never block a removal
            log.exception("could not archive the logs of %s", container.name)
        remove_quietly(container, 10)

    def live_target(self, service: str) -> Target:
        """The image the service's running container came from, when it is a release."""
        running = running_names_and_labels(self.docker, service)
        release_id = running[0][1].get(RELEASE) if running else None
        if not release_id:
            return Target()
        try:
            return Target(image=self.records.release(release_id)["image"], release=release_id)
        except NotFound:
            return Target()

    def audit(self, event: AuditEvent) -> None:
        """Write one audit event; a store failure is logged, never raised to the caller."""
        try:
            self.store.append_audit(event)
        except Exception:
            log.exception("could not write audit event %s %s", event.action, event.target)


def build_runtime(settings: AgentSettings) -> Runtime:
    """Connect to Docker, the store and the blob store, and apply migrations."""
    store = Store(settings.store_url)
    store.migrate()
    store.ensure_bootstrap_token(hash_token(settings.admin_token.get_secret_value()))
    client = docker.DockerClient(base_url=settings.docker_host, timeout=120)
    box = SecretBox(settings.master_key.get_secret_value())
    blobs = blob_store_for(
        settings.s3_bucket, settings.s3_endpoint_url, settings.s3_prefix, settings.data_dir
    )
    locks = ServiceLocks()
    specs = SpecRepo(store, box)
    records = Records(store)
    rt = Runtime(
        settings=settings,
        store=store,
        docker=client,
        blobs=blobs,
        box=box,
        monitor=Monitor(client, settings.stats_interval),
        specs=specs,
        services=ServiceManager(
            client, specs, locks, settings.health_timeout, settings.pull_images
        ),
        records=records,
        jobs=JobRunner(records),
        locks=locks,
    )
    rt.services.retire = rt.retire
    rt.services.live_target = rt.live_target
    rt.services.on_routes = lambda spec: routing.write_routes(settings, spec)
    rt.services.on_routes_removed = lambda name: routing.remove_routes(settings, name)
    return rt
