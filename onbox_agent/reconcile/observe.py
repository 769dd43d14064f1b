"""What the reconcile plan compares: the store's side (``Wanted``) and the host's (``Found``).

The store's side is decided by pure functions over rows, so the rules are tested by
equality: a service's live release is the ``to_release`` of its newest succeeded
deployment (never "whatever image the spec names"), and the backup to restore from is the
newest succeeded one holding the part, skipping backups whose database holds fewer rows
than the one before it (an empty database backed up during a recovery must not win).
The host's side is read from the engine by the agent's labels and from the route folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import docker

from matrx_ship.models import ServiceSpec
from onbox_agent import engine
from onbox_agent.databases.records import resource_names
from onbox_agent.reconcile.plan import Found, Release, Wanted


def live_release_id(deployments: Iterable[Mapping[str, Any]]) -> str | None:
    """The release the store says is live: the newest succeeded deployment's ``to_release``."""
    done = [d for d in deployments if d.get("outcome") == "succeeded" and d.get("to_release")]
    if not done:
        return None

    def when(d: Mapping[str, Any]) -> datetime:
        return d.get("finished_at") or d["started_at"]

    newest = max(done, key=when)
    return str(newest["to_release"])


def release_of(row: Mapping[str, Any] | None) -> Release | None:
    """The plan's view of a release row (None when the row or its image is unknown)."""
    if row is None or not row.get("image"):
        return None
    return Release(
        id=str(row["id"]),
        image=str(row["image"]),
        commit=row.get("commit_sha"),
        archived=bool(row.get("archive_key")),
    )


def database_rows(backup: Mapping[str, Any]) -> int | None:
    """Total rows of the backup's database part (None: it has no database part)."""
    for part in backup.get("parts") or []:
        if part.get("kind") == "database":
            tables = (part.get("detail") or {}).get("tables") or {}
            return sum(int(n) for n in tables.values() if isinstance(n, int | float))
    return None


def suspects(backups: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Succeeded backups whose database holds fewer rows than the newest trusted one before
    them, with the reason a person reads; ``backups`` are newest first, as the catalog lists.

    Such a backup may have been taken of an empty or half-restored database, so it is never
    the one a reconcile restores. It is compared with the newest trusted backup before it (not
    merely the previous one), so a run of empty backups is flagged as a whole.
    """
    flagged: dict[str, str] = {}
    trusted: Mapping[str, Any] | None = None
    for backup in reversed([b for b in backups if b.get("status") == "succeeded"]):
        rows = database_rows(backup)
        before = database_rows(trusted) if trusted is not None else None
        if rows is not None and before is not None and rows < before:
            assert trusted is not None
            flagged[str(backup["id"])] = (
                f"its database holds {rows} rows, fewer than the {before} of {trusted['id']}"
            )
        elif rows is not None:
            trusted = backup
    return flagged


def fewer_rows(backups: Sequence[Mapping[str, Any]]) -> set[str]:
    """Ids of the suspect backups (see ``suspects``)."""
    return set(suspects(backups))


def newest_holding(
    backups: Sequence[Mapping[str, Any]], kind: str, mount: str | None = None
) -> str | None:
    """The newest succeeded backup with a part of ``kind``, not flagged.

    A volume part is matched by the path it was mounted at (``mount``), not by the volume's
    name: a restore gives the volume a new name, the mount path stays.
    """
    suspect = fewer_rows(backups)
    for backup in backups:
        if backup.get("status") != "succeeded" or backup["id"] in suspect:
            continue
        for part in backup.get("parts") or []:
            target = (part.get("detail") or {}).get("target")
            if part.get("kind") == kind and (mount is None or target == mount):
                return str(backup["id"])
    return None


def wanted_for(
    spec: ServiceSpec,
    deployments: Iterable[Mapping[str, Any]],
    release: Mapping[str, Any] | None,
    backups: Sequence[Mapping[str, Any]],
) -> Wanted:
    """One service as the store says it should be, from its rows (pure)."""
    volumes = tuple(v.source for v in spec.volumes)
    volume_backups = {
        v.source: b for v in spec.volumes if (b := newest_holding(backups, "volume", v.target))
    }
    return Wanted(
        name=spec.name,
        kind=spec.kind,
        image=spec.image,
        networks=tuple(spec.networks),
        volumes=volumes,
        database=spec.database is not None,
        routes=bool(spec.routes),
        release=release_of(release),
        buildable=spec.source is not None,
        database_backup=newest_holding(backups, "database") if spec.database else None,
        volume_backups=volume_backups,
    )


def observe_host(client: docker.DockerClient, routes_dir: Path) -> Found:
    """What the engine and the route folder hold right now."""
    networks = frozenset(str(n.name) for n in client.networks.list())
    volumes = frozenset(str(v.name) for v in client.volumes.list())
    images = frozenset(tag for image in client.images.list() for tag in image.tags)
    managed = client.containers.list(all=True, filters={"label": f"{engine.MANAGED}=true"})
    running: dict[str, str] = {}
    databases_running: set[str] = set()
    for container in managed:
        labels = container.labels
        if container.status != "running":
            continue
        if owner := labels.get(engine.DATABASE_OF):
            databases_running.add(owner)
        elif service := labels.get(engine.SERVICE):
            running.setdefault(service, labels.get(engine.RELEASE, ""))
    database_volumes = frozenset(
        v.removesuffix("-db-data") for v in volumes if v.endswith("-db-data")
    )
    route_files = (
        frozenset(p.stem for p in routes_dir.glob("*.yml")) if routes_dir.is_dir() else frozenset()
    )
    return Found(
        networks=networks,
        volumes=volumes,
        images=images,
        database_volumes=frozenset(s for s in database_volumes if resource_names(s)[1] in volumes),
        databases_running=frozenset(databases_running),
        running=running,
        route_files=route_files,
    )


def missing_services(client: docker.DockerClient, names: Iterable[str]) -> list[str]:
    """Stored services with no container at all on this host (a wiped or new host)."""
    managed = client.containers.list(all=True, filters={"label": f"{engine.MANAGED}=true"})
    present = {c.labels.get(engine.SERVICE) for c in managed}
    return sorted(set(names) - present)


def missing_warning(missing: list[str]) -> str | None:
    """The readiness warning for services the store holds and the host lacks."""
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (
        f"HOST DOES NOT MATCH THE STORE: {len(missing)} stored service(s) have no container "
        f"here ({shown}). Fix: run the reconcile (console: Agent page, Reconcile now; "
        "or sudo ./bootstrap.sh --env-file PATH)."
    )
