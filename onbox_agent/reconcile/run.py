"""The reconcile job: gather both sides, plan, and apply the plan service by service.

The job holds the reconcile key and every service's backup key for its whole run, so no
scheduled or manual backup can capture a database that has not been restored yet (the
scheduler finds them busy and tries again on its next pass). Each service's steps run in
order; the first failure ends that service's steps with the reason recorded, and the
other services still come back. Lifecycle changes go through the service manager, which
takes each service's own lock, so a reconcile never races a deploy of the same service.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound

from matrx_ship.errors import Conflict, MatrxError, NotFound, Unavailable
from matrx_ship.models import ServiceSpec
from onbox_agent import archive, engine, routing
from onbox_agent.backups import checked_read, corrupt, drop_database, helper
from onbox_agent.executor import Target
from onbox_agent.jobs import JobContext
from onbox_agent.locks import RECONCILE, backup_key, locked_job
from onbox_agent.reconcile.observe import live_release_id, observe_host, wanted_for
from onbox_agent.reconcile.plan import KIND_ORDER, Wanted, plan_reconcile
from onbox_agent.releases import build_image, repo_for
from onbox_agent.runtime import Runtime
from onbox_agent.steps import Step, check_handled, dispatch

log = logging.getLogger(__name__)
ACTOR = "reconcile"
NETWORKS = "(networks)"
PARALLEL = 4  # services of one tier brought back side by side


def gather(rt: Runtime) -> tuple[list[ServiceSpec], list[Wanted], list[Step]]:
    """The specs, the store's side of each, and the plan against the host as it is now."""
    specs = rt.specs.list()
    wanted = []
    for spec in specs:
        deployments = rt.records.deployments(service=spec.name, outcome="succeeded", limit=50)
        release_id = live_release_id(deployments)
        release = None
        if release_id:
            with contextlib.suppress(NotFound):
                release = rt.records.release(release_id)
        backups = rt.backup_catalog.find(service=spec.name, kind="service", limit=100)
        wanted.append(wanted_for(spec, deployments, release, backups))
    found = observe_host(rt.docker, rt.settings.routes_dir)
    return specs, wanted, plan_reconcile(wanted, found)


def step_body(step: Step) -> dict[str, str]:
    return {"action": step.action, "target": step.target, "detail": step.detail}


def dry_run(rt: Runtime) -> dict[str, Any]:
    """The plan a reconcile would apply now, changing nothing."""
    _, _, steps = gather(rt)
    return {"steps": [step_body(s) for s in steps], "nothing_to_do": not steps}


def start(rt: Runtime, actor: str) -> dict[str, Any]:
    """Start the reconcile job, holding every service's backups until it ends."""
    keys = [RECONCILE] + [backup_key(s.name) for s in rt.specs.list()]
    return locked_job(
        rt.locks,
        rt.jobs,
        keys,
        kind="reconcile",
        service=None,
        actor=actor,
        params={},
        work=lambda ctx: run(rt, ctx),
    )


def service_of(step: Step) -> str:
    return NETWORKS if step.action == "create_network" else step.target.split("/", 1)[0]


def tiers(steps: list[Step], kinds: Mapping[str, str]) -> list[list[tuple[str, list[Step]]]]:
    """The plan's steps per service, the services in tiers that run one after the other:
    networks, then infrastructure, databases, apps, the manager. The services of one tier
    do not depend on each other, so they come back side by side. Pure."""
    per: dict[str, list[Step]] = {}
    for step in steps:
        per.setdefault(service_of(step), []).append(step)
    rank = {
        name: -1 if name == NETWORKS else KIND_ORDER.get(kinds.get(name, "app"), 2) for name in per
    }
    return [
        [(name, per[name]) for name in per if rank[name] == r] for r in sorted(set(rank.values()))
    ]


def run(rt: Runtime, ctx: JobContext) -> dict[str, Any]:
    """The job: plan, then bring the services back tier by tier, side by side within a tier;
    a failed step ends that service's steps only."""
    specs, wanted, steps = gather(rt)
    if not steps:
        ctx.log("nothing to do: the host already matches the store")
        return {"services": {}, "nothing_to_do": True, "steps": []}
    ctx.log(f"plan: {len(steps)} step(s)")
    for s in steps:
        ctx.log(f"  {s.action} {s.target} {s.detail}".rstrip())
    ops = HostOps(rt, ctx, {s.name: s for s in specs}, {w.name: w for w in wanted})
    check_handled(steps, ops.handlers())
    progress = Progress(ctx, len(steps))
    results: dict[str, dict[str, Any]] = {}
    for tier in tiers(steps, {w.name: w.kind for w in wanted}):
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="reconcile") as pool:
            done = pool.map(lambda item: ops.service(item[0], item[1], progress), tier)
            results.update(zip([name for name, _ in tier], done, strict=True))
    failed = sorted(n for n, r in results.items() if not r["ok"])
    ctx.log("done" if not failed else f"done; could not come back: {', '.join(failed)}")
    return {
        "services": results,
        "nothing_to_do": False,
        "failed": failed,
        "steps": [step_body(s) for s in steps],
    }


class Progress:
    """The job's step and percent, from several threads."""

    def __init__(self, ctx: JobContext, total: int) -> None:
        self.ctx, self.total, self.done = ctx, total, 0
        self.lock = threading.Lock()

    def started(self, step: Step) -> None:
        with self.lock:
            percent = int(95 * self.done / self.total)
            self.done += 1
        self.ctx.step(f"{step.action} {step.target}", percent)


class HostOps:
    """What each reconcile step does to this host."""

    def __init__(
        self,
        rt: Runtime,
        ctx: JobContext,
        specs: dict[str, ServiceSpec],
        wanted: dict[str, Wanted],
    ) -> None:
        self.rt, self.ctx, self.specs, self.wanted = rt, ctx, specs, wanted
        self.details: dict[tuple[str, str], str] = {}
        self.restored: dict[str, dict[str, Any]] = {}  # service -> from which backup, how old

    def handlers(self) -> dict[str, Callable[[str], object]]:
        return {
            "create_network": self.create_network,
            "create_database": self.ensure_database,
            "start_database": self.ensure_database,
            "restore_database": self.restore_database,
            "restore_volume": self.restore_volume,
            "load_image": self.load_image,
            "rebuild_release": self.rebuild_release,
            "start": self.start,
            "write_routes": self.write_routes,
            "cannot_restore": self.cannot_restore,
        }

    def result_for(self, name: str) -> dict[str, Any]:
        w = self.wanted.get(name)
        return {
            "ok": True,
            "steps": [],
            "error": None,
            "release": w.release.id if w and w.release else None,
            "restored_from": None,
            "backup_age_hours": None,
        }

    def service(self, name: str, steps: list[Step], progress: Progress) -> dict[str, Any]:
        """One service's steps in order, until the first that fails."""
        result = self.result_for(name)
        handlers = self.handlers()
        for step in steps:
            progress.started(step)
            result["steps"].append(self.apply(step, handlers))
            if not result["steps"][-1]["ok"]:
                result["ok"], result["error"] = False, result["steps"][-1]["error"]
                break
        return result | self.restored.get(name, {})

    def apply(self, step: Step, handlers: dict[str, Callable[[str], object]]) -> dict[str, Any]:
        self.details[(step.action, step.target)] = step.detail
        started = time.monotonic()
        record: dict[str, Any] = step_body(step) | {"ok": True, "error": None}
        try:
            dispatch(step, handlers)
        except Exception as exc:
            err = exc if isinstance(exc, MatrxError) else _engine_or_internal(exc)
            record |= {"ok": False, "error": err.message}
            self.ctx.log(f"{step.action} {step.target} failed: {err.message}")
            log.warning("reconcile: %s %s failed: %s", step.action, step.target, err.message)
        record["seconds"] = round(time.monotonic() - started, 3)
        return record

    # --- networks, databases --------------------------------------------------------------

    def create_network(self, name: str) -> None:
        engine.ensure_networks(self.rt.docker, [name])

    def ensure_database(self, service: str) -> None:
        _, done = self.rt.databases.ensure(self.specs[service])
        self.ctx.log(f"database of {service}: {', '.join(done) or 'already running'}")

    def restore_database(self, service: str) -> None:
        """Restore beside the (new, empty) live database, check the counts, swap, drop."""
        spec, backup_id = self.specs[service], self.wanted[service].database_backup
        assert backup_id is not None and spec.database is not None
        backup = self.rt.backup_catalog.get(backup_id)
        part = next(p for p in backup["parts"] if p["kind"] == "database")
        clock = [time.monotonic()]

        def lap() -> float:
            clock.append(time.monotonic())
            return clock[-1] - clock[-2]

        info, _ = self.rt.databases.ensure(spec)
        laps = {"database container": lap()}
        fresh = f"{info.db[:40]}_restore_{secrets.token_hex(3)}"
        try:
            with checked_read(self.rt, part) as reader:
                self.rt.databases.restore_into(service, fresh, reader.chunks())
        except MatrxError:
            raise
        except Exception as exc:
            raise corrupt(part, exc) from exc
        laps["pg_restore"] = lap()
        try:
            self._check_counts(service, fresh, part)
            laps["row counts"] = lap()
            empty = self.rt.databases.swap_database(service, fresh)
        except Exception:
            with contextlib.suppress(Exception):
                drop_database(self.rt, service, fresh)
            raise
        with contextlib.suppress(MatrxError, DockerException):
            drop_database(self.rt, service, empty)
        laps["swap"] = lap()
        self._restored(service, backup)
        took = ", ".join(f"{k} {v:.1f} s" for k, v in laps.items())
        self.ctx.log(f"restored the database of {service} from {backup_id} ({took})")

    def _check_counts(self, service: str, db: str, part: dict[str, Any]) -> None:
        want = part["detail"].get("tables", {})
        got = self.rt.databases.table_counts(service, db)
        if got != want:
            raise Conflict(
                f"The restored database of '{service}' does not match its backup's row counts "
                f"({sum(got.values())} rows restored, {sum(want.values())} at backup).",
                code="restore_check_failed",
                hint="Verify the backup (Backups page, Verify) and restore an older one.",
            )

    def restore_volume(self, target: str) -> None:
        """Create the volume under its own name and unpack its archive into it."""
        service, volume = target.split("/", 1)
        spec, backup_id = self.specs[service], self.wanted[service].volume_backups[volume]
        backup = self.rt.backup_catalog.get(backup_id)
        mount = next(v.target for v in spec.volumes if v.source == volume)
        part = next(
            p for p in backup["parts"] if p["kind"] == "volume" and p["detail"]["target"] == mount
        )
        self.rt.docker.volumes.create(volume, labels={"matrx.restored_from": backup_id})
        try:
            release = self.wanted[service].release
            image = release.image if release else spec.image  # on the host: images come first
            engine.ensure_image(self.rt.docker, image, self.rt.settings.pull_images)
            mounts = {volume: {"bind": mount, "mode": "rw"}}
            with (
                checked_read(self.rt, part) as reader,
                helper(self.rt, spec, mounts, "reconcile", image) as box,
            ):
                parent = posixpath.dirname(mount.rstrip("/")) or "/"
                if not box.put_archive(parent, archive.gunzip_chunks(reader)):  # type: ignore[arg-type]
                    raise Unavailable(f"The engine refused the archive for {volume}.")
        except Exception as exc:
            with contextlib.suppress(APIError, DockerNotFound):
                self.rt.docker.volumes.get(volume).remove(force=True)
            if isinstance(exc, MatrxError):
                raise
            raise corrupt(part, exc) from exc
        self._restored(service, backup)
        self.ctx.log(f"restored the volume {volume} from {backup_id}")

    def _restored(self, service: str, backup: dict[str, Any]) -> None:
        created = backup["created_at"]
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        self.restored.setdefault(
            service,
            {
                "restored_from": backup["id"],
                "backup_age_hours": round((datetime.now(UTC) - created).total_seconds() / 3600, 2),
            },
        )

    # --- images -----------------------------------------------------------------------------

    def _release_row(self, service: str) -> dict[str, Any]:
        release = self.wanted[service].release
        assert release is not None
        return self.rt.records.release(release.id)

    def load_image(self, service: str) -> None:
        row = self._release_row(service)
        archive.ensure_image_from_archive(self.rt.docker, self.rt.blobs, row)
        self.ctx.log(f"loaded {row['image']} from {row['archive_key']}")

    def rebuild_release(self, service: str) -> None:
        """Build the live release's commit again, under the release's own image tag."""
        spec, row = self.specs[service], self._release_row(service)
        repo = repo_for(self.rt, spec)
        repo.sync()
        lines: list[str] = []
        try:
            build_image(self.rt, self.ctx, repo, spec, row["commit_sha"], row["image"], lines)
        finally:
            for line in lines[-20:]:
                self.ctx.log(line)
        self.ctx.log(f"rebuilt {row['image']} at {row['commit_sha'][:12]}")

    # --- containers and routes ----------------------------------------------------------------

    def start(self, service: str) -> None:
        """Start the service at its live release through the health gate (its routes follow)."""
        spec, release = self.specs[service], self.wanted[service].release
        running = engine.running_names_and_labels(self.rt.docker, service)
        if running and release and running[0][1].get(engine.RELEASE) != release.id:
            with self.rt.locks.hold(service, ACTOR, "reconcile"):
                target = Target(image=release.image, release=release.id)
                outcome = self.rt.services.deploy(spec, target, None)
        else:
            outcome = self.rt.services.start(service, ACTOR)
        if not outcome.ok:
            assert outcome.health is not None
            raise engine.health_failure(service, outcome.health)
        # the service manager wrote the route file after the start or deploy went well

    def write_routes(self, service: str) -> None:
        routing.write_routes(self.rt.settings, self.specs[service])

    def cannot_restore(self, service: str) -> None:
        raise NotFound(
            self.details[("cannot_restore", service)],
            code="cannot_restore",
            hint="Build and deploy a new release of it (Releases page), then reconcile again.",
        )


def _engine_or_internal(exc: Exception) -> MatrxError:
    if isinstance(exc, DockerException):
        return engine.engine_error(exc)
    return MatrxError(f"{type(exc).__name__}: {exc}"[:500], code="reconcile_step_failed")
