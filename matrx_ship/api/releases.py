"""Releases, deployments, pending changes and Traefik routes."""

from __future__ import annotations

from datetime import datetime

from matrx_ship.api.base import Detail, Reply


class Release(Reply):
    """A built (or registered) image of a service, and where its archive is kept."""

    id: str
    service: str
    commit_sha: str | None = None
    message: str | None = None
    author: str | None = None
    committed_at: datetime | None = None
    image: str | None = None
    image_id: str | None = None
    size_bytes: int | None = None
    build_seconds: float | None = None
    status: str
    started_by: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    build_log_key: str | None = None
    archive_key: str | None = None
    archive_sha256: str | None = None
    archive_size: int | None = None
    detail: Detail = {}
    live: bool | None = None  # only in a service's release list: the one running now


class Deployment(Reply):
    """One deploy or rollback: from, to, who, when, outcome and its evidence."""

    id: str
    service: str
    kind: str
    from_release: str | None = None
    to_release: str | None = None
    actor: str
    job_id: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    seconds: float | None = None
    outcome: str
    evidence: Detail = {}


class Commit(Reply):
    sha: str
    author: str
    date: str
    message: str


class FileChange(Reply):
    path: str
    added: int | None = None
    removed: int | None = None


class Diffstat(Reply):
    files: list[FileChange]
    files_changed: int
    insertions: int
    deletions: int


class Running(Reply):
    release: str
    commit_sha: str


class Pending(Reply):
    """Commits between the running release and the head of the source branch."""

    branch: str
    head: str
    running: Running | None
    up_to_date: bool | None
    commits: list[Commit]
    diffstat: Diffstat | None = None
    message: str


class RouteCheck(Reply):
    """A real request through Traefik's entrypoint with the route's Host header."""

    ok: bool
    status: int | None = None
    error: str | None = None
    latency_ms: float


class Route(Reply):
    service: str
    router: str
    host: str
    path_prefix: str | None = None
    port: int
    entrypoint: str
    upstream: str
    loaded: bool | None = None
    traefik_status: str | None = None
    check: RouteCheck | None = None


class TraefikView(Reply):
    """What Traefik's API says it loaded, compared with the specs."""

    reachable: bool
    error: str | None = None
    missing_in_traefik: list[str] | None = None
    unknown_to_specs: list[str] | None = None
    routers: int | None = None


class RoutesReport(Reply):
    routes_dir: str
    traefik: TraefikView | None
    routes: list[Route]
