"""Everything a request handler may need, built once per agent process."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import docker

from matrx_ship.blobs import BlobStore, blob_store_for
from matrx_ship.crypto import SecretBox, hash_token
from matrx_ship.models import AuditEvent
from matrx_ship.settings import AgentSettings
from matrx_ship.store import Store
from onbox_agent.monitor import Monitor
from onbox_agent.services import ServiceLocks, ServiceManager, SpecRepo
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
    locks: ServiceLocks = field(default_factory=ServiceLocks)
    tickets: Tickets = field(default_factory=Tickets)
    extras: dict[str, Any] = field(default_factory=dict)

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
    return Runtime(
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
        locks=locks,
    )
