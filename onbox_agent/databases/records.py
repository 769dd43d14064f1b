"""The database record of a service (names, image, user, the password encrypted at rest),
and the base of ``Databases``: what it is constructed with."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import docker

from matrx_ship.crypto import SecretBox
from matrx_ship.errors import NotFound
from matrx_ship.models import ServiceSpec
from matrx_ship.store import Store
from matrx_ship.store.dbtables import DatabaseRow
from onbox_agent.locks import ServiceLocks
from onbox_agent.services import ServiceManager
from onbox_agent.settings import AgentSettings
from onbox_agent.specrepo import SpecRepo

PGDATA = "/var/lib/postgresql/data"
PORT = 5432


@dataclass(frozen=True)
class DbInfo:
    """What exists for one service's database (the password in plain, never logged)."""

    service: str
    container: str
    volume: str
    network: str
    image: str
    db: str
    user: str
    password: str = field(repr=False)

    @property
    def url(self) -> str:
        """The DATABASE_URL the app gets (the host is the container's name on the network)."""
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{auth}@{self.container}:{PORT}/{self.db}"

    @property
    def maintenance(self) -> str:
        """A database to connect to while working on the live one (never the live one)."""
        return "template1" if self.db == "postgres" else "postgres"


def resource_names(service: str) -> tuple[str, str, str]:
    """(container, volume, network) of a service's database."""
    return f"{service}-db", f"{service}-db-data", f"{service}-db-net"


def now() -> datetime:
    return datetime.now(UTC)


def _info_of(row: DatabaseRow, password: str) -> DbInfo:
    return DbInfo(
        service=row.service,
        container=row.container,
        volume=row.volume,
        network=row.network,
        image=row.image,
        db=row.db,
        user=row.user,
        password=password,
    )


def _new_row(spec: ServiceSpec, image: str, password_enc: str) -> DatabaseRow:
    assert spec.database is not None
    container, volume, network = resource_names(spec.name)
    at = now()
    return DatabaseRow(
        service=spec.name,
        container=container,
        volume=volume,
        network=network,
        image=spec.database.image or image,
        db=spec.database.db,
        user=spec.database.user,
        password_enc=password_enc,
        created_at=at,
        updated_at=at,
    )


class Records:
    """What every part of ``Databases`` is built with, and the service's database record."""

    def __init__(
        self,
        client: docker.DockerClient,
        store: Store,
        box: SecretBox,
        settings: AgentSettings,
        specs: SpecRepo,
        locks: ServiceLocks,
        services: ServiceManager,
    ) -> None:
        self.docker, self.store, self.box, self.settings = client, store, box, settings
        self.specs, self.locks, self.services = specs, locks, services

    def load(self, service: str) -> DbInfo | None:
        """The recorded database of a service, password decrypted; None when there is none."""
        with self.store.session() as s:
            row = s.get(DatabaseRow, service)
            return None if row is None else _info_of(row, self.box.decrypt(row.password_enc))

    def ensure_record(self, spec: ServiceSpec) -> DbInfo:
        """The service's database record, made with a fresh random password when missing."""
        found = self.load(spec.name)
        if found is not None:
            return found
        password = secrets.token_urlsafe(24)
        row = _new_row(spec, self.settings.postgres_image, self.box.encrypt(password))
        info = _info_of(row, password)
        with self.store.session() as s:
            s.add(row)
        return info

    def info(self, service: str) -> DbInfo:
        """The recorded database of a service; NotFound when it has none."""
        found = self.load(service)
        if found is None:
            raise NotFound(
                f"The service '{service}' has no database.",
                hint="Add 'database' to its spec (PUT /v1/services/{name}), or check the name.",
                code="no_database",
            )
        return found
