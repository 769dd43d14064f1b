"""The reconcile plan: what the store says should exist, what the host has, and the steps
between them. Pure: the same two inputs always give the same steps, and a host that already
matches the store gives ``[]``.

Order is dependency order: networks, then services by kind (infra, databases, apps, the
manager last); per service its live release's image (first: restoring a volume needs an
image on the host to mount it in), its database (restored from the newest good backup before
the app first starts), its volumes, then the start through the health gate and its route
file. A service that cannot come back gets one ``cannot_restore`` step saying why, and the
others still come back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from onbox_agent.steps import Step

KIND_ORDER = {"infra": 0, "database": 1, "app": 2, "manager": 3}


@dataclass(frozen=True)
class Release:
    """The service's live release, as the store records it."""

    id: str
    image: str
    commit: str | None = None
    archived: bool = False  # an image archive in the blob store can be loaded


@dataclass(frozen=True)
class Wanted:
    """One service as the store says it should be."""

    name: str
    kind: str = "app"
    image: str = ""  # the spec's image, used when the service has no release
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    database: bool = False
    routes: bool = False
    release: Release | None = None
    buildable: bool = False  # has a git source, so a release can be rebuilt at its commit
    database_backup: str | None = None  # newest good, non-empty backup holding the database
    volume_backups: Mapping[str, str] = field(default_factory=dict)  # volume -> backup id


@dataclass(frozen=True)
class Found:
    """What the host has right now."""

    networks: frozenset[str] = frozenset()
    volumes: frozenset[str] = frozenset()
    images: frozenset[str] = frozenset()
    database_volumes: frozenset[str] = frozenset()  # services whose database volume exists
    databases_running: frozenset[str] = frozenset()  # services whose database container runs
    running: Mapping[str, str] = field(default_factory=dict)  # service -> live release id or ""
    route_files: frozenset[str] = frozenset()


def plan_reconcile(wanted: list[Wanted], found: Found) -> list[Step]:
    """The steps that make the host match the store, in dependency order."""
    nets = sorted({n for w in wanted for n in w.networks} - found.networks)
    steps = [Step("create_network", n) for n in nets]
    for w in sorted(wanted, key=lambda w: (KIND_ORDER.get(w.kind, 2), w.name)):
        steps += plan_service(w, found)
    return steps


def plan_service(w: Wanted, found: Found) -> list[Step]:
    """One service's steps; ``[]`` when it already runs its live release with its data."""
    image_steps = _image(w, found)
    if image_steps and image_steps[0].action == "cannot_restore":
        return image_steps
    steps = image_steps + _database(w, found) + _volumes(w, found)
    if w.name not in found.running or found.running[w.name] != _release_id(w):
        # starting goes through the service manager, which writes the route file too
        steps.append(Step("start", w.name, _release_id(w) or "spec image"))
    elif w.routes and w.name not in found.route_files:
        steps.append(Step("write_routes", w.name))
    return steps


def _release_id(w: Wanted) -> str:
    return w.release.id if w.release else ""


def _database(w: Wanted, found: Found) -> list[Step]:
    if not w.database:
        return []
    if w.name in found.database_volumes:
        return [] if w.name in found.databases_running else [Step("start_database", w.name)]
    if w.database_backup:
        return [Step("restore_database", w.name, w.database_backup)]
    return [Step("create_database", w.name, "no good backup: starts empty")]


def _volumes(w: Wanted, found: Found) -> list[Step]:
    return [
        Step("restore_volume", f"{w.name}/{v}", w.volume_backups[v])
        for v in w.volumes
        if v not in found.volumes and v in w.volume_backups
    ]


def _image(w: Wanted, found: Found) -> list[Step]:
    r = w.release
    if r is None or r.image in found.images:
        return []
    if r.archived:
        return [Step("load_image", w.name, r.id)]
    if w.buildable and r.commit:
        return [Step("rebuild_release", w.name, f"{r.id} at {r.commit[:12]}")]
    return [
        Step(
            "cannot_restore",
            w.name,
            f"the image of release {r.id} is not on this host, has no archive and no commit "
            "to rebuild from",
        )
    ]
