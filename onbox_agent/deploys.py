"""Deploys and rollbacks as jobs, their history, image retention, and recovery at start.

A deploy holds the service's lock for the whole job (a second request gets 409
naming the holder), records a deployment row whose evidence grows step by step,
and on a failed health gate leaves the old container serving untouched.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from typing import Any

from docker.errors import APIError, ImageNotFound
from docker.errors import NotFound as DockerNotFound

from matrx_ship.errors import Conflict, InvalidInput, MatrxError, NotFound
from matrx_ship.models import ServiceSpec
from matrx_ship.store.store import utcnow
from onbox_agent import archive, engine
from onbox_agent.executor import Outcome, Target
from onbox_agent.jobs import JobContext
from onbox_agent.locks import locked_job, service_key
from onbox_agent.releases import live_release
from onbox_agent.runtime import Runtime
from onbox_agent.watch import Watch

log = logging.getLogger(__name__)


def ready_release(rt: Runtime, spec: ServiceSpec, release_id: str) -> dict[str, Any]:
    """A release of this service that can be deployed, or a clear error."""
    release = rt.records.release(release_id)
    if release["service"] != spec.name:
        raise InvalidInput(
            f"The release {release_id} belongs to '{release['service']}', not '{spec.name}'.",
            code="release_of_other_service",
            hint=f"List this service's releases: GET /v1/services/{spec.name}/releases.",
        )
    if release["status"] != "ready":
        raise Conflict(
            f"The release {release_id} is {release['status']}, not ready.",
            code="release_not_ready",
            hint="Deploy a release whose build succeeded.",
        )
    return release


def previous_release(rt: Runtime, spec: ServiceSpec) -> dict[str, Any]:
    """The release that was live before the current one (the last healthy one besides it)."""
    current = live_release(rt, spec.name)
    current_id = current["id"] if current else None
    for dep in rt.records.deployments(service=spec.name, outcome="succeeded", limit=200):
        if dep["to_release"] and dep["to_release"] != current_id:
            return ready_release(rt, spec, dep["to_release"])
    raise NotFound(
        f"The service '{spec.name}' has no earlier healthy release to roll back to.",
        code="no_previous_release",
        hint='Name a release: POST /v1/services/{name}/rollback {"release_id": ...}.',
    )


def start(
    rt: Runtime,
    spec: ServiceSpec,
    release: dict[str, Any],
    actor: str,
    kind: str,
    deadline: float | None,
) -> dict[str, Any]:
    """Take the service's lock and start the deploy job; answers with the job at once."""
    return locked_job(
        rt.locks,
        rt.jobs,
        [service_key(spec.name)],
        kind=kind,
        service=spec.name,
        actor=actor,
        params={"release_id": release["id"]},
        work=lambda ctx: run(rt, ctx, spec, release, actor, kind, deadline),
    )


def run(
    rt: Runtime,
    ctx: JobContext,
    spec: ServiceSpec,
    release: dict[str, Any],
    actor: str,
    kind: str,
    deadline: float | None,
) -> dict[str, Any]:
    """The deploy job: image present, health-gated swap, history, retention."""
    current = live_release(rt, spec.name)
    dep_id = "dep_" + secrets.token_hex(8)
    live = [name for name, _ in engine.running_names_and_labels(rt.docker, spec.name)]
    evidence: dict[str, Any] = {"live_before": live, "steps": []}
    rt.records.add_deployment(
        id=dep_id,
        service=spec.name,
        kind=kind,
        actor=actor,
        job_id=ctx.job_id,
        from_release=current["id"] if current else None,
        to_release=release["id"],
        evidence=evidence,
    )
    started = time.monotonic()

    def on_step(record: dict[str, Any]) -> None:
        # the row gets the steps when the deploy ends; a crash is recovered by container labels
        evidence["steps"].append(record)
        ctx.step(f"{record['action']} {record['target']}")

    try:
        ctx.step("making sure the image is on this host", 5)
        if archive.ensure_image_from_archive(rt.docker, rt.blobs, release):
            ctx.log(f"loaded {release['image']} from {release['archive_key']}")
        target = Target(image=release["image"], release=release["id"], deployment=dep_id)
        outcome = rt.services.deploy(spec, target, deadline, on_step)
    except MatrxError as exc:
        _finish(rt, dep_id, started, "failed", evidence | {"error": exc.body()})
        raise
    return _conclude(rt, ctx, spec, dep_id, started, evidence, outcome, kind)


def _conclude(
    rt: Runtime,
    ctx: JobContext,
    spec: ServiceSpec,
    dep_id: str,
    started: float,
    evidence: dict[str, Any],
    outcome: Outcome,
    kind: str,
) -> dict[str, Any]:
    health = outcome.health
    if health is not None:
        evidence["health"] = {
            "healthy": health.healthy,
            "reason": health.reason,
            "seconds": round(health.seconds, 2),
            **health.evidence,
        }
    if not outcome.ok:
        _finish(rt, dep_id, started, "failed", evidence)
        assert health is not None
        raise engine.health_failure(spec.name, health)
    _finish(rt, dep_id, started, "succeeded", evidence)
    ctx.step("pruning release images beyond the kept ones", 95)
    removed = prune_images(rt, spec.name)
    watching = kind == "deploy" and spec.watch.window_s > 0  # a rollback is never watched
    if watching:
        dep = next(
            d for d in rt.records.deployments(service=spec.name, limit=5) if d["id"] == dep_id
        )
        Watch(rt, spec, dep).start()
        ctx.log(
            f"watching the new release for {spec.watch.window_s:.0f} s; "
            "it is rolled back if it degrades"
        )
    return {
        "deployment": dep_id,
        "container": outcome.container,
        "watch_s": spec.watch.window_s if watching else 0,
        "pruned_images": removed,
        "seconds": round(time.monotonic() - started, 2),
    }


def _finish(
    rt: Runtime, dep_id: str, started: float, outcome: str, evidence: dict[str, Any]
) -> None:
    rt.records.update_deployment(
        dep_id,
        outcome=outcome,
        evidence=evidence,
        finished_at=utcnow(),
        seconds=round(time.monotonic() - started, 2),
    )


def prune_images(rt: Runtime, service: str) -> list[str]:
    """Remove local images of this service's releases beyond the last K, never a needed one."""
    keep = {
        r["image"]
        for r in rt.records.releases(service, status="ready", limit=rt.settings.keep_releases)
    }
    in_use = {
        c.attrs.get("Config", {}).get("Image")
        for c in engine.service_containers(rt.docker, service)
    }
    removed = []
    for release in rt.records.releases(service, status="ready", limit=1000):
        image = release["image"] or ""
        if image in keep or image in in_use or not image.startswith(f"matrx/{service}:"):
            continue
        with contextlib.suppress(ImageNotFound, APIError):
            rt.docker.images.remove(image)
            removed.append(image)
    return removed


def reconcile(rt: Runtime) -> list[str]:
    """After a crash: no orphaned candidate, the old container live, deployments interrupted."""
    rt.jobs.interrupt_leftovers()
    notes = []
    for dep in rt.records.deployments(outcome="running", limit=1000):
        notes.append(_recover(rt, dep))
    return notes


def _recover(rt: Runtime, dep: dict[str, Any]) -> str:
    service, evidence = dep["service"], dict(dep["evidence"] or {})
    try:
        spec = rt.specs.get(service)
    except NotFound:
        spec = None
    olds = [_container(rt, n) for n in evidence.get("live_before", [])]
    candidates = rt.docker.containers.list(
        all=True, filters={"label": f"{engine.DEPLOYMENT}={dep['id']}"}
    )
    if spec is not None and all(c is not None for c in olds):
        for old in olds:
            assert old is not None
            with contextlib.suppress(APIError, DockerNotFound):
                if old.status != "running":
                    old.start()
                engine.attach(rt.docker, old, spec)
        for cand in candidates:
            rt.retire(cand)
        note = (
            f"interrupted: kept {', '.join(evidence['live_before']) or 'nothing'} live, "
            f"removed {len(candidates)} candidate(s)"
        )
    else:
        note = "interrupted after the old container was gone: the new release stays live"
    evidence["recovery"] = note
    rt.records.update_deployment(
        dep["id"], outcome="interrupted", evidence=evidence, finished_at=utcnow()
    )
    log.warning("deployment %s of %s %s", dep["id"], service, note)
    return note


def _container(rt: Runtime, name: str) -> Any:
    try:
        return rt.docker.containers.get(name)
    except DockerNotFound:
        return None
